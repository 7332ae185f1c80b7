// Linear probe on frozen, precomputed features.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "swav/config/options.h"

namespace swav {

struct LinearProbeResult {
  double best_top1 = 0;  // best test top-1 over epochs (the SwAV protocol reports this)
  double last_top1 = 0;  // test top-1 after the last epoch
  int64_t best_epoch = 0;
  std::vector<double> epoch_top1;  // test top-1 after each epoch
};

/// Trains Linear(D -> classes) on precomputed train features with the SwAV linear protocol's
/// optimiser (init N(0, 0.01), bias 0, SGD lr / momentum / weight decay from options, cosine to 0
/// over linear_epochs, batch linear_batch_size, shuffled by `seed`) and reports test top-1 in [0,
/// 1]. This is the fast variant of the protocol: features are computed once, without augmentation.
LinearProbeResult linear_probe(const torch::Tensor& train_features,
                               const torch::Tensor& train_labels,
                               const torch::Tensor& test_features, const torch::Tensor& test_labels,
                               int64_t classes, const EvalOptions& options, uint64_t seed);

}  // namespace swav
