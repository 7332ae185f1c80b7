#include "swav/data/stream_views.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>

#include "swav/data/decode.h"
#include "swav/data/parallel.h"
#include "swav/data/resample.h"
#include "swav/data/view_ops.h"
#include "swav/util/error.h"

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
    const DecodedRegion region = decode_region(
        path, bytes, union_of(boxes), std::min(max_reduction, largest_reduction(boxes, sizes)));
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

namespace swav {

bool CorruptFiles::add(const std::string& path, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!paths_.insert(path).second) return false;
  fmt::print(stderr, "warning: skipping a file that cannot be decoded (data.skip_corrupt): {}\n",
             why);
  return true;
}

int64_t CorruptFiles::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return static_cast<int64_t>(paths_.size());
}

namespace {

// The evaluation view of one file into uint8 [side, side, 3]: the centre square of the image
// (the short side's length), resized to side x side; at a DCT reduction where the square allows.
void eval_view(const std::string& path, int64_t side, uint8_t* out, data::ResampleScratch& scratch,
               std::vector<float>& planar) {
  const auto bytes = data::read_file_bytes(path);
  const auto info = data::read_image_info(path, bytes);
  const int64_t edge = std::min(info.height, info.width);
  const data::PixelBox box{(info.height - edge) / 2, (info.width - edge) / 2, edge, edge};
  const auto region = data::decode_region(path, bytes, box, data::largest_reduction({box}, {side}));
  planar.resize(3 * side * side);
  data::resample_region_to_planar(
      region.pixels.data(), region.width, region.height, 3, region.top_of(box), region.left_of(box),
      region.height_of(box), region.width_of(box), side, side, false, 1.0f, planar.data(), scratch);
  const int64_t n = side * side;
  for (int64_t p = 0; p < n; ++p)
    for (int64_t c = 0; c < 3; ++c)
      out[p * 3 + c] =
          static_cast<uint8_t>(std::clamp(std::nearbyint(planar[c * n + p]), 0.0f, 255.0f));
}

}  // namespace

torch::Tensor image_rows(const ImageSet& set, int64_t begin, int64_t rows) {
  TORCH_CHECK(begin >= 0 && rows >= 0 && begin + rows <= set.size(), "image_rows: rows [", begin,
              ", ", begin + rows, ") outside a set of ", set.size());
  if (!set.streamed()) return set.images.narrow(0, begin, rows);
  const ImageFiles& files = *set.files;
  const int64_t side = files.side;
  auto out = torch::empty({rows, side, side, 3}, torch::kUInt8);
  uint8_t* dst = out.data_ptr<uint8_t>();
  struct Scratch {
    data::ResampleScratch resample;
    std::vector<float> planar;
  };
  data::run_tasks(
      rows, data::default_threads(), 1, [] { return Scratch{}; },
      [&](int64_t i, Scratch& scratch) {
        const std::string& path = files.paths[begin + i];
        uint8_t* image = dst + i * side * side * 3;
        try {
          eval_view(path, side, image, scratch.resample, scratch.planar);
        } catch (const UserError& e) {
          if (!files.skip_corrupt) throw;
          files.corrupt->add(path, e.what());
          std::fill(image, image + side * side * 3, uint8_t{128});
        }
      });
  return out;
}

}  // namespace swav
