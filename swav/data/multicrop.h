// Multi-crop augmentation on CPU threads.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"

namespace swav {

/// Produces SwAV's multi-crop views. A view depends only on (seed, epoch, sample index, crop index),
/// never on thread timing or batch composition: each crop draws from its own counter-based random
/// stream keyed by those four numbers.
class MultiCrop {
 public:
  MultiCrop(AugmentOptions options, uint64_t seed);

  /// Total number of crops per image (sum of the groups' counts).
  int64_t num_crops() const;
  /// Crop sizes in order: crop i has size crop_sizes()[i].
  std::vector<int64_t> crop_sizes() const;

  /// Views of the given samples: one float tensor per crop, [B, C, size, size], normalised.
  /// Uses up to options.workers threads.
  std::vector<torch::Tensor> make_views(const ImageSet& set, const std::vector<int64_t>& indices,
                                        int64_t epoch) const;

  /// One crop of one image into `out` (float [C, size, size]); the building block of make_views.
  void make_view(const ImageSet& set, int64_t sample, int64_t epoch, int64_t crop,
                 torch::Tensor& out) const;

  const AugmentOptions& options() const { return options_; }

 private:
  AugmentOptions options_;
  uint64_t seed_;
};

/// The evaluation transform: the whole image as float [N, C, H, W], normalised with mean/std (no
/// randomness). Used for feature extraction and kNN.
torch::Tensor normalize_images(const torch::Tensor& images_uint8_nhwc, const std::vector<double>& mean,
                               const std::vector<double>& std);

}  // namespace swav
