#include "swav/data/multicrop.h"

#include <algorithm>
#include <cmath>

#include "swav/data/parallel.h"
#include "swav/data/resample.h"
#include "swav/data/rng.h"
#include "swav/data/stream_views.h"
#include "swav/data/view_ops.h"
#include "swav/util/error.h"

namespace swav {
namespace {

using data::reflect_index;
using data::Rng;

// Luma weights of ITU-R 601 (what PIL and torchvision use for grayscale).
constexpr float kLumaR = 0.299f, kLumaG = 0.587f, kLumaB = 0.114f;

inline float clamp01(float x) {
  return std::min(std::max(x, 0.0f), 1.0f);
}

// torchvision's RandomResizedCrop.get_params.
CropBox random_resized_crop(Rng& rng, int64_t H, int64_t W, const CropGroup& group,
                            const AugmentOptions& o) {
  const double area = static_cast<double>(H) * static_cast<double>(W);
  const double log_lo = std::log(o.min_ratio), log_hi = std::log(o.max_ratio);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(group.min_scale, group.max_scale);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    // nearbyint rounds half to even, like Python's round().
    const auto w = static_cast<int64_t>(std::nearbyint(std::sqrt(target * aspect)));
    const auto h = static_cast<int64_t>(std::nearbyint(std::sqrt(target / aspect)));
    if (w > 0 && w <= W && h > 0 && h <= H) {
      CropBox box;
      box.height = h;
      box.width = w;
      box.top = static_cast<int64_t>(rng.below(static_cast<uint64_t>(H - h + 1)));
      box.left = static_cast<int64_t>(rng.below(static_cast<uint64_t>(W - w + 1)));
      return box;
    }
  }
  // Fallback: the largest centred box whose ratio lies in the allowed range.
  const double in_ratio = static_cast<double>(W) / static_cast<double>(H);
  CropBox box{0, 0, H, W};
  if (in_ratio < o.min_ratio) {
    box.height = std::clamp<int64_t>(
        static_cast<int64_t>(std::nearbyint(static_cast<double>(W) / o.min_ratio)), 1, H);
  } else if (in_ratio > o.max_ratio) {
    box.width = std::clamp<int64_t>(
        static_cast<int64_t>(std::nearbyint(static_cast<double>(H) * o.max_ratio)), 1, W);
  }
  box.top = (H - box.height) / 2;
  box.left = (W - box.width) / 2;
  return box;
}

double jitter_factor(Rng& rng, double strength) {
  return rng.uniform(std::max(0.0, 1.0 - strength), 1.0 + strength);
}

ViewPlan draw_plan(Rng& rng, int64_t H, int64_t W, const CropGroup& group,
                   const AugmentOptions& o) {
  ViewPlan plan;
  plan.box = random_resized_crop(rng, H, W, group, o);
  plan.flip = rng.bernoulli(o.flip_prob);
  plan.jitter = rng.bernoulli(o.jitter_prob);
  for (int i = 3; i > 0; --i) std::swap(plan.order[i], plan.order[rng.below(i + 1)]);
  plan.brightness = jitter_factor(rng, o.brightness);
  plan.contrast = jitter_factor(rng, o.contrast);
  plan.saturation = jitter_factor(rng, o.saturation);
  plan.hue = rng.uniform(-o.hue, o.hue);
  plan.grayscale = rng.bernoulli(o.grayscale_prob);
  plan.blur = rng.bernoulli(o.blur_prob);
  plan.sigma = rng.uniform(o.blur_sigma_min, o.blur_sigma_max);
  return plan;
}

// ---- colour operations on a planar float image in [0, 1] (C planes of n pixels) ----

SWAV_PIXEL_LOOP void adjust_brightness(float* img, int64_t C, int64_t n, float f) {
  for (int64_t i = 0; i < C * n; ++i) img[i] = clamp01(img[i] * f);
}

SWAV_PIXEL_LOOP void adjust_contrast(float* img, int64_t C, int64_t n, float f) {
  // Blend with the mean of the grayscale image (for one channel, the image itself).
  double sum = 0.0;
  if (C == 3) {
    for (int64_t i = 0; i < n; ++i)
      sum += kLumaR * img[i] + kLumaG * img[n + i] + kLumaB * img[2 * n + i];
  } else {
    for (int64_t i = 0; i < n; ++i) sum += img[i];
  }
  const float offset = (1.0f - f) * static_cast<float>(sum / static_cast<double>(n));
  for (int64_t i = 0; i < C * n; ++i) img[i] = clamp01(f * img[i] + offset);
}

SWAV_PIXEL_LOOP void adjust_saturation(float* img, int64_t C, int64_t n, float f) {
  if (C != 3) return;
  float *r = img, *g = img + n, *b = img + 2 * n;
  for (int64_t i = 0; i < n; ++i) {
    const float gray = (1.0f - f) * (kLumaR * r[i] + kLumaG * g[i] + kLumaB * b[i]);
    r[i] = clamp01(f * r[i] + gray);
    g[i] = clamp01(f * g[i] + gray);
    b[i] = clamp01(f * b[i] + gray);
  }
}

// RGB -> HSV, h += shift (mod 1), HSV -> RGB; the formulas of torchvision's _rgb2hsv / _hsv2rgb.
// Branch-free, so the loop vectorises: every pixel takes the same path and the sector's case
// is chosen by selects. The arithmetic is that of the per-pixel switch it replaced, operation for
// operation, so the values are the same.
SWAV_PIXEL_LOOP void adjust_hue(float* img, int64_t C, int64_t n, float shift) {
  if (C != 3) return;
  float *r = img, *g = img + n, *b = img + 2 * n;
  for (int64_t i = 0; i < n; ++i) {
    const float R = r[i], G = g[i], B = b[i];
    const float maxc = std::max(std::max(R, G), B);
    const float minc = std::min(std::min(R, G), B);
    const float range = maxc - minc;
    const bool gray = range == 0.0f;  // hue undefined: the pixel stays as it is
    const float cr = gray ? 1.0f : range;
    const float s = range / (gray ? 1.0f : maxc);
    const float rc = (maxc - R) / cr, gc = (maxc - G) / cr, bc = (maxc - B) / cr;
    const float h_r = bc - gc, h_g = 2.0f + rc - bc, h_b = 4.0f + gc - rc;
    float h = maxc == G ? h_g : h_b;
    h = maxc == R ? h_r : h;
    h = h / 6.0f + 1.0f + shift;
    h -= std::floor(h);
    const float v = maxc;
    const float h6 = h * 6.0f;
    const float sector = std::floor(h6);
    const float frac = h6 - sector;
    const float p = clamp01(v * (1.0f - s));
    const float q = clamp01(v * (1.0f - s * frac));
    const float t = clamp01(v * (1.0f - s * (1.0f - frac)));
    const float k = sector == 6.0f ? 0.0f : sector;
    // sector: 0 (v, t, p), 1 (q, v, p), 2 (p, v, t), 3 (p, q, v), 4 (t, p, v), 5 (v, p, q)
    float nr = p, ng = p, nb = p;
    nr = k == 0.0f ? v : nr;
    nr = k == 5.0f ? v : nr;
    nr = k == 1.0f ? q : nr;
    nr = k == 4.0f ? t : nr;
    ng = k == 1.0f ? v : ng;
    ng = k == 2.0f ? v : ng;
    ng = k == 0.0f ? t : ng;
    ng = k == 3.0f ? q : ng;
    nb = k == 3.0f ? v : nb;
    nb = k == 4.0f ? v : nb;
    nb = k == 2.0f ? t : nb;
    nb = k == 5.0f ? q : nb;
    r[i] = gray ? R : nr;
    g[i] = gray ? G : ng;
    b[i] = gray ? B : nb;
  }
}

SWAV_PIXEL_LOOP void to_grayscale(float* img, int64_t C, int64_t n) {
  if (C != 3) return;
  float *r = img, *g = img + n, *b = img + 2 * n;
  for (int64_t i = 0; i < n; ++i) {
    const float gray = kLumaR * r[i] + kLumaG * g[i] + kLumaB * b[i];
    r[i] = g[i] = b[i] = gray;
  }
}

struct Scratch {
  data::ResampleScratch resample;
  std::vector<float> kernel;
  std::vector<float> padded;  // one reflected row
  std::vector<float> plane;   // one blurred plane
};

// Separable Gaussian blur of each S x S plane, radius ceil(3 sigma), reflected borders. Both passes
// run the tap loop outside the pixel loop so the inner loop is a contiguous multiply-add.
SWAV_PIXEL_LOOP void gaussian_blur(float* img, int64_t C, int64_t S, double sigma,
                                   Scratch& scratch) {
  const int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3.0 * sigma)));
  const int64_t taps = 2 * radius + 1;
  scratch.kernel.resize(taps);
  double total = 0.0;
  for (int64_t k = -radius; k <= radius; ++k)
    total += std::exp(-0.5 * double(k * k) / (sigma * sigma));
  for (int64_t k = -radius; k <= radius; ++k) {
    scratch.kernel[k + radius] =
        static_cast<float>(std::exp(-0.5 * double(k * k) / (sigma * sigma)) / total);
  }
  scratch.padded.resize(S + 2 * radius);
  scratch.plane.resize(S * S);
  const float* kernel = scratch.kernel.data();
  float* padded = scratch.padded.data();
  float* tmp = scratch.plane.data();

  for (int64_t c = 0; c < C; ++c) {
    float* plane = img + c * S * S;
    for (int64_t y = 0; y < S; ++y) {  // rows, into tmp
      const float* row = plane + y * S;
      for (int64_t p = 0; p < S + 2 * radius; ++p) padded[p] = row[reflect_index(p - radius, S)];
      float* dst = tmp + y * S;
      std::fill(dst, dst + S, 0.0f);
      for (int64_t k = 0; k < taps; ++k) {
        const float w = kernel[k];
        const float* src = padded + k;
        for (int64_t x = 0; x < S; ++x) dst[x] += w * src[x];
      }
    }
    for (int64_t y = 0; y < S; ++y) {  // columns, from tmp back into the plane
      float* dst = plane + y * S;
      std::fill(dst, dst + S, 0.0f);
      for (int64_t k = 0; k < taps; ++k) {
        const float w = kernel[k];
        const float* src = tmp + reflect_index(y + k - radius, S) * S;
        for (int64_t x = 0; x < S; ++x) dst[x] += w * src[x];
      }
    }
  }
}

