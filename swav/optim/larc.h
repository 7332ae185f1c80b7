// LARC around SGD, as SwAV uses it.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "swav/config/options.h"

namespace swav {

/// SGD (momentum, PyTorch convention: the buffer starts as the first gradient) wrapped in LARC.
/// For each parameter tensor with a gradient (BN and biases included), when |w| and |g| are non-zero:
///   a = trust * |w| / (|g| + wd * |w| + eps);  if clip: a = min(a / lr, 1)
///   g <- (g + wd * w) * a
/// then the SGD step runs with weight decay 0. With larc = false it is plain SGD with weight decay.
/// Parameters whose grad is undefined are skipped entirely (no momentum, no decay): that is how
/// frozen prototypes are held still. With options.exclude_bias_bn, 1-D tensors (BN weights and
/// biases, every bias) are neither adapted nor decayed: they take the plain SGD step (SimCLR's LARS).
class LarcSgd {
 public:
  LarcSgd(std::vector<torch::Tensor> params, const OptimOptions& options);

  void set_lr(double lr);
  double lr() const;
  void zero_grad();
  void step();

  /// Optimiser state (momentum buffers) for checkpoints.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  std::vector<torch::Tensor> params_;
  OptimOptions options_;
  std::unique_ptr<torch::optim::SGD> sgd_;
};

}  // namespace swav
