#include "swav/data/stream_views.h"

#include <algorithm>
#include <chrono>

#include "swav/data/decode.h"
#include "swav/data/resample.h"
#include "swav/data/view_ops.h"

namespace swav::data {
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point& start) {
  const auto now = Clock::now();
  const double s = std::chrono::duration<double>(now - start).count();
  start = now;
  return s;
}

PixelBox pixel_box(const CropBox& b) {
  return PixelBox{b.top, b.left, b.height, b.width};
}

PixelBox union_of(const std::vector<PixelBox>& boxes) {
  int64_t top = boxes[0].top, left = boxes[0].left;
  int64_t bottom = top + boxes[0].height, right = left + boxes[0].width;
  for (const auto& b : boxes) {
    top = std::min(top, b.top);
    left = std::min(left, b.left);
    bottom = std::max(bottom, b.top + b.height);
    right = std::max(right, b.left + b.width);
  }
  return PixelBox{top, left, bottom - top, right - left};
}

}  // namespace

void render_file_views(const MultiCrop& crops, const std::string& path, int64_t sample,
                       int64_t epoch, const std::vector<float*>& outs, StreamDecode mode,
                       int max_reduction, StreamTimes* times) {
  thread_local ResampleScratch scratch;
  auto clock = Clock::now();
  const std::vector<unsigned char> bytes = read_file_bytes(path);
  const double read_s = since(clock);
  const ImageInfo info = read_image_info(path, bytes);

  const std::vector<int64_t> sizes = crops.crop_sizes();
  const auto K = static_cast<int64_t>(sizes.size());
  std::vector<ViewPlan> plans;
  std::vector<PixelBox> boxes;
  for (int64_t k = 0; k < K; ++k) {
    plans.push_back(crops.plan(info.height, info.width, sample, epoch, k));
    boxes.push_back(pixel_box(plans.back().box));
  }
  double decode_s = 0, resize_s = 0, rest_s = since(clock);

  auto render = [&](const DecodedRegion& region, int64_t k) {
    const int64_t S = sizes[k];
    resample_region_to_planar(region.pixels.data(), region.width, region.height, 3,
                              region.top_of(boxes[k]), region.left_of(boxes[k]),
                              region.height_of(boxes[k]), region.width_of(boxes[k]), S, S,
                              plans[k].flip, 1.0f / 255.0f, outs[k], scratch);
    resize_s += since(clock);
    finish_view(crops.options(), plans[k], 3, S, outs[k]);
    rest_s += since(clock);
  };
  if (mode == StreamDecode::kPerSample) {
    const DecodedRegion region =
        decode_region(path, bytes, union_of(boxes),
                      std::min(max_reduction, largest_reduction(boxes, sizes)));
    decode_s += since(clock);
    for (int64_t k = 0; k < K; ++k) render(region, k);
  } else {
    for (int64_t k = 0; k < K; ++k) {
      const DecodedRegion region =
          decode_region(path, bytes, boxes[k],
                        std::min(max_reduction, largest_reduction({boxes[k]}, {sizes[k]})));
      decode_s += since(clock);
      render(region, k);
    }
  }
  if (times != nullptr) {
    times->read += read_s;
    times->decode += decode_s;
    times->resize += resize_s;
    times->rest += rest_s;
    times->images += 1;
    times->views += K;
  }
}

}  // namespace swav::data
