// bench_stream FOLDER [--workers N] [--images M] [--mode per_sample|per_view] [--max-reduction R]
//              [--jitter P] [--blur P]
//
// The streaming path's throughput on an image folder (FOLDER/<class>/*.jpg, e.g. one split made by
// tools/make_photo_folder.py): the paper's multi-crop (2 x 224 at scale 0.14-1, 6 x 96 at
// 0.05-0.14, flip, colour jitter 0.8, grayscale 0.2, blur 0.5, normalisation) of M images in
// batches of 64 through MultiCrop on N worker threads, as training makes them. Prints images and
// views per second, then the cost per image on one thread split into read, decode (with the DCT
// reduction and partial decode), resize and the rest (jitter, grayscale, blur, normalisation).
// tools/bench_stream_vs_torchvision.sh runs it beside torchvision's DataLoader on the same files.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "swav/data/stream_views.h"
#include "swav/util/error.h"

using namespace swav;

namespace {

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bench_stream FOLDER [--workers N] [--images M] [--mode per_sample|per_view]"
               " [--max-reduction 1|2|4|8] [--jitter P] [--blur P]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) try {
  if (argc < 2) usage();
  const std::string folder = argv[1];
  int64_t workers = 1, images = 512;
  int max_reduction = 8;
  double jitter = 0.8, blur = 0.5;  // probabilities (the paper's), to see what each costs
  data::StreamDecode mode = data::StreamDecode::kPerSample;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) usage();
    const std::string v = argv[++i];
    if (a == "--workers") {
      workers = std::stoll(v);
    } else if (a == "--images") {
      images = std::stoll(v);
    } else if (a == "--jitter") {
      jitter = std::stod(v);
    } else if (a == "--blur") {
      blur = std::stod(v);
    } else if (a == "--max-reduction") {
      max_reduction = std::stoi(v);
    } else if (a == "--mode") {
      if (v != "per_sample" && v != "per_view") usage();
      mode = v == "per_view" ? data::StreamDecode::kPerView : data::StreamDecode::kPerSample;
    } else {
      usage();
    }
  }
  ImageSet set = stream_image_folder(folder, 224, false);
  AugmentOptions o;  // the paper's multi-crop: the defaults
  o.workers = workers;
  o.jitter_prob = jitter;
  o.blur_prob = blur;
  const MultiCrop crops(o, 1);
  const int64_t N = set.size(), batch = 64;
  const auto views_per_image = crops.num_crops();

  // Throughput: batches through MultiCrop, after one warm-up batch (page cache, thread start).
  // per_view mode is measured in the split below only (MultiCrop decodes once per sample).
  auto indices = [&](int64_t first, int64_t n) {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < n; ++i) out.push_back((first + i) % N);
    return out;
  };
  crops.make_views(set, indices(0, batch), 0);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t done = 0; done < images; done += batch)
    crops.make_views(set, indices(done, std::min(batch, images - done)), 1);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("bench_stream: %lld images of %s, %lld worker(s): %.1f images/s, %.0f views/s\n",
              static_cast<long long>(images), folder.c_str(), static_cast<long long>(workers),
              static_cast<double>(images) / seconds,
              static_cast<double>(images * views_per_image) / seconds);

  // The split of one image's cost, on one thread.
  data::StreamTimes times;
  std::vector<torch::Tensor> outs;
  std::vector<float*> ptrs;
  for (int64_t s : crops.crop_sizes()) {
    outs.push_back(torch::empty({3, s, s}));
    ptrs.push_back(outs.back().data_ptr<float>());
  }
  const int64_t split_images = std::min<int64_t>(images, 256);
  for (int64_t i = 0; i < split_images; ++i)
    data::render_file_views(crops, set.files->paths[i % N], i % N, 2, ptrs, mode, max_reduction,
                            &times);
  const double per = 1000.0 / static_cast<double>(times.images);
  std::printf(
      "bench_stream: per image on 1 thread (%s, max reduction 1/%d): read %.2f ms, decode %.2f ms, "
      "resize %.2f ms, rest %.2f ms, total %.2f ms\n",
      mode == data::StreamDecode::kPerView ? "per_view" : "per_sample", max_reduction,
      times.read * per, times.decode * per, times.resize * per, times.rest * per,
      (times.read + times.decode + times.resize + times.rest) * per);
  return 0;
} catch (const UserError& e) {
  std::fprintf(stderr, "bench_stream: %s\n", e.what());
  return 1;
}
