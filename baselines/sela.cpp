#include "baselines/sela.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "baselines/clustering.h"
#include "swav/data/multicrop.h"
#include "swav/models/embedding_net.h"
#include "swav/models/inference.h"
#include "swav/util/error.h"

namespace swav {

namespace F = torch::nn::functional;

SelaSinkhorn sela_sinkhorn(const torch::Tensor& P, double lambda, double tolerance) {
  TORCH_CHECK(P.dim() == 2, "sela_sinkhorn: P must be [N, K]");
  torch::NoGradGuard no_grad;
  auto Q = P.to(torch::kFloat64).pow(lambda).t().contiguous();  // [K, N]
  const int64_t K = Q.size(0), N = Q.size(1);
  SelaSinkhorn out;
  out.r = torch::full({K}, 1.0 / K, Q.options());
  out.c = torch::full({N}, 1.0 / N, Q.options());
  double err = 1e6;
  for (int64_t it = 0; err > tolerance; ++it) {
    out.r = (1.0 / K) / torch::mv(Q, out.c);
    auto c_new = (1.0 / N) / torch::mv(Q.t(), out.r);
    if (it % 10 == 0) err = (out.c / c_new - 1).abs().nansum().item<double>();
    out.c = c_new;
    out.iterations = it + 1;
    TORCH_CHECK(it < 1000000, "sela_sinkhorn: no convergence after 1e6 iterations");
  }
  return out;
}

torch::Tensor sela_labels(const torch::Tensor& P, double lambda, double tolerance) {
  auto sk = sela_sinkhorn(P, lambda, tolerance);
  torch::NoGradGuard no_grad;
  // Scaled matrix diag(c) P^lambda diag(r), [N, K], on the CPU for the rounding.
  auto scaled = (P.to(torch::kFloat64).pow(lambda) * sk.r.unsqueeze(0) * sk.c.unsqueeze(1)).cpu();
  const int64_t N = scaled.size(0), K = scaled.size(1);
  const int64_t base = N / K, extra = N % K;
  auto order = std::get<0>(scaled.max(1)).argsort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
  auto ranking = scaled.argsort(/*stable=*/true, /*dim=*/1, /*descending=*/true);
  auto order_acc = order.accessor<int64_t, 1>();
  auto rank_acc = ranking.accessor<int64_t, 2>();
  std::vector<int64_t> count(K, 0);
  int64_t extras_used = 0;
  auto labels = torch::empty({N}, torch::kLong);
  auto label_acc = labels.accessor<int64_t, 1>();
  for (int64_t i = 0; i < N; ++i) {
    const int64_t n = order_acc[i];
    for (int64_t j = 0; j < K; ++j) {
      const int64_t k = rank_acc[n][j];
      if (count[k] < base || (count[k] == base && extras_used < extra)) {
        if (count[k] == base) ++extras_used;
        ++count[k];
        label_acc[n] = k;
        break;
      }
    }
  }
  return labels;
}

std::vector<int64_t> sela_label_epochs(int64_t epochs, int64_t label_steps,
                                       const std::string& schedule) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < label_steps; ++i) {
    const double t = static_cast<double>(i) / static_cast<double>(label_steps);
    const double share = schedule == "quadratic" ? t * t : t;
    const auto epoch = static_cast<int64_t>(std::floor(share * static_cast<double>(epochs)));
    if (out.empty() || out.back() != epoch) out.push_back(epoch);
  }
  return out;
}

SelaNetworkImpl::SelaNetworkImpl(const ModelOptions& options, int64_t in_channels) {
  backbone = register_module("backbone", make_backbone(options, in_channels));
  heads = register_module("heads", torch::nn::ModuleList());
  for (int64_t k : options.prototypes)
    heads->push_back(torch::nn::Linear(backbone->feature_dim(), k));
}

std::vector<torch::Tensor> SelaNetworkImpl::forward(const torch::Tensor& x) {
  auto features = backbone->forward(x);
  std::vector<torch::Tensor> logits;
  for (const auto& head : *heads)
    logits.push_back(head->as<torch::nn::Linear>()->forward(features));
  return logits;
}

