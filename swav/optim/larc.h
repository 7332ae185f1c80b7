// LARC around SGD, as SwAV uses it.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "swav/config/options.h"

namespace swav {

/// Tensors the optimiser steps with settings of their own: each unset field follows the run's
/// [optim] options. All groups follow the run's learning-rate schedule. (DeepCluster's classifier,
/// re-created every epoch, takes plain SGD steps without momentum beside a backbone on LARC.)
struct ParamGroup {
  explicit ParamGroup(std::vector<torch::Tensor> tensors) : params(std::move(tensors)) {}

  std::vector<torch::Tensor> params;
  std::optional<double> momentum;
  std::optional<double> weight_decay;
  std::optional<bool> larc;
};

/// SGD (momentum, PyTorch convention: the buffer starts as the first gradient) wrapped in LARC.
/// For each parameter tensor with a gradient (BN and biases included), when |w| and |g| are
/// non-zero:
///   a = trust * |w| / (|g| + wd * |w| + eps);  if clip: a = min(a / lr, 1)
///   g <- (g + wd * w) * a
/// then the SGD step runs with weight decay 0. With larc = false it is plain SGD with weight decay.
/// Parameters whose grad is undefined are skipped entirely (no momentum, no decay): that is how
/// frozen prototypes are held still. With options.exclude_bias_bn, 1-D tensors (BN weights and
/// biases, every bias) are neither adapted nor decayed: they take the plain SGD step (SimCLR's
/// LARS). Each ParamGroup gets all of this with its own momentum, weight decay and LARC switch; the
/// learning rate is one for all.
class LarcSgd {
 public:
  /// One group: every tensor on the run's settings.
  LarcSgd(std::vector<torch::Tensor> params, const OptimOptions& options);
  LarcSgd(const std::vector<ParamGroup>& groups, const OptimOptions& options);

  void set_lr(double lr);
  double lr() const;
  void zero_grad();
  void step();

  /// Optimiser state (momentum buffers) for checkpoints.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  /// One param group of the SGD inside: its tensors, its settings, and whether LARC may adapt
  /// them (false for the 1-D tensors split off by exclude_bias_bn).
  struct Group {
    std::vector<torch::Tensor> params;
    OptimOptions options;
    bool adapted = true;
  };

  std::vector<Group> groups_;
  std::unique_ptr<torch::optim::SGD> sgd_;
};

}  // namespace swav
