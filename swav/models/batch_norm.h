// Batch normalisation that can take its training statistics over every process of a run
// (synchronised batch norm, as the paper's multi-GPU runs use). Until sync_batch_norm() gives a
// module a collective, and whenever it is in eval mode, it is torch's BatchNorm exactly; the
// parameter and buffer names are torch's, so checkpoints and exported weights do not change.
#pragma once
#include <torch/torch.h>

#include "swav/dist/collective.h"

namespace swav {

/// Training-mode batch norm over the batches of all processes: per channel, the sum, the sum of
/// squares and the count are all-reduced in float64, giving the global mean and biased variance
/// that normalise x; running_mean and running_var move by `momentum` towards the global mean and
/// the unbiased global variance (n / (n - 1)), as torch's BatchNorm does for one process. The
/// backward all-reduces the per-channel sums of dy and dy * x_hat, so the gradient is that of the
/// whole batch. `x`: [N, C] or [N, C, *]. The result has x's dtype.
torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor& running_mean,
                              torch::Tensor& running_var, double momentum, double eps,
                              Collective& collective);

/// torch::nn::BatchNorm2d that normalises over every process when a collective is set.
class SyncBatchNorm2dImpl : public torch::nn::BatchNorm2dImpl {
 public:
  using torch::nn::BatchNorm2dImpl::BatchNorm2dImpl;
  torch::Tensor forward(const torch::Tensor& x);
  Collective* collective = nullptr;  // set by sync_batch_norm(); null: torch's BatchNorm2d
};
TORCH_MODULE(SyncBatchNorm2d);

/// The same for torch::nn::BatchNorm1d (the projection head).
class SyncBatchNorm1dImpl : public torch::nn::BatchNorm1dImpl {
 public:
  using torch::nn::BatchNorm1dImpl::BatchNorm1dImpl;
  torch::Tensor forward(const torch::Tensor& x);
  Collective* collective = nullptr;
};
TORCH_MODULE(SyncBatchNorm1d);

/// Makes every SyncBatchNorm module under `root` normalise over the processes of `collective`
/// (null: each process alone again). Returns how many modules it set.
int64_t sync_batch_norm(torch::nn::Module& root, Collective* collective);

}  // namespace swav