void check_normalisation(const std::vector<double>& mean, const std::vector<double>& std,
                         int64_t channels) {
  auto fits = [&](size_t n) { return n == 1 || static_cast<int64_t>(n) == channels; };
  if (!fits(mean.size()) || !fits(std.size())) {
    fail(
        "augment.mean and augment.std must have 1 or {} values for {}-channel images (got {} and "
        "{})",
        channels, channels, mean.size(), std.size());
  }
  for (double s : std) {
    if (!(s > 0.0)) fail("augment.std values must be positive (got {})", s);
  }
}

const CropGroup& group_of(const AugmentOptions& o, int64_t crop) {
  for (const auto& g : o.crops) {
    if (crop < g.count) return g;
    crop -= g.count;
  }
  TORCH_CHECK(false, "crop index out of range");
}

}  // namespace

MultiCrop::MultiCrop(AugmentOptions options, uint64_t seed)
    : options_(std::move(options)), seed_(seed) {
  const auto& o = options_;
  if (o.crops.empty()) fail("augment.crops must list at least one crop group");
  for (const auto& g : o.crops) {
    if (g.size < 1 || g.count < 1) {
      fail("augment.crops: size and count must be positive (got size {}, count {})", g.size,
           g.count);
    }
    if (!(g.min_scale > 0.0 && g.min_scale <= g.max_scale && g.max_scale <= 1.0)) {
      fail("augment.crops: need 0 < min_scale <= max_scale <= 1 (got {}, {})", g.min_scale,
           g.max_scale);
    }
  }
  if (!(o.min_ratio > 0.0 && o.min_ratio <= o.max_ratio)) {
    fail("augment: need 0 < min_ratio <= max_ratio (got {}, {})", o.min_ratio, o.max_ratio);
  }
  for (double p : {o.flip_prob, o.jitter_prob, o.grayscale_prob, o.blur_prob}) {
    if (!(p >= 0.0 && p <= 1.0)) fail("augment: probabilities must lie in [0, 1] (got {})", p);
  }
  for (double s : {o.brightness, o.contrast, o.saturation}) {
    if (!(s >= 0.0)) fail("augment: jitter strengths must be >= 0 (got {})", s);
  }
  if (!(o.hue >= 0.0 && o.hue <= 0.5)) fail("augment.hue must lie in [0, 0.5] (got {})", o.hue);
  if (o.blur_prob > 0.0 && !(o.blur_sigma_min > 0.0 && o.blur_sigma_min <= o.blur_sigma_max)) {
    fail("augment: need 0 < blur_sigma_min <= blur_sigma_max (got {}, {})", o.blur_sigma_min,
         o.blur_sigma_max);
  }
}

