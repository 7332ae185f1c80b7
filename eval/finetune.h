// The protocols that train on augmented images: the SwAV linear protocol (frozen backbone) and
// semi-supervised fine-tuning (whole network) on class-balanced label subsets.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "eval/linear_probe.h"
#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/models/backbone.h"

namespace swav {

/// The SwAV linear protocol. Linear(D -> classes) on the frozen backbone (eval mode: BN uses its
/// running statistics; features under no_grad, one batch at a time) trained on augmented crops of
/// `train` (eval_augmentation at `size`, area share [eval.swav_linear_min_scale, 1], a new draw
/// every epoch) with the linear_* optimiser of `eval` (init N(0, 0.01), bias 0, SGD, cosine to 0
/// per iteration) for eval.swav_linear_epochs; after every epoch, top-1 on `test` through
/// center_view(size, eval.center_crop). Images are normalised with mean/std. The backbone's
/// weights and mode are unchanged afterwards.
LinearProbeResult swav_linear_protocol(BackboneImpl& backbone, const ImageSet& train,
                                       const ImageSet& test, int64_t size,
                                       const std::vector<double>& mean,
                                       const std::vector<double>& std, const EvalOptions& eval,
                                       int64_t workers, torch::Device device, uint64_t seed);

/// Indices (sorted, int64) of a class-balanced subset: from each class c with n_c images,
/// max(1, round(fraction * n_c)) drawn without replacement by a generator seeded with `seed`.
/// The same (labels, fraction, seed) give the same subset.
std::vector<int64_t> balanced_subset(const torch::Tensor& labels, int64_t classes, double fraction,
                                     uint64_t seed);

struct SemiSupervisedResult {
  double fraction = 0;
  int64_t labelled = 0;   // images in the subset
  double top1 = 0;        // test top-1 after the last epoch, in [0, 1]
  double first_top1 = 0;  // test top-1 after the first epoch (a fine-tuning sanity check)
};

/// Semi-supervised fine-tuning (the SwAV protocol, scaled): a new Linear(D -> classes) head (init
/// N(0, 0.01), bias 0) on the backbone, the whole network trained in train mode on augmented
/// crops of balanced_subset(train, fraction, seed) for eval.semi_epochs with SGD (momentum
/// semi_momentum, weight decay semi_weight_decay), lr semi_lr for the backbone and semi_head_lr
/// for the head, both cosine to 0 per iteration, batch semi_batch_size; top-1 on `test` through
/// center_view. The backbone's weights, buffers and mode are restored afterwards.
SemiSupervisedResult semi_supervised_protocol(BackboneImpl& backbone, const ImageSet& train,
                                              const ImageSet& test, double fraction, int64_t size,
                                              const std::vector<double>& mean,
                                              const std::vector<double>& std,
                                              const EvalOptions& eval, int64_t workers,
                                              torch::Device device, uint64_t seed);

}  // namespace swav
