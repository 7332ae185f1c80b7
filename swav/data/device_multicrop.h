// Multi-crop augmentation on the training device (CUDA), from the uint8 images kept there.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"

namespace swav {

/// Renders the same views as MultiCrop (the same ViewPlan per (seed, epoch, sample, crop): box,
/// flip, jitter order and factors, grayscale, blur sigma) with batched tensor operations on any
/// device, so a CUDA run's data path never leaves the GPU except for the plans (a few numbers per
/// view). Each crop group is one batch: gather the uint8 images, one affine grid per view
/// (crop + flip) sampled bilinearly, the colour operations masked per view in each view's own
/// order, a separable Gaussian blur with per-view kernels, normalisation.
///
/// Differences from the CPU path, all small: resampling is plain bilinear (grid_sample, half-pixel
/// centres) without the CPU path's antialiasing when a crop is shrunk, and it reads pixels just
/// outside the crop box at its border instead of clamping to the box.
class DeviceMultiCrop {
 public:
  /// Copies the set's images to `device` once (uint8, [N, H, W, C]).
  DeviceMultiCrop(const MultiCrop& crops, const ImageSet& set, torch::Device device);

  /// One float tensor per crop, [B, C, size, size] on the device, normalised: the layout of
  /// MultiCrop::make_views.
  std::vector<torch::Tensor> make_views(const std::vector<int64_t>& indices, int64_t epoch) const;

 private:
  const MultiCrop& crops_;
  torch::Device device_;
  torch::Tensor images_;      // uint8 [N, H, W, C] on device_
  torch::Tensor mean_, std_;  // float [1, C, 1, 1] on device_
  int64_t height_, width_, channels_;
};

}  // namespace swav
