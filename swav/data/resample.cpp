#include "swav/data/resample.h"

#include <algorithm>
#include <cmath>

namespace swav::data {

void compute_taps(int64_t in_size, int64_t out_size, bool mirror, Taps& taps) {
  compute_taps(0.0, static_cast<double>(in_size), in_size, out_size, mirror, taps);
}

void compute_taps(double in_start, double in_length, int64_t in_limit, int64_t out_size,
                  bool mirror, Taps& taps) {
  // Same window and weights as PIL's ImagingResample / ATen's _upsample_bilinear2d_aa.
  const double scale = in_length / static_cast<double>(out_size);
  const int64_t in_size = in_limit;
  const double support = scale >= 1.0 ? scale : 1.0;
  const double inv_scale = scale >= 1.0 ? 1.0 / scale : 1.0;
  const int64_t max_taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.out_size = out_size;
  taps.max_taps = max_taps;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(out_size * max_taps, 0.0f);
  auto filter = [&](int64_t k, int64_t lo, double center) {
    const double x = std::abs((static_cast<double>(k + lo) - center + 0.5) * inv_scale);
    return x < 1.0 ? 1.0 - x : 0.0;
  };
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = in_start + scale * (static_cast<double>(i) + 0.5);
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    const int64_t n = std::min(hi - lo, max_taps);
    double total = 0.0;
    for (int64_t k = 0; k < n; ++k) total += filter(k, lo, center);
    const int64_t o = mirror ? out_size - 1 - i : i;
    taps.first[o] = lo;
    taps.count[o] = n;
    float* dst = taps.weights.data() + o * max_taps;
    for (int64_t k = 0; k < n; ++k) {
      dst[k] = static_cast<float>(total > 0.0 ? filter(k, lo, center) / total : 0.0);
    }
  }
}

void resample_box_to_planar(const uint8_t* image, int64_t width, int64_t channels, int64_t top,
                            int64_t left, int64_t box_h, int64_t box_w, int64_t out_h,
                            int64_t out_w, bool mirror, float value_scale, float* out,
                            ResampleScratch& scratch) {
  compute_taps(box_w, out_w, mirror, scratch.cols);
  compute_taps(box_h, out_h, false, scratch.rows);
  resample_with_taps(image, width, channels, top, left, box_h, value_scale, out, scratch);
}

void resample_region_to_planar(const uint8_t* image, int64_t width, int64_t height,
                               int64_t channels, double top, double left, double box_h,
                               double box_w, int64_t out_h, int64_t out_w, bool mirror,
                               float value_scale, float* out, ResampleScratch& scratch) {
  // The window of every output pixel stays inside the pixels the box touches.
  const int64_t row0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(top)), 0, height - 1);
  const int64_t col0 = std::clamp<int64_t>(static_cast<int64_t>(std::floor(left)), 0, width - 1);
  const int64_t row1 =
      std::clamp<int64_t>(static_cast<int64_t>(std::ceil(top + box_h)), row0 + 1, height);
  const int64_t col1 =
      std::clamp<int64_t>(static_cast<int64_t>(std::ceil(left + box_w)), col0 + 1, width);
  compute_taps(left - static_cast<double>(col0), box_w, col1 - col0, out_w, mirror, scratch.cols);
  compute_taps(top - static_cast<double>(row0), box_h, row1 - row0, out_h, false, scratch.rows);
  resample_with_taps(image, width, channels, row0, col0, row1 - row0, value_scale, out, scratch);
}

SWAV_PIXEL_LOOP void resample_with_taps(const uint8_t* image, int64_t width, int64_t channels,
                                        int64_t top, int64_t left, int64_t box_h, float value_scale,
                                        float* out, ResampleScratch& scratch) {
  const int64_t out_h = scratch.rows.out_size, out_w = scratch.cols.out_size;
  const Taps& cols = scratch.cols;
  const Taps& rows = scratch.rows;
  const int64_t C = channels;

  // Horizontal pass over the rows of the box: tmp is [box_h, C, out_w] so the vertical pass reads
  // contiguous runs.
  scratch.tmp.resize(box_h * C * out_w);
  float* tmp = scratch.tmp.data();
  for (int64_t y = 0; y < box_h; ++y) {
    const uint8_t* row = image + ((top + y) * width + left) * C;
    float* trow = tmp + y * C * out_w;
    for (int64_t x = 0; x < out_w; ++x) {
      const uint8_t* src = row + cols.first[x] * C;
      const float* wt = cols.weights.data() + x * cols.max_taps;
      const int64_t n = cols.count[x];
      if (C == 1) {
        float acc = 0.0f;
        for (int64_t k = 0; k < n; ++k) acc += wt[k] * src[k];
        trow[x] = acc;
      } else if (C == 3) {
        float a0 = 0.0f, a1 = 0.0f, a2 = 0.0f;
        for (int64_t k = 0; k < n; ++k) {
          a0 += wt[k] * src[3 * k];
          a1 += wt[k] * src[3 * k + 1];
          a2 += wt[k] * src[3 * k + 2];
        }
        trow[x] = a0;
        trow[out_w + x] = a1;
        trow[2 * out_w + x] = a2;
      } else {
        for (int64_t c = 0; c < C; ++c) {
          float acc = 0.0f;
          for (int64_t k = 0; k < n; ++k) acc += wt[k] * src[k * C + c];
          trow[c * out_w + x] = acc;
        }
      }
    }
  }

  // Vertical pass into the planar output.
  for (int64_t c = 0; c < C; ++c) {
    float* plane = out + c * out_h * out_w;
    for (int64_t y = 0; y < out_h; ++y) {
      float* dst = plane + y * out_w;
      const float* wt = rows.weights.data() + y * rows.max_taps;
      const int64_t first = rows.first[y];
      const int64_t n = rows.count[y];
      std::fill(dst, dst + out_w, 0.0f);
      for (int64_t k = 0; k < n; ++k) {
        const float w = wt[k] * value_scale;
        const float* src = tmp + ((first + k) * C + c) * out_w;
        for (int64_t x = 0; x < out_w; ++x) dst[x] += w * src[x];
      }
    }
  }
}

}  // namespace swav::data
