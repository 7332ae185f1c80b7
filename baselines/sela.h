// SeLa (v1): self-labelling. The network is trained with cross-entropy against labels of the whole
// training set, and at scheduled label steps the labels are re-optimised by Sinkhorn-Knopp so that
// they are equipartitioned over the clusters.
//
//  - Network: backbone -> one Linear(feature_dim -> K_h) classifier per entry h of
//    model.prototypes (the reference: 10 heads of 3000 on ImageNet). model.hidden_dim and
//    model.output_dim are not used.
//  - Labels: int64 [heads, N], a random equipartition at first (seeded by train.seed).
//  - Label steps: sela.label_steps of them over the run, at epochs floor(E * (i / n)^2)
//    ("quadratic", ImageNet) or floor(E * i / n) ("linear", CIFAR), i = 0..n-1, each epoch at most
//    once (the reference places them between iterations; here they happen at epoch starts).
//    Each: softmax P of each head over the whole training set (eval mode, whole image, no grad),
//    then sela_labels() (P^lambda, float64 Sinkhorn to the stopping rule, hard equipartitioned
//    labels).
//  - Loss: cross-entropy of every crop's logits against its image's label, mean over heads.
// Multi-crop: every crop is trained on its image's label.
#pragma once
#include <vector>

#include "swav/models/backbone.h"
#include "swav/train/method.h"

namespace swav {

/// The number of Sinkhorn iterations sela_sinkhorn ran and its scaling vectors.
struct SelaSinkhorn {
  torch::Tensor r;  // float64 [K]
  torch::Tensor c;  // float64 [N]
  int64_t iterations = 0;
};

/// SeLa's float64 Sinkhorn on P^lambda. P [N, K] (rows: probabilities). With Q = (P^lambda)^T
/// ([K, N]), iterate r = (1/K) / (Q c), c_new = (1/N) / (r^T Q); every 10th iteration compute
/// err = sum |c / c_new - 1| and stop once err < tolerance; c = c_new after each iteration.
SelaSinkhorn sela_sinkhorn(const torch::Tensor& P, double lambda, double tolerance);

/// Hard labels from P [N, K]: the scaled matrix diag(c) P^lambda diag(r) (sela_sinkhorn) rounded to
/// an exact equipartition: points in decreasing order of their best scaled score take their best
/// cluster that still has room, where floor(N/K) is room for every cluster and N mod K clusters
/// may take one more. So every cluster gets floor(N/K) or ceil(N/K) points; where the scaled
/// matrix's argmax is already balanced the labels are that argmax. int64 [N] on the CPU.
torch::Tensor sela_labels(const torch::Tensor& P, double lambda, double tolerance);

/// The epochs (sorted, distinct) at which label steps happen.
std::vector<int64_t> sela_label_epochs(int64_t epochs, int64_t label_steps,
                                       const std::string& schedule);

class SelaNetworkImpl : public torch::nn::Module {
 public:
  SelaNetworkImpl(const ModelOptions& options, int64_t in_channels);
  /// Logits of every head for images x: one [B, K_h] tensor per head.
  std::vector<torch::Tensor> forward(const torch::Tensor& x);

  std::shared_ptr<BackboneImpl> backbone;
  torch::nn::ModuleList heads{nullptr};
};
TORCH_MODULE(SelaNetwork);

class SelaMethod : public Method {
 public:
  SelaMethod(const MethodSetup& setup, const SelaOptions& options);

  std::string name() const override { return "sela"; }
  torch::nn::Module& module() override { return *network_; }
  std::shared_ptr<BackboneImpl> encoder() override { return network_->backbone; }

  /// Runs a label step when this epoch is one of sela_label_epochs().
  void on_epoch_start(StepContext& ctx) override;
  StepOutput step(const Batch& batch, StepContext& ctx) override;
  /// "prototype_usage": share of head 0's clusters that were the argmax of at least one crop
  /// during the epoch.
  Scalars on_epoch_end(StepContext& ctx) override;
  /// Head 0's argmax class.
  torch::Tensor assign(const torch::Tensor& images) override;
  int64_t num_clusters() const override { return setup_.model.prototypes.at(0); }

  void save_state(torch::serialize::OutputArchive& archive) const override;
  void load_state(torch::serialize::InputArchive& archive) override;

  const torch::Tensor& labels() const { return labels_; }  // int64 [heads, N]
  /// Label step now, on `train` (also what on_epoch_start runs). Several processes: each scores
  /// its block of the set (split_rows), the scores are gathered, and every process runs the same
  /// Sinkhorn and rounding on all of them, so the labels are one process's.
  void relabel(const ImageSet& train, torch::Device device,
               Collective& collective = single_process());
  SelaNetwork& network() { return network_; }

 private:
  MethodSetup setup_;
  SelaOptions options_;
  SelaNetwork network_{nullptr};
  torch::Tensor labels_;
  torch::Tensor used_;  // bool [K_0], reset every epoch
};

}  // namespace swav
