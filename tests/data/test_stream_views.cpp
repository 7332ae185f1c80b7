// The streaming path of image folders: views decoded straight from the files (only the part the
// crops need, at the DCT reduction they allow), against the cached path's views, Pillow's crops of
// the same boxes on real photos, and torchvision's crop geometry.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "swav/data/decode.h"
#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "swav/data/resample.h"
#include "swav/data/stream_views.h"
#include "swav/util/error.h"
#include "test_paths.h"
#include "writers.h"

using namespace swav;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_under(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A few real-photo JPEGs of ImageNet's sizes (tools/make_photo_folder.py, from Debian's
// mate-backgrounds), or nothing when the photos or Python's torch are missing.
std::vector<std::string> real_photos(const test::TempDir& dir) {
  if (test::torch_python().empty() || !fs::is_directory("/usr/share/backgrounds/mate/nature"))
    return {};
  const std::string command = fmt::format(
      "\"{}\" \"{}/tools/make_photo_folder.py\" \"{}\" --per-class 1 --val-per-class 0 --seed 5",
      test::torch_python(), SWAV_SOURCE_DIR, dir.str("photos"));
  if (std::system(command.c_str()) != 0) return {};
  return files_under(dir.path() / "photos");
}

// Every view of `path` through the streaming path and through MultiCrop on the decoded image.
double largest_view_difference(const MultiCrop& crops, const std::string& path,
                               data::StreamDecode mode, int max_reduction) {
  ImageSet set;
  set.images = decode_image_file(path).unsqueeze(0).contiguous();
  set.labels = torch::zeros({1}, torch::kInt64);
  set.num_classes = 1;
  double worst = 0;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<torch::Tensor> streamed;
    std::vector<float*> outs;
    for (int64_t s : crops.crop_sizes()) {
      streamed.push_back(torch::full({3, s, s}, -99.0f));
      outs.push_back(streamed.back().data_ptr<float>());
    }
    data::render_file_views(crops, path, /*sample=*/0, epoch, outs, mode, max_reduction);
    for (int64_t k = 0; k < crops.num_crops(); ++k) {
      auto cached = torch::empty_like(streamed[k]);
      crops.make_view(set, 0, epoch, k, cached);
      worst = std::max(worst, (cached - streamed[k]).abs().max().item<double>());
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("views decoded from the file equal the cached path's views of the decoded image",
          "[data][stream]") {
  // Without DCT reduction the streaming path decodes only the rows and block columns around the
  // crops, and must give the very pixels of the whole decode. JPEGs in 4:2:0 (photo), 4:4:4,
  // progressive, grayscale and Adobe CMYK, and PNGs in RGB, gray, RGBA and palette.
  AugmentOptions o;
  o.crops = {{24, 2, 0.14, 1.0}, {12, 3, 0.05, 0.3}};
  o.workers = 1;
  const MultiCrop crops(o, 11);
  test::TempDir dir;
  std::vector<std::string> files =
      files_under(fs::path(SWAV_SOURCE_DIR) / "fuzz" / "corpus" / "image");
  // And a larger JPEG of uneven size, so crops start and end inside blocks.
  auto y = torch::arange(157, torch::kFloat32).view({157, 1, 1});
  auto x = torch::arange(203, torch::kFloat32).view({1, 203, 1});
  auto c = torch::tensor({0.0f, 1.0f, 2.0f}).view({1, 1, 3});
  test::write_jpeg(dir.str("uneven.jpg"),
                   (128 + 100 * torch::sin(0.13f * x + 0.07f * y + c)).round().to(torch::kUInt8));
  files.push_back(dir.str("uneven.jpg"));
  for (const auto& path : files) {
    INFO(path);
    CHECK(largest_view_difference(crops, path, data::StreamDecode::kPerSample, 1) == 0.0);
    CHECK(largest_view_difference(crops, path, data::StreamDecode::kPerView, 1) == 0.0);
  }
  // With reductions (the 203 x 157 image allows 1/2 for some views), the views stay close: the
  // reduced IDCT averages each block's pixels much as the antialiased filter would.
  const double reduced =
      largest_view_difference(crops, dir.str("uneven.jpg"), data::StreamDecode::kPerView, 8);
  INFO("largest difference with reductions " << reduced);
  CHECK(reduced > 0.0);
  CHECK(reduced < 2.0);  // normalised units (std 0.225): under half the range
}

TEST_CASE("a truncated or corrupt file is refused by name on the streaming path",
          "[data][stream]") {
  AugmentOptions o;
  o.crops = {{16, 2, 0.14, 1.0}};
  const MultiCrop crops(o, 3);
  test::TempDir dir;
  const std::string photo = std::string(SWAV_SOURCE_DIR) + "/fuzz/corpus/image/photo.jpg";
  const std::string bytes = test::file_bytes(photo);
  std::vector<float> a(3 * 16 * 16), b(3 * 16 * 16);
  auto error_of = [&](const std::string& path) {
    try {
      data::render_file_views(crops, path, 0, 0, {a.data(), b.data()});
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  const std::string cut = dir.str("cut.jpg");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 2 / 3);
  CHECK_THAT(error_of(cut), Catch::Contains(cut) && Catch::Contains("corrupt JPEG"));
  const std::string garbage = dir.str("garbage.jpg");
  std::string damaged = bytes;
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 40; ++i) damaged[i] = '\x17';
  std::ofstream(garbage, std::ios::binary) << damaged;
  CHECK_THAT(error_of(garbage), Catch::Contains(garbage) && Catch::Contains("corrupt"));
  const std::string text = dir.str("text.jpg");
  std::ofstream(text) << "not an image";
  CHECK_THAT(error_of(text), Catch::Contains(text) && Catch::Contains("not a JPEG or PNG"));
  CHECK_THAT(error_of(dir.str("missing.jpg")), Catch::Contains(dir.str("missing.jpg")));
}

TEST_CASE("crops decoded from real photos match Pillow's crop and resize of the same boxes",
          "[data][stream][python]") {
  test::TempDir dir;
  const auto photos = real_photos(dir);
  if (photos.empty()) {
    WARN("no Python with torch next to LibTorch, or no /usr/share/backgrounds/mate: skipped");
    return;
  }
  // SwAV's crops (2 x 224 at scale 0.14-1, 4 x 96 at 0.05-0.14) and small ones from large boxes,
  // which decode at DCT reductions of 2 to 8.
  AugmentOptions o;
  o.crops = {{224, 2, 0.14, 1.0}, {96, 4, 0.05, 0.14}, {64, 2, 0.14, 1.0}, {32, 3, 0.3, 1.0}};
  const MultiCrop crops(o, 7);
  const auto sizes = crops.crop_sizes();
  struct Ours {
    torch::Tensor view;
    int reduce;
  };
  std::vector<Ours> ours;
  nlohmann::json list = nlohmann::json::array();
  data::ResampleScratch scratch;
  for (size_t i = 0; i < photos.size(); ++i) {
    const auto bytes = data::read_file_bytes(photos[i]);
    const auto info = data::read_image_info(photos[i], bytes);
    for (int64_t k = 0; k < crops.num_crops(); ++k) {
      const CropBox b = crops.plan(info.height, info.width, static_cast<int64_t>(i), 0, k).box;
      const data::PixelBox box{b.top, b.left, b.height, b.width};
      const int64_t S = sizes[k];
      for (int reduce : {1, data::largest_reduction({box}, {S})}) {
        const auto region = data::decode_region(photos[i], bytes, box, reduce);
        auto view = torch::empty({3, S, S});
        data::resample_region_to_planar(region.pixels.data(), region.width, region.height, 3,
                                        region.top_of(box), region.left_of(box),
                                        region.height_of(box), region.width_of(box), S, S, false,
                                        1.0f, view.data_ptr<float>(), scratch);
        ours.push_back({view, reduce});
        list.push_back(
            {{"file", photos[i]}, {"box", {b.top, b.left, b.height, b.width}}, {"size", S}});
      }
    }
  }
  test::save_tensors(dir.str("inputs.pt"), c10::Dict<std::string, at::Tensor>());
  std::ofstream(dir.str("case.json")) << nlohmann::json{{"crops", list}}.dump();
  REQUIRE(test::run_python("pil_crop_reference.py", dir.str("")));
  const auto reference = test::load_tensors(dir.str("outputs.pt"));

  // Per reduction: the largest and the mean absolute difference per channel, in uint8 levels.
  std::map<int, std::vector<double>> worst, sum;
  std::map<int, int64_t> count;
  for (size_t i = 0; i < ours.size(); ++i) {
    const auto theirs = reference.at(fmt::format("crop/{}", i)).toTensor().to(torch::kFloat32);
    const auto diff = (ours[i].view - theirs).abs();
    auto& w = worst[ours[i].reduce];
    auto& s = sum[ours[i].reduce];
    w.resize(3, 0.0);
    s.resize(3, 0.0);
    for (int c = 0; c < 3; ++c) {
      w[c] = std::max(w[c], diff[c].max().item<double>());
      s[c] += diff[c].mean().item<double>();
    }
    ++count[ours[i].reduce];
  }
  for (const auto& [reduce, w] : worst) {
    const auto& s = sum[reduce];
    const double n = static_cast<double>(count[reduce]);
    INFO("reduction 1/" << reduce << ", " << count[reduce] << " crops: largest difference R "
                        << w[0] << " G " << w[1] << " B " << w[2] << ", mean R " << s[0] / n
                        << " G " << s[1] / n << " B " << s[2] / n);
    if (reduce == 1) {
      // The same decoder's pixels and the same filter: what is left is Pillow's fixed-point
      // arithmetic and its rounding to uint8 (ours stays float).
      // Measured: at most 1 level, 0.26 on average.
      for (int c = 0; c < 3; ++c) {
        CHECK(w[c] <= 1.0 + 1e-3);
        CHECK(s[c] / n <= 0.3);
      }
    } else {
      // libjpeg's reduced IDCT is a box filter of its own over each block, close to but not the
      // full decode followed by the antialiased bilinear filter. Measured on these photos: at
      // most 41 levels (at sharp edges), 1.2 to 1.7 on average. libjpeg-turbo's integer IDCTs give
      // the same pixels on every instruction set, and the resize is ours, so this holds across
      // CPUs.
      for (int c = 0; c < 3; ++c) {
        CHECK(w[c] <= 48.0);
        CHECK(s[c] / n <= 2.5);
      }
    }
    WARN("reduction 1/" << reduce << ", " << count[reduce] << " crops: largest difference R "
                        << w[0] << " G " << w[1] << " B " << w[2] << ", mean R " << s[0] / n
                        << " G " << s[1] / n << " B " << s[2] / n);
  }
  CHECK(count.size() == 4);  // full scale and every reduction were compared
}

TEST_CASE("crop geometry on the original size follows torchvision's RandomResizedCrop",
          "[data][stream][python]") {
  if (test::torch_python().empty()) {
    WARN("no Python with torch next to LibTorch: skipped");
    return;
  }
  // ImageNet's typical landscape and portrait sizes, and a panorama that often takes the fallback.
  const std::vector<std::pair<int64_t, int64_t>> image_sizes = {{375, 500}, {500, 333}, {120, 900}};
  const int64_t draws = 20000;
  AugmentOptions o;
  o.crops = {{224, 1, 0.14, 1.0}};
  const MultiCrop crops(o, 23);
  test::TempDir dir;
  test::save_tensors(dir.str("inputs.pt"), c10::Dict<std::string, at::Tensor>());
  nlohmann::json sizes_json = nlohmann::json::array();
  for (const auto& [h, w] : image_sizes) sizes_json.push_back({h, w});
  std::ofstream(dir.str("case.json")) << nlohmann::json{
      {"draws", draws},
      {"sizes", sizes_json},
      {"scale", {0.14, 1.0}},
      {"ratio", {3.0 / 4.0, 4.0 / 3.0}}}.dump();
  REQUIRE(test::run_python("crop_geometry_reference.py", dir.str("")));
  const auto reference = test::load_tensors(dir.str("outputs.pt"));

  // The two-sample Kolmogorov-Smirnov distance between the draws' area fractions, and between
  // their log aspect ratios; at 20000 draws each, distributions that differ by 0.02 are told apart
  // with p < 0.001, and equal ones stay below it with p > 0.999.
  auto ks = [](std::vector<double> a, std::vector<double> b) {
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    double d = 0;
    size_t i = 0, j = 0;
    while (i < a.size() && j < b.size()) {
      const double v = std::min(a[i], b[j]);
      while (i < a.size() && a[i] <= v) ++i;
      while (j < b.size() && b[j] <= v) ++j;
      d = std::max(d,
                   std::abs(static_cast<double>(i) / a.size() - static_cast<double>(j) / b.size()));
    }
    return d;
  };
  for (size_t s = 0; s < image_sizes.size(); ++s) {
    const auto [H, W] = image_sizes[s];
    const auto theirs = reference.at(fmt::format("boxes/{}", s)).toTensor();
    std::vector<double> area_ours, area_theirs, aspect_ours, aspect_theirs;
    for (int64_t i = 0; i < draws; ++i) {
      const CropBox b = crops.plan(H, W, i, 0, 0).box;
      REQUIRE(b.top >= 0);
      REQUIRE(b.left >= 0);
      REQUIRE(b.top + b.height <= H);
      REQUIRE(b.left + b.width <= W);
      area_ours.push_back(static_cast<double>(b.height * b.width) / (H * W));
      aspect_ours.push_back(std::log(static_cast<double>(b.width) / b.height));
      const auto t = theirs[i];
      const double th = t[2].item<double>(), tw = t[3].item<double>();
      area_theirs.push_back(th * tw / (H * W));
      aspect_theirs.push_back(std::log(tw / th));
    }
    INFO(H << " x " << W << ": KS distance of areas " << ks(area_ours, area_theirs)
           << ", of log aspect ratios " << ks(aspect_ours, aspect_theirs));
    CHECK(ks(area_ours, area_theirs) < 0.02);
    CHECK(ks(aspect_ours, aspect_theirs) < 0.02);
  }
}

TEST_CASE("a streamed image folder: its listing, evaluation rows, views and corrupt files",
          "[data][stream]") {
  test::TempDir dir;
  auto image = [](int64_t h, int64_t w, float phase) {
    auto y = torch::arange(h, torch::kFloat32).view({h, 1, 1});
    auto x = torch::arange(w, torch::kFloat32).view({1, w, 1});
    auto c = torch::tensor({0.0f, 1.0f, 2.0f}).view({1, 1, 3});
    return (128 + 100 * torch::sin(0.2f * x + 0.1f * y + c + phase)).round().to(torch::kUInt8);
  };
  fs::create_directories(dir.path() / "train" / "a");
  fs::create_directories(dir.path() / "train" / "b");
  // Every file a different size: the streaming path keeps each one's own shape.
  test::write_jpeg(dir.str("train/a/1.jpg"), image(32, 48, 0.0f));
  test::write_jpeg(dir.str("train/a/2.jpg"), image(70, 41, 1.0f));
  test::write_png(dir.str("train/b/3.png"), image(55, 90, 2.0f));
  test::write_jpeg(dir.str("train/b/4.jpg"), image(64, 64, 3.0f));

  test::TempDir cache;
  DataOptions d;
  d.format = "image_folder";
  d.root = dir.str("");
  d.decode = "stream";
  d.image_size = 32;
  d.cache_dir = cache.str("");
  ImageSet set = load_split(d, Split::kTrain);
  REQUIRE(set.streamed());
  // The listing is cached (one file), and read back as it was listed; a damaged entry is ignored.
  const auto entries = files_under(cache.path());
  REQUIRE(entries.size() == 1);
  CHECK(load_split(d, Split::kTrain).files->paths == set.files->paths);
  fs::resize_file(entries[0], fs::file_size(entries[0]) / 2);
  CHECK(load_split(d, Split::kTrain).files->paths == set.files->paths);
  CHECK(load_split(d, Split::kTrain).labels.equal(set.labels));
  CHECK_FALSE(set.images.defined());
  CHECK(set.size() == 4);
  CHECK(set.channels() == 3);
  CHECK(set.height() == 32);
  CHECK(set.num_classes == 2);
  CHECK(set.labels.equal(torch::tensor({0, 0, 1, 1}, torch::kInt64)));

  // Evaluation rows: the centre square, resized to 32. The 32 x 48 image's centre square needs no
  // resize: its pixels are the decoded image's columns 8 to 39.
  const auto rows = image_rows(set, 0, 4);
  REQUIRE(rows.sizes() == torch::IntArrayRef({4, 32, 32, 3}));
  const auto decoded = decode_image_file(dir.str("train/a/1.jpg"));
  CHECK(rows[0].equal(decoded.narrow(1, 8, 32)));
  CHECK(image_rows(set, 2, 2).equal(rows.narrow(0, 2, 2)));

  // Views: each sample's own file and size, the same as rendering that file alone.
  AugmentOptions o;
  o.crops = {{24, 2, 0.14, 1.0}, {12, 2, 0.05, 0.3}};
  o.workers = 2;
  const MultiCrop crops(o, 5);
  const auto views = crops.make_views(set, {3, 1, 2}, /*epoch=*/4);
  REQUIRE(views.size() == 4);
  CHECK(views[0].sizes() == torch::IntArrayRef({3, 3, 24, 24}));
  CHECK(views[3].sizes() == torch::IntArrayRef({3, 3, 12, 12}));
  {
    std::vector<torch::Tensor> alone;
    std::vector<float*> outs;
    for (int64_t s : crops.crop_sizes()) {
      alone.push_back(torch::empty({3, s, s}));
      outs.push_back(alone.back().data_ptr<float>());
    }
    data::render_file_views(crops, set.files->paths[1], 1, 4, outs);
    for (size_t k = 0; k < alone.size(); ++k) CHECK(views[k][1].equal(alone[k]));
  }

  // A cache that could not be held in memory is refused up front, pointing to streaming.
  try {
    read_image_folder_cached(dir.str("train"), 100000, cache.str(""));
    FAIL("a 120 GB cache was not refused");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(),
               Catch::Contains(dir.str("train")) && Catch::Contains("data.decode = \"stream\""));
  }

  // A balanced prefix keeps each kept sample's file and label together.
  const ImageSet two = take_balanced(set, 2);
  REQUIRE(two.streamed());
  CHECK(two.files->paths == std::vector<std::string>{set.files->paths[0], set.files->paths[2]});
  CHECK(two.labels.equal(torch::tensor({0, 1}, torch::kInt64)));

  // A truncated file: named in the error; with skip_corrupt, replaced by the next sample and
  // counted once, however often it is drawn.
  const std::string bad = dir.str("train/b/5.jpg");
  const std::string bytes = test::file_bytes(dir.str("train/b/4.jpg"));
  std::ofstream(bad, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  set = load_split(d, Split::kTrain);  // a new file in a class folder: listed again
  REQUIRE(set.size() == 5);
  try {
    crops.make_views(set, {0, 4}, 0);
    FAIL("a truncated file was not reported");
  } catch (const UserError& e) {
    CHECK_THAT(e.what(), Catch::Contains(bad));
  }
  CHECK_THROWS_AS(image_rows(set, 4, 1), UserError);
  d.skip_corrupt = true;
  set = load_split(d, Split::kTrain);
  const auto replaced = crops.make_views(set, {4, 0, 4}, 0);
  CHECK(replaced[0][0].equal(replaced[0][1]));  // 5.jpg gave way to sample 0 (the next, wrapping)
  CHECK(set.files->corrupt->count() == 1);
  const auto gray = image_rows(set, 4, 1);
  CHECK((gray == 128).all().item<bool>());
  CHECK(set.files->corrupt->count() == 1);
}
