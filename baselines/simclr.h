// SimCLR: NT-Xent between the L2-normalised projections of different crops of the same image.
//
// Network: backbone -> projection head Linear -> BN -> ReLU -> Linear(model.output_dim) -> L2
// normalise (the shared ProjectionHead; SimCLR v1's head). Loss: for two crops, NT-Xent exactly as
// the reference (each of the 2N embeddings against the 2N - 1 others, the other view of the same
// image as the positive, cosine / simclr.temperature). Multi-crop: the mean of that two-view
// NT-Xent over every unordered pair of crops (nt_xent_crops), so small crops are contrasted with
// the large ones and with each other; with 2 crops it is the reference loss. Optimiser: the
// trainer's LARC-SGD; set optim.exclude_bias_bn = true for SimCLR's LARS, which leaves BN and bias
// parameters out of the adaptation and the weight decay (experiments/baselines*.toml do).
// Several processes: every crop's embeddings are gathered from all of them (with gradient), so
// each anchor is contrasted with the whole global batch, as one process with that batch would.
#pragma once
#include "swav/models/embedding_net.h"
#include "swav/train/method.h"

namespace swav {

class SimclrMethod : public Method {
 public:
  SimclrMethod(const MethodSetup& setup, const SimclrOptions& options);

  std::string name() const override { return "simclr"; }
  torch::nn::Module& module() override { return *network_; }
  std::shared_ptr<BackboneImpl> encoder() override { return network_->backbone; }
  StepOutput step(const Batch& batch, StepContext& ctx) override;

  EmbeddingNet& network() { return network_; }

 private:
  SimclrOptions options_;
  EmbeddingNet network_{nullptr};
};

}  // namespace swav
