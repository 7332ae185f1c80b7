#include "swav/data/device_multicrop.h"

#include <algorithm>
#include <cmath>

#include "swav/data/resample.h"
#include "swav/util/error.h"

namespace swav {
namespace {

namespace F = torch::nn::functional;
using data::reflect_index;

// ITU-R 601 luma, as the CPU path.
torch::Tensor luma(const torch::Tensor& x) {
  if (x.size(1) == 1) return x;
  return x.select(1, 0)
      .mul(0.299f)
      .add(x.select(1, 1), 0.587f)
      .add(x.select(1, 2), 0.114f)
      .unsqueeze(1);
}

torch::Tensor brightness(const torch::Tensor& x, const torch::Tensor& f) {
  return (x * f).clamp(0, 1);
}

torch::Tensor contrast(const torch::Tensor& x, const torch::Tensor& f) {
  auto mean = luma(x).mean({1, 2, 3}, /*keepdim=*/true);
  return (x * f + (1 - f) * mean).clamp(0, 1);
}

torch::Tensor saturation(const torch::Tensor& x, const torch::Tensor& f) {
  if (x.size(1) != 3) return x;
  return (x * f + (1 - f) * luma(x)).clamp(0, 1);
}

// RGB -> HSV, h += shift (mod 1), HSV -> RGB with the CPU path's formulas, per pixel.
torch::Tensor hue(const torch::Tensor& x, const torch::Tensor& shift) {
  if (x.size(1) != 3) return x;
  auto r = x.select(1, 0), g = x.select(1, 1), b = x.select(1, 2);
  auto maxc = torch::max(torch::max(r, g), b), minc = torch::min(torch::min(r, g), b);
  auto gray = maxc == minc;
  auto cr = maxc - minc;
  auto safe_cr = torch::where(gray, torch::ones_like(cr), cr);
  auto s = cr / torch::where(gray, torch::ones_like(maxc), maxc);
  auto rc = (maxc - r) / safe_cr, gc = (maxc - g) / safe_cr, bc = (maxc - b) / safe_cr;
  auto h =
      torch::where(maxc == r, bc - gc, torch::where(maxc == g, 2.0f + rc - bc, 4.0f + gc - rc));
  h = h / 6.0f + 1.0f + shift.view({-1, 1, 1});
  h = h - h.floor();
  auto h6 = h * 6.0f;
  auto sector = h6.floor();
  auto frac = h6 - sector;
  auto v = maxc;
  auto p = (v * (1 - s)).clamp(0, 1);
  auto q = (v * (1 - s * frac)).clamp(0, 1);
  auto t = (v * (1 - s * (1 - frac))).clamp(0, 1);
  auto idx = sector.to(torch::kLong).remainder(6).unsqueeze(0);
  auto pick = [&](std::vector<torch::Tensor> c) {
    return torch::stack(c).gather(0, idx).squeeze(0);
  };
  auto out = torch::stack(
      {pick({v, q, p, p, t, v}), pick({t, v, v, q, p, p}), pick({p, p, t, v, v, q})}, 1);
  return torch::where(gray.unsqueeze(1), x, out);
}

// Separable Gaussian blur of each view with its own kernel (radius ceil(3 sigma), normalised over
// its own taps, zero beyond), reflected borders; a grouped convolution over all views at once.
torch::Tensor blur(const torch::Tensor& x, const std::vector<double>& sigmas) {
  const int64_t V = x.size(0), C = x.size(1), S = x.size(2);
  int64_t R = 1;
  for (double s : sigmas) R = std::max<int64_t>(R, static_cast<int64_t>(std::ceil(3.0 * s)));
  const int64_t taps = 2 * R + 1;
  auto kernels = torch::zeros({V, taps}, torch::kFloat64);
  auto acc = kernels.accessor<double, 2>();
  for (int64_t v = 0; v < V; ++v) {
    const double sigma = sigmas[v];
    const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma)));
    double total = 0;
    for (int64_t k = -radius; k <= radius; ++k)
      total += std::exp(-0.5 * double(k * k) / (sigma * sigma));
    for (int64_t k = -radius; k <= radius; ++k)
      acc[v][k + R] = std::exp(-0.5 * double(k * k) / (sigma * sigma)) / total;
  }
  auto w = kernels.to(torch::kFloat32).to(x.device()).repeat_interleave(C, 0);  // [V*C, taps]
  std::vector<int64_t> pad(S + 2 * R);
  for (int64_t p = 0; p < S + 2 * R; ++p) pad[p] = reflect_index(p - R, S);
  auto index = torch::tensor(pad, torch::kLong).to(x.device());
  auto y = x.reshape({1, V * C, S, S});
  y = F::conv2d(y.index_select(3, index), w.view({V * C, 1, 1, taps}),
                F::Conv2dFuncOptions().groups(V * C));
  y = F::conv2d(y.index_select(2, index), w.view({V * C, 1, taps, 1}),
                F::Conv2dFuncOptions().groups(V * C));
  return y.view({V, C, S, S});
}

torch::Tensor mask(const std::vector<bool>& flags, torch::Device device) {
  std::vector<uint8_t> bytes(flags.begin(), flags.end());
  return torch::tensor(bytes, torch::kBool).view({-1, 1, 1, 1}).to(device);
}

}  // namespace