int64_t MultiCrop::num_crops() const {
  int64_t n = 0;
  for (const auto& g : options_.crops) n += g.count;
  return n;
}

std::vector<int64_t> MultiCrop::crop_sizes() const {
  std::vector<int64_t> sizes;
  for (const auto& g : options_.crops) sizes.insert(sizes.end(), g.count, g.size);
  return sizes;
}

namespace {

// The plan's colour jitter, grayscale and blur, then normalisation, of a resampled view.
void finish_view(const AugmentOptions& o, const ViewPlan& plan, int64_t C, int64_t S, float* out,
                 Scratch& scratch);

// One view of one image into planar float out[C, S, S].
void render_view(const AugmentOptions& o, uint64_t seed, const uint8_t* image, int64_t H, int64_t W,
                 int64_t C, int64_t sample, int64_t epoch, int64_t crop, float* out,
                 Scratch& scratch) {
  const CropGroup& group = group_of(o, crop);
  const int64_t S = group.size;
  Rng rng({static_cast<uint64_t>(data::Stream::kCrop), seed, static_cast<uint64_t>(epoch),
           static_cast<uint64_t>(sample), static_cast<uint64_t>(crop)});
  const ViewPlan plan = draw_plan(rng, H, W, group, o);

  data::resample_box_to_planar(image, W, C, plan.box.top, plan.box.left, plan.box.height,
                               plan.box.width, S, S, plan.flip, 1.0f / 255.0f, out,
                               scratch.resample);
  finish_view(o, plan, C, S, out, scratch);
}

}  // namespace

