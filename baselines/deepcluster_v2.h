// DeepCluster-v2: SwAV's network, augmentation, LARC and schedule, with hard cluster ids from
// per-epoch k-means over a memory bank as targets.
//
//  - Memory bank: for every training sample and every crop in deepcluster.crops_for_assign, its
//    unit embedding z from the last time the sample was seen ([n_assign, N, D], indexed by sample).
//    A no-grad pass over the whole training set fills it before epoch 0 (on_train_start); every
//    step then overwrites the batch's rows.
//  - Epoch start, for each prototype head h (model.prototypes; the reference uses 3 x 3000):
//    spherical k-means on bank[h mod n_assign] (deepcluster.kmeans_iterations = 10 Lloyd
//    iterations, init from K random bank rows, E-step argmax dot product, M-step normalised mean,
//    empty clusters keep their previous centroid; seeded by (train.seed, epoch, h)). The unit
//    centroids are copied into head h's prototypes, which are never trained (not in parameters()),
//    and each sample's cluster id becomes its target.
//  - Loss: for every crop (all of them, small ones included) and head, cross-entropy of
//    z . C_h / deepcluster.temperature against the sample's cluster id; mean over crops, then
//    over heads.
// Several processes: each holds the bank rows of one contiguous block of samples (split_rows),
// and after every step the batch's embeddings are gathered so that each process stores the rows
// of its block; k-means runs on the blocks together (sums and counts all-reduced, draws over
// global sample numbers) and the assignments are gathered by sample, so every process has every
// sample's targets. The clustering is thus the one process's up to the order of float sums.
// Differences from the reference: the bank is indexed by sample rather than by position in the
// last epoch, so a sample that the last epoch's dropped partial batch left out keeps its older
// embedding instead of being ignored.
#pragma once
#include <vector>

#include "swav/data/multicrop.h"
#include "swav/models/swav_network.h"
#include "swav/train/method.h"

namespace swav {

class DeepClusterV2Method : public Method {
 public:
  DeepClusterV2Method(const MethodSetup& setup, const DeepClusterOptions& options);

  std::string name() const override { return "deepcluster_v2"; }
  torch::nn::Module& module() override { return *network_; }
  std::shared_ptr<BackboneImpl> encoder() override { return network_->backbone; }
  /// Everything but the prototypes, which only k-means writes.
  std::vector<torch::Tensor> parameters() override;

  /// Fills the memory bank with a no-grad pass over `train`.
  void on_train_start(const ImageSet& train, StepContext& ctx) override;
  /// Clusters the bank: new prototypes and targets for every head.
  void on_epoch_start(StepContext& ctx) override;
  StepOutput step(const Batch& batch, StepContext& ctx) override;
  /// "prototype_usage": share of head 0's prototypes that were the argmax of at least one assigned
  /// crop during the epoch (as SwAV); "cluster_usage": share of head 0's clusters that are
  /// non-empty in this epoch's assignment.
  Scalars on_epoch_end(StepContext& ctx) override;
  /// Head 0's argmax prototype (for DeepCluster-v2 the nearest centroid of the last clustering).
  torch::Tensor assign(const torch::Tensor& images) override;
  int64_t num_clusters() const override { return setup_.model.prototypes.at(0); }

  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

  /// [n_assign, rows, D]: this process's block (split_rows) of the samples.
  const torch::Tensor& bank() const { return bank_; }
  const torch::Tensor& assignments() const { return assignments_; }  // int64 [heads, N]
  SwavNetwork& network() { return network_; }

 protected:
  /// What DeepCluster-v2 and SeLa-v2 share; `name` prefixes the checkpoint keys.
  struct BankOptions {
    std::vector<int64_t> crops_for_assign;
    double temperature = 0.1;
    std::string name;
  };
  DeepClusterV2Method(const MethodSetup& setup, BankOptions bank_options);
  /// Recomputes assignments_ (and, for DeepCluster-v2, the prototypes) from the bank.
  virtual void cluster(StepContext& ctx);
  /// Writes the embeddings z ([n_assign * rows, D], crop after crop) of the samples `indices`
  /// ([rows]) into the bank: gathered from every process, each keeping its own block's rows.
  void store_in_bank(const torch::Tensor& indices, const torch::Tensor& z, int64_t rows,
                     Collective& collective);

  const MethodSetup setup_;
  BankOptions bank_options_;
  int64_t kmeans_iterations_ = 0;  // DeepCluster-v2: deepcluster.kmeans_iterations
  SwavNetwork network_{nullptr};
  torch::Tensor bank_;         // this process's block of samples
  torch::Tensor assignments_;  // every sample's, the same on every process
  torch::Tensor used_prototypes_;  // bool [K_0], reset every epoch
};

}  // namespace swav
