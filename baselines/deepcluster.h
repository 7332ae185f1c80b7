// DeepCluster (v1): alternate between clustering the features of the whole training set and
// training the network to predict the cluster ids.
//
//  - Network: backbone -> classifier Linear(feature_dim -> K), K = model.prototypes[0] (the
//    reference: 10000 on ImageNet). model.hidden_dim and model.output_dim are not used.
//  - Epoch start: backbone features of every training image (eval mode, whole image, no grad),
//    PCA-whitened to deepcluster_v1.pca_dim dimensions, L2-normalised; Euclidean k-means with K
//    clusters (deepcluster_v1.kmeans_iterations Lloyd iterations, init from K random rows, an
//    empty cluster moved onto a far point; a new seed every epoch). The cluster ids become the
//    targets, and the classifier is re-created: weights N(0, 0.01), bias 0.
//  - Samples: the epoch draws N samples uniformly over the non-empty clusters: floor(N / K') + 1
//    from each of the K' non-empty ones (with replacement when a cluster is not larger than that),
//    shuffled, the first N kept (deepcluster_samples).
//  - Loss: cross-entropy of the classifier's logits against the sample's cluster id, for every
//    crop (multi-crop: each crop is trained on its image's id), mean over crops.
//  - Optimisers: the backbone uses the run's optimiser (the reference: SGD lr 0.05, momentum 0.9,
//    wd 1e-5, constant lr); the classifier takes its own plain SGD step with the same lr and weight
//    decay and no momentum, as the reference's per-epoch classifier optimiser does.
// Differences from the reference: features come from the backbone's pooled output (the reference's
// AlexNet/VGG use the classifier MLP before the last layer); a sample drawn twice in one epoch gets
// the same augmented views (views are keyed by sample and epoch).
#pragma once
#include <vector>

#include "swav/models/backbone.h"
#include "swav/train/method.h"

namespace swav {

/// N sample indices drawn uniformly over the non-empty clusters of `assignments` (int64 [N], ids
/// in [0, k)), as DeepCluster's sampler: from each of the K' non-empty clusters floor(N / K') + 1
/// members (without replacement when the cluster has more, else with), all shuffled, the first N
/// kept. Deterministic in (seed, epoch).
std::vector<int64_t> deepcluster_samples(const torch::Tensor& assignments, int64_t k, uint64_t seed,
                                         int64_t epoch);

class DeepClusterNetworkImpl : public torch::nn::Module {
 public:
  DeepClusterNetworkImpl(const ModelOptions& options, int64_t in_channels);
  torch::Tensor forward(const torch::Tensor& x);  // logits [B, K]

  std::shared_ptr<BackboneImpl> backbone;
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(DeepClusterNetwork);

class DeepClusterMethod : public Method {
 public:
  DeepClusterMethod(const MethodSetup& setup, const DeepClusterV1Options& options);

  std::string name() const override { return "deepcluster_v1"; }
  torch::nn::Module& module() override { return *network_; }
  std::shared_ptr<BackboneImpl> encoder() override { return network_->backbone; }
  /// The backbone's, on the run's [optim] settings.
  std::vector<torch::Tensor> parameters() override;
  /// The backbone, and the classifier in a group of its own: plain SGD without momentum or LARC,
  /// weight decay optim.weight_decay, the run's learning rate (the reference builds a fresh
  /// momentum-free SGD for its new top layer every epoch).
  std::vector<ParamGroup> parameter_groups() override;

  /// Clusters the training set and re-creates the classifier.
  void on_epoch_start(StepContext& ctx) override;
  std::vector<int64_t> epoch_samples(const StepContext& ctx) override;
  StepOutput step(const Batch& batch, StepContext& ctx) override;
  /// "prototype_usage": share of the classifier's outputs that were the argmax of at least one
  /// crop this epoch; "cluster_usage": share of non-empty clusters; "kmeans_objective".
  Scalars on_epoch_end(StepContext& ctx) override;

  torch::Tensor assign(const torch::Tensor& images) override;
  int64_t num_clusters() const override { return setup_.model.prototypes[0]; }

  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

  const torch::Tensor& assignments() const { return assignments_; }  // int64 [N]
  /// Features -> PCA whitening -> L2 -> k-means on `train`, then a new classifier (what
  /// on_epoch_start runs). Several processes: each extracts its block of the set (split_rows);
  /// PCA and k-means run over the blocks together and the cluster ids are gathered.
  void recluster(const ImageSet& train, torch::Device device, int64_t epoch,
                 Collective& collective = single_process());
  DeepClusterNetwork& network() { return network_; }

 private:
  MethodSetup setup_;
  DeepClusterV1Options options_;
  DeepClusterNetwork network_{nullptr};
  torch::Tensor assignments_;  // int64 [N], -1 before the first clustering
  torch::Tensor used_;         // bool [K], reset every epoch
  double objective_ = 0;
};

}  // namespace swav