namespace data {

void finish_view(const AugmentOptions& o, const ViewPlan& plan, int64_t C, int64_t S, float* out) {
  thread_local Scratch scratch;
  swav::finish_view(o, plan, C, S, out, scratch);
}

}  // namespace data

namespace {

void finish_view(const AugmentOptions& o, const ViewPlan& plan, int64_t C, int64_t S, float* out,
                 Scratch& scratch) {
  const int64_t n = S * S;
  // Interpolation weights are non-negative and sum to one, so values already lie in [0, 1] up to
  // rounding; the jitter ops clamp their own results.
  if (plan.jitter) {
    for (int op : plan.order) {
      if (op == 0 && o.brightness > 0.0)
        adjust_brightness(out, C, n, static_cast<float>(plan.brightness));
      if (op == 1 && o.contrast > 0.0)
        adjust_contrast(out, C, n, static_cast<float>(plan.contrast));
      if (op == 2 && o.saturation > 0.0)
        adjust_saturation(out, C, n, static_cast<float>(plan.saturation));
      if (op == 3 && o.hue > 0.0) adjust_hue(out, C, n, static_cast<float>(plan.hue));
    }
  }
  if (plan.grayscale) to_grayscale(out, C, n);
  if (plan.blur) gaussian_blur(out, C, S, plan.sigma, scratch);

  for (int64_t c = 0; c < C; ++c) {
    const float m = static_cast<float>(o.mean.size() == 1 ? o.mean[0] : o.mean[c]);
    const float inv = static_cast<float>(1.0 / (o.std.size() == 1 ? o.std[0] : o.std[c]));
    float* plane = out + c * n;
    for (int64_t i = 0; i < n; ++i) plane[i] = (plane[i] - m) * inv;
  }
}

const uint8_t* image_data(const ImageSet& set) {
  TORCH_CHECK(set.images.defined() && set.images.dim() == 4 &&
                  set.images.scalar_type() == torch::kUInt8 && set.images.is_contiguous() &&
                  set.images.device().is_cpu(),
              "ImageSet.images must be a contiguous CPU uint8 [N, H, W, C] tensor");
  return set.images.data_ptr<uint8_t>();
}

}  // namespace

