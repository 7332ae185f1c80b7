// Passes over a whole data set with a network frozen for the pass: eval mode, no autograd, in
// batches. The evaluation's features, the cluster metrics and the clustering baselines' passes
// (DeepCluster's features, SeLa's labels, PCL's centroids) all go through these.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <functional>

#include "swav/data/image_set.h"

namespace swav {

/// Puts `module` in eval mode for the guard's lifetime, then restores its train/eval mode, also
/// when an exception leaves the scope.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(torch::nn::Module& module)
      : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~EvalModeGuard() { module_.train(was_training_); }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

/// Calls `step(begin, rows)` for the consecutive slices [begin, begin + rows) of `n` items, in
/// order, rows <= batch_size, with `module` in eval mode and autograd off.
void for_each_batch(torch::nn::Module& module, int64_t n, int64_t batch_size,
                    const std::function<void(int64_t begin, int64_t rows)>& step);

/// `forward(slice)` for consecutive slices of at most batch_size rows of `items` (along dim 0),
/// concatenated along dim 0; for_each_batch's eval mode and no autograd. `forward` does the rest:
/// normalising, moving to the device, the network, and moving the result where it is wanted.
torch::Tensor batched_forward(
    torch::nn::Module& module, const torch::Tensor& items, int64_t batch_size,
    const std::function<torch::Tensor(const torch::Tensor& slice)>& forward);

/// The same over the images [begin, begin + rows) of a set (all of it by default), given to
/// `forward` as uint8 [n, H, W, C] batches (image_rows: a streamed set's files are decoded batch by
/// batch, so no pass holds more than a batch of images).
torch::Tensor batched_forward(
    torch::nn::Module& module, const ImageSet& set, int64_t batch_size,
    const std::function<torch::Tensor(const torch::Tensor& images)>& forward, int64_t begin = 0,
    int64_t rows = -1);

}  // namespace swav
