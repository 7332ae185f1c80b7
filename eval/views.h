// The image transforms of the evaluation protocols (beyond the whole-image view of kNN).
#pragma once
#include <torch/torch.h>

#include <functional>
#include <vector>

#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "swav/models/backbone.h"

namespace swav {

/// The deterministic test view: the centred square of side `fraction` * min(H, W) of each uint8
/// [N, H, W, C] image, resized (antialiased bilinear) to `size` x `size`, scaled to [0, 1] and
/// normalised with mean/std (one entry per channel, or one for all), then converted to
/// `out_channels` (1 -> 3 repeats the channel, 3 -> 1 averages them). Returns float [N, out, s, s].
/// fraction 0.875 is ImageNet's Resize(256) + CenterCrop(224); fraction 1 with size = H is the
/// whole image.
torch::Tensor center_view(const torch::Tensor& images_uint8_nhwc, int64_t size, double fraction,
                          const std::vector<double>& mean, const std::vector<double>& std,
                          int64_t out_channels);

/// A per-batch transform: uint8 [B, H, W, C] -> float [B, C', S, S].
using ViewFn = std::function<torch::Tensor(const torch::Tensor&)>;

/// Backbone features of every image of `set` through `view`, backbone in eval mode without grad
/// (its mode is restored). Returns float32 [N, D] on the CPU.
torch::Tensor view_features(BackboneImpl& backbone, const ImageSet& set, const ViewFn& view,
                            torch::Device device, int64_t batch_size);

/// The training augmentation of the linear and semi-supervised protocols: RandomResizedCrop to
/// `size` with area share in [min_scale, 1] (aspect 3/4..4/3), horizontal flip with p = 0.5, no
/// colour changes, normalised with mean/std. Views depend only on (seed, epoch, sample).
MultiCrop eval_augmentation(int64_t size, double min_scale, const std::vector<double>& mean,
                            const std::vector<double>& std, int64_t workers, uint64_t seed);

/// Snapshot of a module's parameters and buffers, restored by restore_state (fine-tuning a copy
/// of the weights in place without touching the caller's network for good).
std::vector<torch::Tensor> save_state(torch::nn::Module& module);
void restore_state(torch::nn::Module& module, const std::vector<torch::Tensor>& state);

}  // namespace swav
