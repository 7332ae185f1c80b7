#include "baselines/deepcluster.h"

#include <numeric>

#include "baselines/clustering.h"
#include "swav/core/kmeans.h"
#include "swav/core/pca.h"
#include "swav/data/multicrop.h"
#include "swav/data/rng.h"
#include "swav/models/inference.h"
#include "swav/util/error.h"

namespace swav {

namespace F = torch::nn::functional;

std::vector<int64_t> deepcluster_samples(const torch::Tensor& assignments, int64_t k, uint64_t seed,
                                         int64_t epoch) {
  const auto ids = assignments.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t N = ids.numel();
  const int64_t* id = ids.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> members(k);
  for (int64_t n = 0; n < N; ++n) {
    TORCH_CHECK(id[n] >= 0 && id[n] < k, "deepcluster_samples: cluster id ", id[n], " outside [0, ",
                k, ")");
    members[id[n]].push_back(n);
  }
  int64_t non_empty = 0;
  for (const auto& m : members) non_empty += m.empty() ? 0 : 1;
  if (non_empty == 0) return {};
  const int64_t per_cluster = N / non_empty + 1;
  data::Rng rng(
      {static_cast<uint64_t>(data::Stream::kClusterSampling), seed, static_cast<uint64_t>(epoch)});
  std::vector<int64_t> out;
  out.reserve(non_empty * per_cluster);
  for (auto& m : members) {
    if (m.empty()) continue;
    const auto size = static_cast<int64_t>(m.size());
    if (size > per_cluster) {
      // Without replacement: the first per_cluster entries of a partial Fisher-Yates shuffle.
      for (int64_t i = 0; i < per_cluster; ++i) {
        std::swap(m[i], m[i + static_cast<int64_t>(rng.below(static_cast<uint64_t>(size - i)))]);
        out.push_back(m[i]);
      }
    } else {
      for (int64_t i = 0; i < per_cluster; ++i)
        out.push_back(m[rng.below(static_cast<uint64_t>(size))]);
    }
  }
  for (int64_t i = static_cast<int64_t>(out.size()) - 1; i > 0; --i)
    std::swap(out[i], out[rng.below(static_cast<uint64_t>(i + 1))]);
  out.resize(N);
  return out;
}

DeepClusterNetworkImpl::DeepClusterNetworkImpl(const ModelOptions& options, int64_t in_channels) {
  backbone = register_module("backbone", make_backbone(options, in_channels));
  classifier = register_module("classifier",
                               torch::nn::Linear(backbone->feature_dim(), options.prototypes[0]));
}

torch::Tensor DeepClusterNetworkImpl::forward(const torch::Tensor& x) {
  return classifier->forward(backbone->forward(x));
}

DeepClusterMethod::DeepClusterMethod(const MethodSetup& setup, const DeepClusterV1Options& options)
    : setup_(setup), options_(options), network_(setup.model, setup.in_channels) {
  require_clusters_fit({setup.model.prototypes.at(0)}, setup.dataset_size, "model.prototypes");
  assignments_ = torch::full({setup.dataset_size}, -1, torch::kLong);
}

std::vector<torch::Tensor> DeepClusterMethod::parameters() {
  return network_->backbone->parameters();
}

std::vector<ParamGroup> DeepClusterMethod::parameter_groups() {
  ParamGroup classifier(network_->classifier->parameters());
  classifier.momentum = 0.0;
  classifier.larc = false;
  return {ParamGroup(parameters()), std::move(classifier)};
}

void DeepClusterMethod::recluster(const ImageSet& train, torch::Device device, int64_t epoch,
                                  Collective& collective) {
  torch::NoGradGuard no_grad;
  // The evaluation's feature pass (eval mode, whole images) over this process's block of the set;
  // PCA and k-means on the run's device, over every process's block together.
  const RowBlock mine = split_rows(train.size(), collective.rank(), collective.world_size());
  auto& backbone = *network_->backbone;
  auto features = batched_forward(
      backbone, train, setup_.pass_batch_size,
      [&](const torch::Tensor& images) {
        return backbone.forward(
            normalize_images(images, setup_.augment.mean, setup_.augment.std).to(device));
      },
      mine.begin, mine.rows);
  features = fit_pca_whitening(features, options_.pca_dim, 1e-8, collective).apply(features);
  features = F::normalize(features, F::NormalizeFuncOptions().dim(1).p(2));

  const auto o = epoch_kmeans(num_clusters(), options_.kmeans_iterations, KMeansMetric::kEuclidean,
                              KMeansEmpty::kFarthest, setup_.seed, epoch, 0);
  const auto result = kmeans(features, o, collective);
  assignments_ = gather_rows(result.assignments.to(torch::kCPU), train.size(), collective);
  objective_ = result.objective.back();

  // A new classifier every epoch: N(0, 0.01) weights, zero bias, drawn from (seed, epoch).
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  auto& w = network_->classifier->weight;
  w.copy_(torch::randn(w.sizes(), gen, torch::TensorOptions().dtype(torch::kFloat32)) * 0.01);
  network_->classifier->bias.zero_();
}

void DeepClusterMethod::on_epoch_start(StepContext& ctx) {
  if (ctx.train_set == nullptr) fail("method 'deepcluster_v1': no training set to cluster");
  used_ =
      torch::zeros({num_clusters()}, torch::TensorOptions().dtype(torch::kBool).device(ctx.device));
  recluster(*ctx.train_set, ctx.device, ctx.epoch, *ctx.collective);
}

std::vector<int64_t> DeepClusterMethod::epoch_samples(const StepContext& ctx) {
  return deepcluster_samples(assignments_, num_clusters(), static_cast<uint64_t>(setup_.seed),
                             ctx.epoch);
}

StepOutput DeepClusterMethod::step(const Batch& batch, StepContext& ctx) {
  auto crops = device_views(batch.views, ctx);
  const auto n_crops = static_cast<int64_t>(crops.size());
  // Crops of one size go through the network together.
  std::vector<torch::Tensor> logits;
  for (const auto& x : cat_equal_resolutions(crops)) logits.push_back(network_->forward(x));
  auto all = torch::cat(logits);
  auto targets =
      assignments_.index_select(0, batch.indices.to(torch::kLong)).to(ctx.device).repeat({n_crops});
  if (used_.defined()) used_.index_fill_(0, all.detach().argmax(1), true);
  return {F::cross_entropy(all, targets), {}};
}

Scalars DeepClusterMethod::on_epoch_end(StepContext& ctx) {
  Scalars out;
  if (used_.defined()) {
    auto used = used_.to(torch::kLong);  // used by any process
    ctx.collective->all_reduce_sum(used);
    out.push_back({"prototype_usage", used.gt(0).to(torch::kFloat64).mean().item<double>()});
  }
  const auto counts = torch::bincount(assignments_.clamp_min(0), {}, num_clusters());
  out.push_back({"cluster_usage", counts.gt(0).to(torch::kFloat64).mean().item<double>()});
  out.push_back({"kmeans_objective", objective_});
  return out;
}

torch::Tensor DeepClusterMethod::assign(const torch::Tensor& images) {
  return network_->forward(images).argmax(1);
}

void DeepClusterMethod::save_state(torch::serialize::OutputArchive& archive) const {
  archive.write("deepcluster_v1/assignments", assignments_);
}

void DeepClusterMethod::load_state(torch::serialize::InputArchive& archive) {
  torch::Tensor a;
  archive.read("deepcluster_v1/assignments", a);
  assignments_ = a.cpu();
}

}  // namespace swav
