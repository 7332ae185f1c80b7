#include "baselines/deepcluster_v2.h"

#include "baselines/clustering.h"
#include "swav/core/kmeans.h"
#include "swav/util/error.h"

namespace swav {

namespace F = torch::nn::functional;

namespace {

constexpr int64_t kIgnore = -100;  // target of a sample with no cluster yet

}  // namespace

DeepClusterV2Method::DeepClusterV2Method(const MethodSetup& setup,
                                         const DeepClusterOptions& options)
    : DeepClusterV2Method(setup,
                          {options.crops_for_assign, options.temperature, "deepcluster_v2"}) {
  kmeans_iterations_ = options.kmeans_iterations;
}

DeepClusterV2Method::DeepClusterV2Method(const MethodSetup& setup, BankOptions bank_options)
    : setup_(setup),
      bank_options_(std::move(bank_options)),
      network_(setup.model, setup.in_channels) {
  require_clusters_fit(setup.model.prototypes, setup.dataset_size, "model.prototypes");
  const auto heads = static_cast<int64_t>(setup.model.prototypes.size());
  assignments_ = torch::full({heads, setup.dataset_size}, kIgnore, torch::kLong);
}

std::vector<torch::Tensor> DeepClusterV2Method::parameters() {
  std::vector<torch::Tensor> params;
  for (auto& p : network_->backbone->parameters()) params.push_back(p);
  for (auto& p : network_->head->parameters()) params.push_back(p);
  return params;
}

void DeepClusterV2Method::on_train_start(const ImageSet& train, StepContext& ctx) {
  torch::NoGradGuard no_grad;
  auto& collective = *ctx.collective;
  const int64_t world = collective.world_size(), rank = collective.rank();
  const auto& assign = bank_options_.crops_for_assign;
  const int64_t N = train.size();
  const RowBlock mine = split_rows(N, rank, world);
  bank_ = torch::zeros({static_cast<int64_t>(assign.size()), mine.rows, setup_.model.output_dim},
                       torch::TensorOptions().device(ctx.device));
  // The reference fills the bank from one augmented pass (training mode, no grad); the views here
  // are those MultiCrop makes for "epoch -1", so they differ from every training epoch's. The
  // pass goes through the set in global batches, each split across the processes (so synchronised
  // batch norm sees what one process with the global batch would); a last batch with fewer rows
  // than processes joins the one before it, so that no process has an empty batch.
  MultiCrop crops(setup_.augment, static_cast<uint64_t>(setup_.seed));
  const int64_t G = setup_.batch_size * world;
  for (int64_t begin = 0; begin < N;) {
    int64_t rows = std::min(G, N - begin);
    if (N - begin - rows > 0 && N - begin - rows < world) rows = N - begin;
    const RowBlock part = split_rows(rows, rank, world);
    std::vector<int64_t> indices(static_cast<size_t>(part.rows));
    for (int64_t i = 0; i < part.rows; ++i) indices[static_cast<size_t>(i)] = begin + part.begin + i;
    auto views = crops.make_views(train, indices, /*epoch=*/-1);
    std::vector<torch::Tensor> chosen;
    for (int64_t c : assign) chosen.push_back(device_view(views[c], ctx));
    auto z = network_->forward(chosen).first;
    store_in_bank(torch::tensor(indices, torch::kLong), z, part.rows, collective);
    begin += rows;
  }
}

void DeepClusterV2Method::store_in_bank(const torch::Tensor& indices, const torch::Tensor& z,
                                        int64_t rows, Collective& collective) {
  const auto n_assign = static_cast<int64_t>(bank_options_.crops_for_assign.size());
  // [rows, n_assign, D]: every assigned crop's embedding of each sample, one row per sample.
  auto local = z.reshape({n_assign, rows, z.size(1)}).transpose(0, 1);
  auto idx = indices.to(torch::kLong).cpu();
  if (collective.world_size() > 1) {
    // Every process's rows, so that each finds those of the samples its bank block holds.
    auto counts = collective.all_gather_cat(torch::tensor({rows}, torch::kLong));
    std::vector<int64_t> per_rank(counts.data_ptr<int64_t>(),
                                  counts.data_ptr<int64_t>() + counts.numel());
    local = gather_blocks(local.contiguous(), per_rank, collective);
    idx = gather_blocks(idx, per_rank, collective);
  }
  const RowBlock mine =
      split_rows(setup_.dataset_size, collective.rank(), collective.world_size());
  auto held = idx.ge(mine.begin).logical_and(idx.lt(mine.begin + mine.rows));
  auto which = torch::nonzero(held).flatten();
  if (which.numel() == 0) return;
  auto slots = (idx.index_select(0, which) - mine.begin).to(bank_.device());
  auto values = local.index_select(0, which.to(local.device())).transpose(0, 1);
  for (int64_t j = 0; j < n_assign; ++j) bank_[j].index_copy_(0, slots, values[j]);
}

torch::Tensor DeepClusterV2Method::assign(const torch::Tensor& images) {
  return network_->forward({images}).second.at(0).argmax(1);
}

void DeepClusterV2Method::cluster(StepContext& ctx) {
  torch::NoGradGuard no_grad;
  const int64_t n_assign = bank_.size(0);
  for (int64_t h = 0; h < network_->prototypes->num_heads(); ++h) {
    auto& weight = network_->prototypes->weight(h);
    const auto o = epoch_kmeans(weight.size(0), kmeans_iterations_, KMeansMetric::kCosine,
                                KMeansEmpty::kKeep, setup_.seed, ctx.epoch, h);
    auto result = kmeans(bank_[h % n_assign], o, *ctx.collective);
    weight.copy_(result.centroids);
    assignments_[h].copy_(
        gather_rows(result.assignments.cpu(), setup_.dataset_size, *ctx.collective));
  }
}

void DeepClusterV2Method::on_epoch_start(StepContext& ctx) {
  if (!bank_.defined()) {
    if (ctx.train_set == nullptr) fail("method '{}': no training set to fill the bank", name());
    on_train_start(*ctx.train_set, ctx);
  }
  cluster(ctx);
  used_prototypes_ = torch::zeros({network_->prototypes->weight(0).size(0)},
                                  torch::TensorOptions().dtype(torch::kBool).device(ctx.device));
}

StepOutput DeepClusterV2Method::step(const Batch& batch, StepContext& ctx) {
  auto crops = device_views(batch.views, ctx);
  const int64_t B = crops[0].size(0);
  const auto n_crops = static_cast<int64_t>(crops.size());
  auto [z, scores] = network_->forward(crops);
  auto indices = batch.indices.to(torch::kLong);
  torch::Tensor loss;
  for (int64_t h = 0; h < network_->prototypes->num_heads(); ++h) {
    auto targets = assignments_[h].index_select(0, indices).to(ctx.device).repeat({n_crops});
    auto head_loss = F::cross_entropy(scores[h] / bank_options_.temperature, targets,
                                      F::CrossEntropyFuncOptions().ignore_index(kIgnore));
    loss = loss.defined() ? loss + head_loss : head_loss;
  }
  loss = loss / static_cast<double>(network_->prototypes->num_heads());

  torch::NoGradGuard no_grad;
  const auto& assign = bank_options_.crops_for_assign;
  std::vector<torch::Tensor> assigned;
  for (int64_t c : assign) {
    assigned.push_back(z.narrow(0, c * B, B).detach());
    used_prototypes_.index_fill_(0, scores[0].narrow(0, c * B, B).argmax(1), true);
  }
  store_in_bank(indices, torch::cat(assigned), B, *ctx.collective);
  return {loss, {}};
}

Scalars DeepClusterV2Method::on_epoch_end(StepContext& ctx) {
  if (!used_prototypes_.defined()) return {};
  const int64_t K = network_->prototypes->weight(0).size(0);
  auto counts = torch::bincount(assignments_[0].clamp_min(0), {}, K);
  auto used = used_prototypes_.to(torch::kLong);  // used by any process
  ctx.collective->all_reduce_sum(used);
  return {{"prototype_usage", used.gt(0).to(torch::kFloat64).mean().item<double>()},
          {"cluster_usage", counts.gt(0).to(torch::kFloat64).mean().item<double>()}};
}

void DeepClusterV2Method::save_state(torch::serialize::OutputArchive& archive) const {
  const std::string& key = bank_options_.name;
  archive.write(key + "/bank", bank_.defined() ? bank_ : torch::empty({0}));
  archive.write(key + "/assignments", assignments_);
}

void DeepClusterV2Method::load_state(torch::serialize::InputArchive& archive) {
  const std::string& key = bank_options_.name;
  torch::Tensor bank, assignments;
  archive.read(key + "/bank", bank);
  archive.read(key + "/assignments", assignments);
  bank_ = bank.numel() > 0 ? bank.to(network_->prototypes->weight(0).device()) : torch::Tensor();
  assignments_ = assignments.cpu();
}

}  // namespace swav
