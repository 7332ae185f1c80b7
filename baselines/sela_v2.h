// SeLa-v2: DeepCluster-v2 (memory bank, multi-crop, cross-entropy against hard per-epoch labels)
// with the k-means step replaced by Sinkhorn-Knopp assignment over the bank, and prototypes learned
// by SGD.
//
// The published description (SwAV paper, appendix) leaves these open; the choices made here:
//  - Assignment: per head h, scores = bank[h mod n_assign] . C_h^T with the current (normalised)
//    prototypes over the whole bank, codes = sinkhorn(scores, sela_v2.epsilon = 0.05,
//    sela_v2.sinkhorn_iterations = 3) (SwAV's Sinkhorn, float32), label = argmax of the codes: hard
//    labels, as DeepCluster-v2 and SeLa use.
//  - When: at every epoch start (like DeepCluster-v2's k-means), from a bank filled before epoch 0.
//  - Prototypes: L2-normalised at every step as in SwAV, trained from the first step (no freezing),
//    with the rest of the network under the same LARC.
//  - Loss: cross-entropy of z . C_h / sela_v2.temperature (0.1) for all crops, mean over heads.
// Memory: the assignment holds one [N, K] score matrix per head at once (fine for CIFAR-sized sets;
// ImageNet at K = 3000 would need a chunked Sinkhorn).
#pragma once
#include "baselines/deepcluster_v2.h"

namespace swav {

class SelaV2Method : public DeepClusterV2Method {
 public:
  SelaV2Method(const MethodSetup& setup, const SelaV2Options& options);

  std::string name() const override { return "sela_v2"; }
  /// All parameters, prototypes included.
  std::vector<torch::Tensor> parameters() override { return network_->parameters(); }
  StepOutput step(const Batch& batch, StepContext& ctx) override;

 protected:
  void cluster(StepContext& ctx) override;

 private:
  SelaV2Options sela_;
};

}  // namespace swav
