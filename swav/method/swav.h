// SwAV: swapped prediction of Sinkhorn-Knopp online codes, with multi-crop, a queue of past
// embeddings, frozen-then-trained prototypes and one or several prototype heads.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "swav/config/options.h"
#include "swav/models/backbone.h"
#include "swav/models/swav_network.h"
#include "swav/train/method.h"

namespace swav {

class SwavMethod : public Method {
 public:
  SwavMethod(const MethodSetup& setup, const SwavOptions& options);

  std::string name() const override { return "swav"; }
  torch::nn::Module& module() override { return *network_; }
  std::shared_ptr<BackboneImpl> encoder() override { return network_->backbone; }

  void on_epoch_start(StepContext& ctx) override;
  StepOutput step(const Batch& batch, StepContext& ctx) override;
  /// While ctx.iteration < freeze_prototypes_niters the prototypes' gradients are dropped, so the
  /// optimiser gives them no update at all (no gradient, momentum or weight decay).
  void after_backward(StepContext& ctx) override;
  /// "prototype_usage": share of head 0's prototypes that were the argmax of at least one assigned
  /// crop during the epoch; "code_entropy": the mean entropy of head 0's codes over ln K (1 =
  /// uniform codes, nothing to predict; 0 = one-hot).
  Scalars on_epoch_end(StepContext& ctx) override;
  /// ln K averaged over the heads, the prototypes' frozen iterations, head 0's K.
  CollapseReference collapse_reference() const override;
  /// Argmax over head 0's prototypes of each image's normalised embedding.
  torch::Tensor assign(const torch::Tensor& images) override;
  int64_t num_clusters() const override { return num_clusters_; }

  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

  /// The queue of past embeddings [n_assign, length, D] (undefined before it starts) and how many
  /// rows of it have been written so far (it is used once full).
  const torch::Tensor& queue() const { return queue_; }
  int64_t queue_filled() const { return queue_filled_; }
  SwavNetwork& network() { return network_; }

 private:
  SwavOptions options_;
  int64_t output_dim_ = 0;
  int64_t num_clusters_ = 0;  // prototypes of head 0
  SwavNetwork network_{nullptr};
  torch::Tensor queue_;
  int64_t queue_filled_ = 0;
  torch::Tensor used_prototypes_;  // bool [K_0], reset every epoch
  torch::Tensor code_entropy_;     // float64 sum over the epoch's codes of head 0, on the device
  int64_t codes_seen_ = 0;         // rows in that sum
  CollapseReference collapse_reference_;
};

}  // namespace swav