DeviceMultiCrop::DeviceMultiCrop(const MultiCrop& crops, const ImageSet& set, torch::Device device)
    : crops_(crops), device_(device) {
  TORCH_CHECK(
      set.images.defined() && set.images.dim() == 4 && set.images.scalar_type() == torch::kUInt8,
      "DeviceMultiCrop: ImageSet.images must be uint8 [N, H, W, C]");
  images_ = set.images.to(device).contiguous();
  height_ = set.height();
  width_ = set.width();
  channels_ = set.channels();
  const auto& o = crops.options();
  auto per_channel = [&](const std::vector<double>& v) {
    if (v.size() != 1 && static_cast<int64_t>(v.size()) != channels_) {
      fail("augment.mean and augment.std must have 1 or {} values for {}-channel images (got {})",
           channels_, channels_, v.size());
    }
    std::vector<float> out(channels_);
    for (int64_t c = 0; c < channels_; ++c)
      out[c] = static_cast<float>(v.size() == 1 ? v[0] : v[c]);
    return torch::tensor(out).view({1, -1, 1, 1}).to(device);
  };
  mean_ = per_channel(o.mean);
  std_ = per_channel(o.std);
}

std::vector<torch::Tensor> DeviceMultiCrop::make_views(const std::vector<int64_t>& indices,
                                                       int64_t epoch) const {
  const auto& o = crops_.options();
  const int64_t B = static_cast<int64_t>(indices.size()), C = channels_;
  const int64_t N = images_.size(0);
  for (int64_t i : indices) TORCH_CHECK(i >= 0 && i < N, "sample index ", i, " out of range");
  auto index = torch::tensor(indices, torch::kLong).to(device_);
  auto source =
      images_.index_select(0, index).permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);

  std::vector<torch::Tensor> views;
  int64_t first_crop = 0;
  for (const auto& group : o.crops) {
    const int64_t V = group.count * B, S = group.size;
    // Plans of the group's views, crop-major (view j * B + b is crop first_crop + j of sample b).
    std::vector<ViewPlan> plans;
    plans.reserve(V);
    for (int64_t j = 0; j < group.count; ++j)
      for (int64_t b = 0; b < B; ++b)
        plans.push_back(crops_.plan(height_, width_, indices[b], epoch, first_crop + j));

    auto theta = torch::empty({V, 2, 3}, torch::kFloat32);
    auto th = theta.accessor<float, 3>();
    const double H = static_cast<double>(height_), W = static_cast<double>(width_);
    for (int64_t v = 0; v < V; ++v) {
      const auto& box = plans[v].box;
      const double sx = static_cast<double>(box.width) / W,
                   sy = static_cast<double>(box.height) / H;
      th[v][0][0] = static_cast<float>(plans[v].flip ? -sx : sx);
      th[v][0][1] = 0;
      th[v][0][2] = static_cast<float>((2.0 * box.left + box.width) / W - 1.0);
      th[v][1][0] = 0;
      th[v][1][1] = static_cast<float>(sy);
      th[v][1][2] = static_cast<float>((2.0 * box.top + box.height) / H - 1.0);
    }
    auto grid = F::affine_grid(theta.to(device_), {V, C, S, S}, /*align_corners=*/false);
    auto x = F::grid_sample(source.repeat({group.count, 1, 1, 1}), grid,
                            F::GridSampleFuncOptions()
                                .mode(torch::kBilinear)
                                .padding_mode(torch::kBorder)
                                .align_corners(false));

    // Colour jitter: at each of the four positions, each view applies the op its order puts there.
    std::vector<bool> any_jitter(V);
    bool jitter = false;
    for (int64_t v = 0; v < V; ++v) {
      any_jitter[v] = plans[v].jitter;
      jitter = jitter || any_jitter[v];
    }
    if (jitter) {
      auto factors = torch::empty({4, V}, torch::kFloat32);
      auto fa = factors.accessor<float, 2>();
      for (int64_t v = 0; v < V; ++v) {
        fa[0][v] = static_cast<float>(plans[v].brightness);
        fa[1][v] = static_cast<float>(plans[v].contrast);
        fa[2][v] = static_cast<float>(plans[v].saturation);
        fa[3][v] = static_cast<float>(plans[v].hue);
      }
      auto f = factors.to(device_);
      const bool enabled[4] = {o.brightness > 0.0, o.contrast > 0.0, o.saturation > 0.0,
                               o.hue > 0.0};
      for (int pos = 0; pos < 4; ++pos) {
        for (int op = 0; op < 4; ++op) {
          if (!enabled[op]) continue;
          std::vector<bool> sel(V);
          bool any = false;
          for (int64_t v = 0; v < V; ++v) {
            sel[v] = plans[v].jitter && plans[v].order[pos] == op;
            any = any || sel[v];
          }
          if (!any) continue;
          auto fv = f[op].view({-1, 1, 1, 1});
          torch::Tensor y = op == 0   ? brightness(x, fv)
                            : op == 1 ? contrast(x, fv)
                            : op == 2 ? saturation(x, fv)
                                      : hue(x, f[op]);
          x = torch::where(mask(sel, device_), y, x);
        }
      }
    }
    std::vector<bool> gray(V), blurred(V);
    bool any_gray = false, any_blur = false;
    std::vector<double> sigmas(V);
    for (int64_t v = 0; v < V; ++v) {
      gray[v] = plans[v].grayscale;
      blurred[v] = plans[v].blur;
      any_gray = any_gray || gray[v];
      any_blur = any_blur || blurred[v];
      sigmas[v] = plans[v].blur ? plans[v].sigma : 1.0;
    }
    if (any_gray && C == 3) x = torch::where(mask(gray, device_), luma(x).expand_as(x), x);
    if (any_blur) x = torch::where(mask(blurred, device_), blur(x, sigmas), x);
    x = (x - mean_) / std_;
    for (auto& chunk : x.chunk(group.count, 0)) views.push_back(chunk.contiguous());
    first_crop += group.count;
  }
  return views;
}

}  // namespace swav
