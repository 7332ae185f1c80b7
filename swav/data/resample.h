// Antialiased bilinear resampling of uint8 channels-last images (internal to swav/data).
//
// The filter is the triangle ("bilinear") filter of PIL and of torch's interpolate(antialias=true):
// when shrinking by a factor s its support widens to s input pixels so every input pixel
// contributes; when enlarging it is plain bilinear with half-pixel centres (align_corners=false).
#pragma once
#include <cstdint>
#include <vector>

// The per-pixel loops of the augmentation (resampling, colour jitter, grayscale, blur) are built
// twice with GCC: an AVX2 clone and the baseline, the CPU choosing at load time. Only the vector
// width differs (no FMA, and GCC's ISO mode contracts nothing), so both give the same values on
// every machine. Their files are compiled with -fno-trapping-math (CMakeLists.txt), which lets the
// selects of branch-free loops vectorise and changes no value.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define SWAV_PIXEL_LOOP __attribute__((target_clones("avx2", "default")))
#else
#define SWAV_PIXEL_LOOP
#endif

namespace swav::data {

/// Mirror index without repeating the edge (torch's "reflect" padding), for any offset: the border
/// rule of both multi-crop paths' Gaussian blur.
inline int64_t reflect_index(int64_t i, int64_t n) {
  if (n == 1) return 0;
  const int64_t period = 2 * (n - 1);
  i %= period;
  if (i < 0) i += period;
  return i < n ? i : period - i;
}

/// Per output index: the first input index and the normalised weights of its window.
struct Taps {
  int64_t out_size = 0;
  int64_t max_taps = 0;        // window length (weights are zero-padded to it)
  std::vector<int64_t> first;  // [out_size]
  std::vector<int64_t> count;  // [out_size]
  std::vector<float> weights;  // [out_size * max_taps]
};

/// Taps mapping `in_size` input pixels onto `out_size` outputs; `mirror` reverses the output order
/// (a horizontal flip folded into the resampling).
void compute_taps(int64_t in_size, int64_t out_size, bool mirror, Taps& taps);

/// The same for a box that starts `in_start` pixels into an input of `in_limit` pixels and spans
/// `in_length` (fractional when the input was decoded at a reduced scale); windows are clipped to
/// [0, in_limit). With in_start 0 and in_length == in_limit it is the overload above, exactly.
void compute_taps(double in_start, double in_length, int64_t in_limit, int64_t out_size,
                  bool mirror, Taps& taps);

/// Reusable buffers, one per thread.
struct ResampleScratch {
  Taps rows, cols;
  std::vector<float> tmp;
};

/// Resamples the box (top, left, box_h, box_w) of a channels-last uint8 image (height rows of
/// `width` pixels, `channels` each) to out_h x out_w and writes it channels-first (planar) as
/// float, each value multiplied by `value_scale`. `mirror` flips horizontally.
void resample_box_to_planar(const uint8_t* image, int64_t width, int64_t channels, int64_t top,
                            int64_t left, int64_t box_h, int64_t box_w, int64_t out_h,
                            int64_t out_w, bool mirror, float value_scale, float* out,
                            ResampleScratch& scratch);

/// The same for a fractional box of an image of `height` rows (a region decoded at a reduced
/// scale): the filter's windows are clipped to the pixels the box touches.
void resample_region_to_planar(const uint8_t* image, int64_t width, int64_t height,
                               int64_t channels, double top, double left, double box_h,
                               double box_w, int64_t out_h, int64_t out_w, bool mirror,
                               float value_scale, float* out, ResampleScratch& scratch);

/// The two passes with scratch.rows and scratch.cols already computed; rows [top, top + box_h)
/// and the columns from `left` are read.
void resample_with_taps(const uint8_t* image, int64_t width, int64_t channels, int64_t top,
                        int64_t left, int64_t box_h, float value_scale, float* out,
                        ResampleScratch& scratch);

}  // namespace swav::data
