#include "eval/views.h"

#include <algorithm>
#include <cmath>

#include "swav/models/inference.h"
#include "swav/util/error.h"

namespace swav {

torch::Tensor center_view(const torch::Tensor& images_uint8_nhwc, int64_t size, double fraction,
                          const std::vector<double>& mean, const std::vector<double>& std,
                          int64_t out_channels) {
  TORCH_CHECK(images_uint8_nhwc.dim() == 4 && images_uint8_nhwc.scalar_type() == torch::kUInt8,
              "center_view expects uint8 [N, H, W, C]");
  const int64_t H = images_uint8_nhwc.size(1), W = images_uint8_nhwc.size(2);
  const int64_t C = images_uint8_nhwc.size(3);
  if (mean.size() != 1 && static_cast<int64_t>(mean.size()) != C)
    fail("normalisation mean has {} entries for {}-channel images (expected 1 or {})", mean.size(),
         C, C);
  if (std.size() != mean.size())
    fail("normalisation std has {} entries, mean {} (expected as many)", std.size(), mean.size());
  const auto side = std::clamp<int64_t>(
      static_cast<int64_t>(std::nearbyint(fraction * static_cast<double>(std::min(H, W)))), 1,
      std::min(H, W));
  auto x = images_uint8_nhwc.narrow(1, (H - side) / 2, side)
               .narrow(2, (W - side) / 2, side)
               .permute({0, 3, 1, 2})
               .to(torch::kFloat32)
               .div(255.0);
  if (side != size) {
    namespace F = torch::nn::functional;
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{size, size})
                              .mode(torch::kBilinear)
                              .align_corners(false)
                              .antialias(side > size));
  }
  auto m = torch::tensor(mean, torch::kFloat64).to(torch::kFloat32).view({1, -1, 1, 1});
  auto s = torch::tensor(std, torch::kFloat64).to(torch::kFloat32).view({1, -1, 1, 1});
  x = (x - m) / s;
  if (out_channels != C) {
    if (C == 1)
      x = x.expand({-1, out_channels, -1, -1});
    else if (out_channels == 1)
      x = x.mean(1, true);
    else
      fail("cannot convert {}-channel images to {} channels", C, out_channels);
  }
  return x.contiguous();
}

torch::Tensor view_features(BackboneImpl& backbone, const ImageSet& set, const ViewFn& view,
                            torch::Device device, int64_t batch_size) {
  return batched_forward(backbone, set, batch_size, [&](const torch::Tensor& images) {
    return backbone.forward(view(images).to(device)).to(torch::kCPU, torch::kFloat32);
  });
}

MultiCrop eval_augmentation(int64_t size, double min_scale, const std::vector<double>& mean,
                            const std::vector<double>& std, int64_t workers, uint64_t seed) {
  AugmentOptions a;
  a.crops = {{size, 1, min_scale, 1.0}};
  a.flip_prob = 0.5;
  a.jitter_prob = 0;
  a.grayscale_prob = 0;
  a.blur_prob = 0;
  a.mean = mean;
  a.std = std;
  a.workers = workers;
  return MultiCrop(a, seed);
}

std::vector<torch::Tensor> save_state(torch::nn::Module& module) {
  std::vector<torch::Tensor> state;
  for (const auto& p : module.parameters()) state.push_back(p.detach().clone());
  for (const auto& b : module.buffers()) state.push_back(b.detach().clone());
  return state;
}

void restore_state(torch::nn::Module& module, const std::vector<torch::Tensor>& state) {
  torch::NoGradGuard no_grad;
  size_t i = 0;
  for (auto& p : module.parameters()) {
    p.copy_(state.at(i++));
    p.mutable_grad() = torch::Tensor();  // no fine-tuning gradient outlives the restore
  }
  for (auto& b : module.buffers()) b.copy_(state.at(i++));
  TORCH_CHECK(i == state.size(), "restore_state: the module changed shape");
}

}  // namespace swav
