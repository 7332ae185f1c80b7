#include "baselines/pcl.h"

#include <cmath>

#include "baselines/clustering.h"
#include "swav/core/kmeans.h"
#include "swav/core/losses.h"
#include "swav/util/error.h"

namespace swav {

namespace F = torch::nn::functional;

torch::Tensor pcl_concentration(const torch::Tensor& distances, const torch::Tensor& assignments,
                                int64_t k, double temperature) {
  TORCH_CHECK(distances.dim() == 1 && distances.sizes() == assignments.sizes(),
              "pcl_concentration: distances and assignments must be [N]");
  auto d = distances.to(torch::kCPU, torch::kFloat64);
  auto a = assignments.to(torch::kCPU, torch::kLong);
  auto counts = torch::bincount(a, {}, k).to(torch::kFloat64);
  auto sums = torch::zeros({k}, torch::kFloat64).index_add_(0, a, d);
  auto several = counts.gt(1);
  auto phi = sums / counts.clamp_min(1) / torch::log(counts + 10);
  // Clusters with at most one member have no spread to measure: they get the largest phi.
  const double largest =
      several.any().item<bool>() ? phi.masked_select(several).max().item<double>() : 1.0;
  phi = torch::where(several, phi, torch::full_like(phi, largest));
  phi =
      phi.clamp(torch::quantile(phi, 0.1).item<double>(), torch::quantile(phi, 0.9).item<double>());
  return temperature * phi / phi.mean();
}

PclNetworkImpl::PclNetworkImpl(const ModelOptions& options, int64_t in_channels) {
  query = register_module("query", EmbeddingNet(options, in_channels));
  key = register_module("key", EmbeddingNet(options, in_channels));
  for (auto& k : key->parameters()) k.set_requires_grad(false);
  copy_query_to_key();
}

void PclNetworkImpl::copy_query_to_key() {
  torch::NoGradGuard no_grad;
  auto q = query->parameters(), k = key->parameters();
  for (size_t i = 0; i < q.size(); ++i) k[i].copy_(q[i]);
  auto qb = query->buffers(), kb = key->buffers();
  for (size_t i = 0; i < qb.size(); ++i) kb[i].copy_(qb[i]);
}

PclMethod::PclMethod(const MethodSetup& setup, const PclOptions& options)
    : setup_(setup), options_(options), network_(setup.model, setup.in_channels) {
  const auto& p = options;
  require_clusters_fit(p.clusters, setup.dataset_size, "pcl.clusters");
  // The queue takes the keys of the whole global batch at every step.
  const int64_t B = setup.batch_size * setup.world_size;
  const int64_t length = p.queue_length - p.queue_length % B;
  if (length == 0) {
    fail("pcl.queue_length: {} holds no whole global batch of train.batch_size = {} x {} "
         "processes",
         p.queue_length, setup.batch_size, setup.world_size);
  }
  queue_ = F::normalize(torch::randn({length, setup.model.output_dim}),
                        F::NormalizeFuncOptions().dim(1));
}

void PclMethod::momentum_update() {
  torch::NoGradGuard no_grad;
  const double m = options_.momentum;
  auto q = network_->query->parameters(), k = network_->key->parameters();
  for (size_t i = 0; i < q.size(); ++i) k[i].mul_(m).add_(q[i].detach(), 1 - m);
}

void PclMethod::on_epoch_start(StepContext& ctx) {
  auto& collective = *ctx.collective;
  if (queue_.device() != ctx.device) queue_ = queue_.to(ctx.device);
  centroids_.clear();
  concentration_.clear();
  sample_clusters_.clear();
  const auto& p = options_;
  if (ctx.epoch < p.warmup_epochs) return;
  if (ctx.train_set == nullptr) fail("method 'pcl': no training set to cluster");
  // Key features of this process's block of the set; k-means over every block together.
  const int64_t N = ctx.train_set->size();
  const RowBlock mine = split_rows(N, collective.rank(), collective.world_size());
  auto features = embed_dataset(*network_->key, ctx.train_set->images.narrow(0, mine.begin, mine.rows),
                                setup_.augment.mean, setup_.augment.std, ctx.device,
                                setup_.pass_batch_size);
  for (size_t g = 0; g < p.clusters.size(); ++g) {
    auto o = epoch_kmeans(p.clusters[g], p.kmeans_iterations, KMeansMetric::kEuclidean,
                          KMeansEmpty::kFarthest, setup_.seed, ctx.epoch, static_cast<int64_t>(g));
    o.restarts = p.kmeans_restarts;
    auto result = kmeans(features, o, collective);
    auto assignments = gather_rows(result.assignments.cpu(), N, collective);
    auto distances = gather_rows(result.distances.cpu(), N, collective);
    auto phi = pcl_concentration(distances.clamp_min(0).sqrt(), assignments, p.clusters[g],
                                 p.temperature);
    centroids_.push_back(F::normalize(result.centroids, F::NormalizeFuncOptions().dim(1)));
    concentration_.push_back(phi.to(ctx.device, torch::kFloat32));
    sample_clusters_.push_back(assignments);
  }
}

StepOutput PclMethod::step(const Batch& batch, StepContext& ctx) {
  const auto& p = options_;
  if (queue_.device() != ctx.device) queue_ = queue_.to(ctx.device);
  momentum_update();
  auto crops = device_views(batch.views, ctx);
  const int64_t B = crops[0].size(0);
  std::vector<torch::Tensor> query_crops;
  for (size_t c = 0; c < crops.size(); ++c)
    if (c != 1) query_crops.push_back(crops[c]);
  auto q = network_->query->forward(query_crops).split(B);
  torch::Tensor k;
  {
    torch::NoGradGuard no_grad;
    k = network_->key->forward({crops[1]});
  }
  const auto n_queries = static_cast<double>(q.size());

  auto zero = torch::zeros({B}, torch::TensorOptions().dtype(torch::kLong).device(ctx.device));
  // A copy: the queue is rewritten in place below, before backward needs these negatives.
  const auto negatives = queue_.clone();
  torch::Tensor info_nce;
  for (const auto& qv : q) {
    auto logits = torch::cat({(qv * k).sum(1, /*keepdim=*/true), torch::mm(qv, negatives.t())}, 1);
    auto l = F::cross_entropy(logits / p.temperature, zero);
    info_nce = info_nce.defined() ? info_nce + l : l;
  }
  info_nce = info_nce / n_queries;
  torch::Tensor loss = info_nce;
  std::vector<std::pair<std::string, torch::Tensor>> logs = {{"info_nce", info_nce.detach()}};

  auto& collective = *ctx.collective;
  if (!centroids_.empty()) {
    // The whole global batch's samples: their clusters are the positives of its queries and the
    // in-batch negatives of the others, and no sampled negative may be one of them. The same on
    // every process, so the sampled negatives are too (the random state is the same everywhere).
    auto indices = collective.all_gather_cat(batch.indices.to(torch::kLong).cpu());
    const int64_t first = collective.rank() * B;
    torch::Tensor proto;
    for (size_t g = 0; g < centroids_.size(); ++g) {
      const int64_t K = centroids_[g].size(0);
      auto positives = sample_clusters_[g].index_select(0, indices);
      // Negatives: r clusters drawn without replacement from those no query has as positive.
      auto free = torch::ones({K}, torch::kBool);
      free.index_fill_(0, positives, false);
      auto candidates = torch::nonzero(free).flatten();
      const int64_t r = std::min(p.negative_prototypes, candidates.size(0));
      auto sampled =
          candidates.index_select(0, torch::randperm(candidates.size(0)).narrow(0, 0, r));
      auto pos_dev = positives.to(ctx.device), neg_dev = sampled.to(ctx.device);
      for (const auto& qv : q) {
        auto l = proto_nce(qv, centroids_[g], concentration_[g], pos_dev, neg_dev, first);
        proto = proto.defined() ? proto + l : l;
      }
    }
    proto = proto / (n_queries * static_cast<double>(centroids_.size()));
    loss = loss + proto;
    logs.emplace_back("proto_nce", proto.detach());
  }

  torch::NoGradGuard no_grad;
  // Every process's keys join the queue, which stays the same on every process.
  const auto keys = collective.all_gather_cat(k);
  const int64_t length = queue_.size(0), G = keys.size(0);
  queue_.narrow(0, queue_position_, G).copy_(keys);
  queue_position_ = (queue_position_ + G) % length;
  return {loss, logs};
}

Scalars PclMethod::on_epoch_end(StepContext& ctx) {
  if (sample_clusters_.empty()) return {};
  const int64_t K = centroids_[0].size(0);
  auto counts = torch::bincount(sample_clusters_[0], {}, K);
  return {{"prototype_usage", counts.gt(0).to(torch::kFloat64).mean().item<double>()}};
}

torch::Tensor PclMethod::assign(const torch::Tensor& images) {
  const auto q = network_->query->forward({images});
  return q.matmul(centroids_.at(0).to(q.device(), q.scalar_type()).t()).argmax(1);
}

void PclMethod::save_state(torch::serialize::OutputArchive& archive) const {
  // Clusters are not saved: every epoch start recomputes them, deterministically, from the saved
  // key network.
  archive.write("pcl/queue", queue_);
  archive.write("pcl/queue_position", torch::tensor(queue_position_));
}

void PclMethod::load_state(torch::serialize::InputArchive& archive) {
  torch::Tensor queue, position;
  archive.read("pcl/queue", queue);
  archive.read("pcl/queue_position", position);
  queue_ = queue;
  queue_position_ = position.item<int64_t>();
}

}  // namespace swav
