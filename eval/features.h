// Frozen-encoder features for evaluation.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "swav/data/image_set.h"
#include "swav/models/backbone.h"

namespace swav {

/// Backbone features of every image of `set` (whole image, normalised with mean/std, no
/// augmentation), backbone in eval mode, no grad. Returns float32 [N, D] on the CPU. The backbone's
/// train/eval mode is restored afterwards.
torch::Tensor extract_features(BackboneImpl& backbone, const ImageSet& set,
                               const std::vector<double>& mean, const std::vector<double>& std,
                               torch::Device device, int64_t batch_size = 256);

}  // namespace swav
