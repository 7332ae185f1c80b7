// PCL (prototypical contrastive learning): MoCo plus ProtoNCE against per-epoch k-means clusters.
//
//  - Query network: backbone -> projection head -> L2 normalise (model.hidden_dim = 0 gives PCL
//    v1's linear head, > 0 the v2 MLP). Key network: a copy, updated only as an EMA of the query
//    network (pcl.momentum = 0.999) at the start of every step, before the keys are computed.
//  - Queue of pcl.queue_length past keys (random unit vectors at first; length rounded down to
//    whole batches), FIFO: the batch's keys replace the oldest ones after each step.
//  - InfoNCE: logits [q.k, q.queue] / pcl.temperature (0.2), positive at 0.
//  - From epoch pcl.warmup_epochs (20) on, at every epoch start: key-network features of the whole
//    training set (eval mode, whole image, L2-normalised), then for each granularity in
//    pcl.clusters Euclidean k-means (pcl.kmeans_iterations = 20, best of pcl.kmeans_restarts = 5
//    seeded runs, as the reference's faiss settings), the concentration of every cluster
//    (pcl_concentration) and L2-normalised centroids.
//  - ProtoNCE per granularity (proto_nce): the query's own centroid is the positive; the batch's
//    other positives and pcl.negative_prototypes (r) centroids sampled without replacement from
//    the clusters that are no query's positive are the negatives; logits q.c / phi_c. Loss =
//    InfoNCE + mean over granularities of ProtoNCE.
// Multi-crop: the key comes from crop 1; crop 0 and every further crop (small crops included) is a
// query with its own InfoNCE and ProtoNCE terms, averaged over queries. With 2 crops this is PCL.
// Several processes: each takes the key features of its block of the set (split_rows) and k-means
// runs over the blocks together; cluster ids and distances are gathered by sample. Every
// process's keys join the queue (as MoCo's), and ProtoNCE's positives, in-batch negatives and
// excluded clusters are those of the whole global batch, so the loss is the one process's on the
// global batch. The queue length is rounded down to whole global batches.
// Differences from the reference: no shuffled BN (the key network's batch norm is synchronised
// over the processes like every other one, or per process with train.sync_bn = false); faiss's
// empty-cluster splitting is replaced by moving an empty centroid onto the farthest point; the
// reference samples ProtoNCE's negatives per process, from the clusters its own queries leave.
#pragma once
#include <vector>

#include "swav/models/embedding_net.h"
#include "swav/train/method.h"

namespace swav {

/// PCL's concentration estimate for k clusters.
///
/// distances [N]: Euclidean (not squared) distance of each point to its centroid; assignments
/// int64 [N]. For a cluster with n > 1 members, phi = mean(distance) / log(n + 10); clusters with
/// n <= 1 get the largest such phi. Then phi is clipped to its [10th, 90th] percentile (linear
/// interpolation, as numpy) and rescaled so that mean(phi) = temperature. Returns float64 [k] on
/// the CPU.
torch::Tensor pcl_concentration(const torch::Tensor& distances, const torch::Tensor& assignments,
                                int64_t k, double temperature);

class PclNetworkImpl : public torch::nn::Module {
 public:
  PclNetworkImpl(const ModelOptions& options, int64_t in_channels);
  /// The key network becomes a copy of the query network (at construction, and after
  /// model.init loaded the query's backbone).
  void copy_query_to_key();
  EmbeddingNet query{nullptr};
  EmbeddingNet key{nullptr};
};
TORCH_MODULE(PclNetwork);

class PclMethod : public Method {
 public:
  PclMethod(const MethodSetup& setup, const PclOptions& options);

  std::string name() const override { return "pcl"; }
  void on_encoder_loaded() override { network_->copy_query_to_key(); }
  torch::nn::Module& module() override { return *network_; }
  std::shared_ptr<BackboneImpl> encoder() override { return network_->query->backbone; }
  /// The query network's parameters (the key network follows by EMA).
  std::vector<torch::Tensor> parameters() override { return network_->query->parameters(); }

  /// After the warm-up: clusters of the whole training set at every granularity.
  void on_epoch_start(StepContext& ctx) override;
  StepOutput step(const Batch& batch, StepContext& ctx) override;
  /// "prototype_usage": share of non-empty clusters at the first granularity (after warm-up).
  Scalars on_epoch_end(StepContext& ctx) override;
  /// The nearest centroid (cosine) of the first granularity to the query embedding; no clusters
  /// (num_clusters() 0) before the warm-up ends.
  torch::Tensor assign(const torch::Tensor& images) override;
  int64_t num_clusters() const override { return centroids_.empty() ? 0 : centroids_[0].size(0); }

  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

  const torch::Tensor& queue() const { return queue_; }  // [L, D]
  /// Per granularity: unit centroids [k, D], concentration [k], cluster of every sample [N]
  /// (empty before the warm-up ends).
  const std::vector<torch::Tensor>& centroids() const { return centroids_; }
  const std::vector<torch::Tensor>& concentration() const { return concentration_; }
  const std::vector<torch::Tensor>& sample_clusters() const { return sample_clusters_; }
  PclNetwork& network() { return network_; }

 private:
  void momentum_update();

  MethodSetup setup_;
  PclOptions options_;
  PclNetwork network_{nullptr};
  torch::Tensor queue_;
  int64_t queue_position_ = 0;
  std::vector<torch::Tensor> centroids_, concentration_, sample_clusters_;
};

}  // namespace swav