ViewPlan MultiCrop::plan(int64_t H, int64_t W, int64_t sample, int64_t epoch, int64_t crop) const {
  TORCH_CHECK(crop >= 0 && crop < num_crops(), "crop index ", crop, " out of range");
  Rng rng({static_cast<uint64_t>(data::Stream::kCrop), seed_, static_cast<uint64_t>(epoch),
           static_cast<uint64_t>(sample), static_cast<uint64_t>(crop)});
  return draw_plan(rng, H, W, group_of(options_, crop), options_);
}

void MultiCrop::make_view(const ImageSet& set, int64_t sample, int64_t epoch, int64_t crop,
                          torch::Tensor& out) const {
  if (set.streamed()) {  // every view of the sample is decoded together; one is kept
    const auto views = make_views(set, {sample}, epoch);
    TORCH_CHECK(crop >= 0 && crop < num_crops(), "crop index ", crop, " out of range");
    out.copy_(views[crop][0]);
    return;
  }
  const uint8_t* images = image_data(set);
  const int64_t H = set.height(), W = set.width(), C = set.channels();
  check_normalisation(options_.mean, options_.std, C);
  TORCH_CHECK(sample >= 0 && sample < set.size(), "sample index ", sample, " out of range");
  TORCH_CHECK(crop >= 0 && crop < num_crops(), "crop index ", crop, " out of range");
  const int64_t S = group_of(options_, crop).size;
  TORCH_CHECK(out.defined() && out.scalar_type() == torch::kFloat32 && out.is_contiguous() &&
                  out.sizes() == torch::IntArrayRef({C, S, S}),
              "make_view: out must be a contiguous float [", C, ", ", S, ", ", S, "] tensor");
  Scratch scratch;
  render_view(options_, seed_, images + sample * H * W * C, H, W, C, sample, epoch, crop,
              out.data_ptr<float>(), scratch);
}

std::vector<torch::Tensor> MultiCrop::make_views(const ImageSet& set,
                                                 const std::vector<int64_t>& indices,
                                                 int64_t epoch) const {
  if (set.streamed()) return make_stream_views(set, indices, epoch);
  const uint8_t* images = image_data(set);
  const int64_t N = set.size(), H = set.height(), W = set.width(), C = set.channels();
  check_normalisation(options_.mean, options_.std, C);
  const auto B = static_cast<int64_t>(indices.size());
  for (int64_t index : indices)
    TORCH_CHECK(index >= 0 && index < N, "sample index ", index, " out of range");

  const std::vector<int64_t> sizes = crop_sizes();
  const auto K = static_cast<int64_t>(sizes.size());
  std::vector<torch::Tensor> views;
  std::vector<float*> outs;
  for (int64_t s : sizes) {
    views.push_back(
        torch::empty({B, C, s, s}, torch::TensorOptions(torch::kFloat32).pinned_memory(pinned_)));
    outs.push_back(views.back().data_ptr<float>());
  }

  // Tasks are (sample, crop) pairs handed out in small chunks; each view writes only its own slice.
  const int64_t tasks = B * K;
  data::run_tasks(
      tasks, options_.workers, 8, [] { return Scratch{}; },
      [&](int64_t t, Scratch& scratch) {
        const int64_t b = t / K, k = t % K;
        const int64_t sample = indices[b];
        const int64_t view_numel = C * sizes[k] * sizes[k];
        render_view(options_, seed_, images + sample * H * W * C, H, W, C, sample, epoch, k,
                    outs[k] + b * view_numel, scratch);
      });
  return views;
}