SelaMethod::SelaMethod(const MethodSetup& setup, const SelaOptions& options)
    : setup_(setup), options_(options), network_(setup.model, setup.in_channels) {
  const int64_t dataset_size = setup.dataset_size;
  require_clusters_fit(setup.model.prototypes, dataset_size, "model.prototypes");
  const auto heads = static_cast<int64_t>(setup.model.prototypes.size());
  labels_ = torch::empty({heads, dataset_size}, torch::kLong);
  // A random equipartition per head: label = position in a seeded permutation, modulo K.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(setup.seed));
  for (int64_t h = 0; h < heads; ++h) {
    const int64_t K = setup.model.prototypes[h];
    auto perm = torch::randperm(dataset_size, gen, torch::TensorOptions().dtype(torch::kLong));
    labels_[h].index_put_({perm}, torch::arange(dataset_size, torch::kLong).remainder(K));
  }
}

void SelaMethod::relabel(const ImageSet& train, torch::Device device, Collective& collective) {
  const auto heads = static_cast<int64_t>(setup_.model.prototypes.size());
  // Each process scores its block of the set; the label step needs every sample's scores.
  const RowBlock mine = split_rows(train.size(), collective.rank(), collective.world_size());
  std::vector<std::vector<torch::Tensor>> probs(heads);
  for_each_batch(*network_, mine.rows, setup_.pass_batch_size, [&](int64_t begin, int64_t rows) {
    auto x = normalize_images(image_rows(train, mine.begin + begin, rows), setup_.augment.mean,
                              setup_.augment.std)
                 .to(device);
    auto logits = network_->forward(x);
    for (int64_t h = 0; h < heads; ++h)
      probs[h].push_back(torch::softmax(logits[h].to(torch::kFloat64), 1));
  });
  torch::NoGradGuard no_grad;
  for (int64_t h = 0; h < heads; ++h) {
    auto local = probs[h].empty()
                     ? torch::empty({0, setup_.model.prototypes[h]},
                                    torch::TensorOptions().dtype(torch::kFloat64).device(device))
                     : torch::cat(probs[h]);
    auto all = gather_rows(local, train.size(), collective);
    labels_[h].copy_(sela_labels(all, options_.lambda, options_.sinkhorn_tolerance));
  }
}

void SelaMethod::on_epoch_start(StepContext& ctx) {
  used_ = torch::zeros({setup_.model.prototypes[0]},
                       torch::TensorOptions().dtype(torch::kBool).device(ctx.device));
  const auto epochs = sela_label_epochs(setup_.epochs, options_.label_steps, options_.schedule);
  if (!std::binary_search(epochs.begin(), epochs.end(), ctx.epoch)) return;
  if (ctx.train_set == nullptr) fail("method 'sela': no training set to label");
  relabel(*ctx.train_set, ctx.device, *ctx.collective);
}

StepOutput SelaMethod::step(const Batch& batch, StepContext& ctx) {
  auto crops = device_views(batch.views, ctx);
  const auto n_crops = static_cast<int64_t>(crops.size());
  auto indices = batch.indices.to(torch::kLong);
  // Crops of one size go through the network together.
  std::vector<std::vector<torch::Tensor>> logits(network_->heads->size());
  for (const auto& x : cat_equal_resolutions(crops)) {
    auto out = network_->forward(x);
    for (size_t h = 0; h < out.size(); ++h) logits[h].push_back(out[h]);
  }
  torch::Tensor loss;
  for (size_t h = 0; h < logits.size(); ++h) {
    auto all = torch::cat(logits[h]);
    auto targets = labels_[h].index_select(0, indices).to(ctx.device).repeat({n_crops});
    auto l = F::cross_entropy(all, targets);
    loss = loss.defined() ? loss + l : l;
    if (h == 0 && used_.defined()) used_.index_fill_(0, all.detach().argmax(1), true);
  }
  return {loss / static_cast<double>(logits.size()), {}};
}

Scalars SelaMethod::on_epoch_end(StepContext& ctx) {
  if (!used_.defined()) return {};
  auto used = used_.to(torch::kLong);  // used by any process
  ctx.collective->all_reduce_sum(used);
  return {{"prototype_usage", used.gt(0).to(torch::kFloat64).mean().item<double>()}};
}

torch::Tensor SelaMethod::assign(const torch::Tensor& images) {
  return network_->forward(images).at(0).argmax(1);
}

void SelaMethod::save_state(torch::serialize::OutputArchive& archive) const {
  archive.write("sela/labels", labels_);
}

void SelaMethod::load_state(torch::serialize::InputArchive& archive) {
  torch::Tensor labels;
  archive.read("sela/labels", labels);
  labels_ = labels.cpu();
}

}  // namespace swav
