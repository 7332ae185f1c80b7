// Multi-crop augmentation on CPU threads.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"

namespace swav {

/// A crop rectangle in source pixels.
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

/// Every random decision for one view, drawn up front in a fixed order so the stream position of
/// each draw never depends on earlier outcomes.
struct ViewPlan {
  CropBox box;
  bool flip = false;
  bool jitter = false;
  int order[4] = {0, 1, 2, 3};  // 0 brightness, 1 contrast, 2 saturation, 3 hue
  double brightness = 1.0, contrast = 1.0, saturation = 1.0, hue = 0.0;
  bool grayscale = false;
  bool blur = false;
  double sigma = 0.0;
};

/// Produces SwAV's multi-crop views. A view depends only on (seed, epoch, sample index, crop
/// index), never on thread timing or batch composition: each crop draws from its own counter-based
/// random stream keyed by those four numbers.
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

  /// The random decisions of one view of an H x W image (what make_view renders; the device
  /// path renders the same plans).
  ViewPlan plan(int64_t H, int64_t W, int64_t sample, int64_t epoch, int64_t crop) const;

  const AugmentOptions& options() const { return options_; }
  /// Makes make_views() allocate its outputs in pinned (page-locked) host memory, so copies to a
  /// CUDA device are asynchronous. Needs a CUDA build with a device.
  void set_pinned_output(bool pinned) { pinned_ = pinned; }

 private:
  /// make_views for a streamed set: each sample's file decoded once for all its crops.
  std::vector<torch::Tensor> make_stream_views(const ImageSet& set,
                                               const std::vector<int64_t>& indices,
                                               int64_t epoch) const;

  AugmentOptions options_;
  bool pinned_ = false;
  uint64_t seed_;
};

/// Consecutive crops of equal shape concatenated along the batch dimension, in crop order: one
/// tensor per run of equal resolution (2x224 + 6x96 crops give two), so that a network runs once
/// per resolution, as in SwAV's multi-crop forward.
std::vector<torch::Tensor> cat_equal_resolutions(const std::vector<torch::Tensor>& crops);

/// The evaluation transform: the whole image as float [N, C, H, W], normalised with mean/std (no
/// randomness). Used for feature extraction and kNN.
torch::Tensor normalize_images(const torch::Tensor& images_uint8_nhwc,
                               const std::vector<double>& mean, const std::vector<double>& std);

}  // namespace swav