std::vector<torch::Tensor> MultiCrop::make_stream_views(const ImageSet& set,
                                                        const std::vector<int64_t>& indices,
                                                        int64_t epoch) const {
  const ImageFiles& files = *set.files;
  const int64_t N = set.size();
  check_normalisation(options_.mean, options_.std, 3);
  const auto B = static_cast<int64_t>(indices.size());
  for (int64_t index : indices)
    TORCH_CHECK(index >= 0 && index < N, "sample index ", index, " out of range");
  const std::vector<int64_t> sizes = crop_sizes();
  std::vector<torch::Tensor> views;
  for (int64_t s : sizes) {
    views.push_back(
        torch::empty({B, 3, s, s}, torch::TensorOptions(torch::kFloat32).pinned_memory(pinned_)));
  }
  // One task per sample: its file is read and decoded once for all its views.
  data::run_tasks(
      B, options_.workers, 1, [&] { return std::vector<float*>(sizes.size()); },
      [&](int64_t b, std::vector<float*>& outs) {
        for (size_t k = 0; k < sizes.size(); ++k)
          outs[k] = views[k].data_ptr<float>() + b * 3 * sizes[k] * sizes[k];
        // With data.skip_corrupt, a file that cannot be decoded gives way to the next
        // sample's.
        const int64_t tries = files.skip_corrupt ? std::min<int64_t>(N, 100) : 1;
        for (int64_t t = 0;; ++t) {
          const int64_t sample = (indices[b] + t) % N;
          try {
            data::render_file_views(*this, files.paths[sample], sample, epoch, outs);
            return;
          } catch (const UserError& e) {
            if (t + 1 >= tries) throw;
            files.corrupt->add(files.paths[sample], e.what());
          }
        }
      });
  return views;
}

torch::Tensor normalize_images(const torch::Tensor& images_uint8_nhwc,
                               const std::vector<double>& mean, const std::vector<double>& std) {
  TORCH_CHECK(images_uint8_nhwc.dim() == 4 && images_uint8_nhwc.scalar_type() == torch::kUInt8,
              "normalize_images expects uint8 [N, H, W, C]");
  const int64_t C = images_uint8_nhwc.size(3);
  check_normalisation(mean, std, C);
  auto x = images_uint8_nhwc.permute({0, 3, 1, 2}).to(torch::kFloat32).div_(255.0);
  auto m = torch::tensor(mean, torch::kFloat64).to(torch::kFloat32).view({1, -1, 1, 1});
  auto s = torch::tensor(std, torch::kFloat64).to(torch::kFloat32).view({1, -1, 1, 1});
  return x.sub_(m).div_(s).contiguous();
}

std::vector<torch::Tensor> cat_equal_resolutions(const std::vector<torch::Tensor>& crops) {
  std::vector<torch::Tensor> out;
  size_t begin = 0;
  while (begin < crops.size()) {
    size_t end = begin + 1;
    while (end < crops.size() && crops[end].sizes() == crops[begin].sizes()) ++end;
    out.push_back(
        torch::cat(std::vector<torch::Tensor>(crops.begin() + begin, crops.begin() + end)));
    begin = end;
  }
  return out;
}

}  // namespace swav
