// Image folders: JPEG and PNG decoding, sorting, resizing and the on-disk cache.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "../helpers.h"
#include "swav/data/image_set.h"
#include "swav/util/error.h"
#include "writers.h"

using Catch::Matchers::Contains;
using swav::test::TempDir;
namespace fs = std::filesystem;

namespace {

// A smooth colour image (JPEG-friendly), distinct per seed.
torch::Tensor smooth_image(int64_t h, int64_t w, int64_t seed) {
  auto y = torch::arange(h, torch::kFloat32).view({h, 1, 1});
  auto x = torch::arange(w, torch::kFloat32).view({1, w, 1});
  auto c = torch::tensor({0.0f, 1.0f, 2.0f}).view({1, 1, 3});
  auto v = 128 + 100 * torch::sin(0.3f * x + 0.2f * y + c + static_cast<float>(seed));
  return v.round().clamp(0, 255).to(torch::kUInt8);
}

struct Folder {
  TempDir dir;
  std::string root() const { return dir.str("train"); }
  std::vector<torch::Tensor> originals;  // in expected order
};

// root/train/{bird, cat} (note: created in reverse order) with mixed files.
void populate(Folder& f) {
  fs::create_directories(f.dir.path() / "train" / "cat");
  fs::create_directories(f.dir.path() / "train" / "bird");
  // bird: b.PNG (gray), a.jpg ; cat: c.png, d.JPEG ; plus files that are not images.
  auto a = smooth_image(12, 10, 1), b_gray = smooth_image(12, 10, 2).select(2, 0).unsqueeze(2);
  auto c = smooth_image(12, 10, 3), d = smooth_image(12, 10, 4);
  swav::test::write_jpeg(f.dir.str("train/bird/a.jpg"), a);
  swav::test::write_png(f.dir.str("train/bird/b.PNG"), b_gray);
  swav::test::write_png(f.dir.str("train/cat/c.png"), c);
  swav::test::write_jpeg(f.dir.str("train/cat/d.JPEG"), d);
  std::ofstream(f.dir.str("train/cat/notes.txt")) << "not an image";
  f.originals = {a, b_gray.expand({12, 10, 3}), c, d};
}

}  // namespace

TEST_CASE("image folder decodes JPEG and PNG, sorted, with labels", "[data]") {
  Folder f;
  populate(f);
  auto set = swav::read_image_folder(f.root(), 0);
  REQUIRE(set.images.sizes() == torch::IntArrayRef({4, 12, 10, 3}));
  CHECK(set.class_names == std::vector<std::string>{"bird", "cat"});
  CHECK(torch::equal(set.labels, torch::tensor({0, 0, 1, 1}, torch::kInt64)));
  // PNG exactly (gray expanded to RGB), JPEG within compression error.
  CHECK(torch::equal(set.images[1], f.originals[1]));
  CHECK(torch::equal(set.images[2], f.originals[2]));
  for (int i : {0, 3}) {
    auto diff = (set.images[i].to(torch::kInt32) - f.originals[i].to(torch::kInt32)).abs();
    CHECK(diff.to(torch::kFloat32).mean().item<float>() < 3.0f);
    CHECK(diff.max().item<int>() < 24);
  }
}

TEST_CASE("image folder resizing and size checks", "[data]") {
  Folder f;
  populate(f);
  swav::test::write_png(f.dir.str("train/cat/e.png"), smooth_image(20, 16, 5));
  CHECK_THAT(swav::test::user_error([&] { swav::read_image_folder(f.root(), 0); }),
             Contains("e.png") && Contains("image_size"));
  auto set = swav::read_image_folder(f.root(), 8);
  CHECK(set.images.sizes() == torch::IntArrayRef({5, 8, 8, 3}));
  // Resizing a PNG agrees with torch's antialiased bilinear interpolation (to rounding).
  auto expected = torch::nn::functional::interpolate(
      f.originals[2].permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32),
      torch::nn::functional::InterpolateFuncOptions()
          .size(std::vector<int64_t>{8, 8})
          .mode(torch::kBilinear)
          .align_corners(false)
          .antialias(true));
  auto got = set.images[2].permute({2, 0, 1}).unsqueeze(0).to(torch::kFloat32);
  CHECK((got - expected).abs().max().item<float>() <= 0.51f);
}

TEST_CASE("corrupt images and bad folders raise errors naming the file", "[data]") {
  Folder f;
  populate(f);
  SECTION("garbage after a JPEG signature") {
    std::ofstream(f.dir.str("train/cat/z.jpg"), std::ios::binary) << "\xFF\xD8\xFF garbage garbage";
    CHECK_THAT(swav::test::user_error([&] { swav::read_image_folder(f.root(), 0); }),
               Contains("z.jpg"));
  }
  SECTION("truncated JPEG") {
    swav::test::write_jpeg(f.dir.str("train/cat/t.jpg"), smooth_image(12, 10, 7));
    fs::resize_file(f.dir.str("train/cat/t.jpg"), fs::file_size(f.dir.str("train/cat/t.jpg")) / 2);
    CHECK_THAT(swav::test::user_error([&] { swav::read_image_folder(f.root(), 0); }),
               Contains("t.jpg"));
  }
  SECTION("not an image at all") {
    std::ofstream(f.dir.str("train/bird/x.png")) << "plain text";
    CHECK_THAT(swav::test::user_error([&] { swav::read_image_folder(f.root(), 0); }),
               Contains("x.png"));
  }
  SECTION("missing folder and empty class") {
    CHECK_THAT(swav::test::user_error([&] { swav::read_image_folder(f.dir.str("val"), 0); }),
               Contains("val"));
    fs::create_directories(f.dir.path() / "train" / "dog");
    CHECK_THAT(swav::test::user_error([&] { swav::read_image_folder(f.root(), 0); }),
               Contains("dog"));
  }
}

TEST_CASE("image folder cache hits, invalidates on change and survives corruption", "[data]") {
  Folder f;
  populate(f);
  TempDir cache;
  bool hit = true;
  auto first = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK_FALSE(hit);
  REQUIRE(std::distance(fs::directory_iterator(cache.path()), fs::directory_iterator()) == 1);

  auto second = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK(hit);
  CHECK(torch::equal(first.images, second.images));
  CHECK(torch::equal(first.labels, second.labels));
  CHECK(first.class_names == second.class_names);
  CHECK(second.num_classes == 2);

  // Another image_size is another entry.
  swav::read_image_folder_cached(f.root(), 5, cache.str(), &hit);
  CHECK_FALSE(hit);

  // Touching a file (same content, new mtime) misses; changing its content changes the result.
  const std::string touched = f.dir.str("train/bird/a.jpg");
  fs::last_write_time(touched, fs::last_write_time(touched) + std::chrono::seconds(3));
  auto after_touch = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK_FALSE(hit);
  CHECK(torch::equal(after_touch.images, first.images));
  const std::string changed = f.dir.str("train/cat/c.png");
  swav::test::write_png(changed, smooth_image(12, 10, 9));
  fs::last_write_time(changed, fs::last_write_time(changed) + std::chrono::seconds(5));
  auto third = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK_FALSE(hit);
  CHECK(torch::equal(third.images, swav::read_image_folder(f.root(), 6).images));
  CHECK_FALSE(torch::equal(third.images[2], first.images[2]));

  // Corrupt every entry (one byte of pixels inverted): the current one is rebuilt, never trusted.
  auto entries = [&] {
    std::vector<fs::path> paths;
    for (const auto& e : fs::directory_iterator(cache.path())) paths.push_back(e.path());
    return paths;
  };
  for (const auto& path : entries()) {
    std::fstream io(path, std::ios::binary | std::ios::in | std::ios::out);
    const auto at = static_cast<std::streamoff>(fs::file_size(path) - 20);
    io.seekg(at);
    const int byte = io.get();
    io.seekp(at);
    io.put(static_cast<char>(byte ^ 0xFF));
  }
  auto rebuilt = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK_FALSE(hit);
  CHECK(torch::equal(rebuilt.images, third.images));
  CHECK(swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit).size() == 4);
  CHECK(hit);
  // Truncated entries likewise.
  for (const auto& path : entries()) fs::resize_file(path, fs::file_size(path) / 2);
  auto again = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK_FALSE(hit);
  CHECK(torch::equal(again.images, third.images));
}

TEST_CASE("an image cache that cannot be written leaves nothing behind and the run goes on",
          "[data]") {
  Folder f;
  populate(f);
  TempDir cache;
  const auto expected = swav::read_image_folder(f.root(), 6);
  // A full disk (RLIMIT_FSIZE of 64 bytes: the cache file's header fits, its pixels do not): the
  // folder is still decoded exactly, the half-written file is removed, and nothing is cached.
  bool hit = true;
  swav::ImageSet set;
  swav::test::with_file_size_limit(
      64, [&] { set = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit); });
  CHECK_FALSE(hit);
  CHECK(torch::equal(set.images, expected.images));
  CHECK(torch::equal(set.labels, expected.labels));
  CHECK(fs::is_empty(cache.path()));
  // With space again, the next load writes the cache, and the one after reads it.
  swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK_FALSE(hit);
  const auto cached = swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK(hit);
  CHECK(torch::equal(cached.images, expected.images));
  // A full disk while an existing entry is rewritten (another image size) keeps the old entry.
  const auto before = std::distance(fs::directory_iterator(cache.path()), fs::directory_iterator());
  swav::test::with_file_size_limit(
      64, [&] { swav::read_image_folder_cached(f.root(), 5, cache.str(), &hit); });
  CHECK(std::distance(fs::directory_iterator(cache.path()), fs::directory_iterator()) == before);
  swav::read_image_folder_cached(f.root(), 6, cache.str(), &hit);
  CHECK(hit);
}

TEST_CASE("load_split reads image folders through the cache", "[data]") {
  Folder f;
  populate(f);
  TempDir cache;
  swav::DataOptions options;
  options.format = "image_folder";
  options.root = f.dir.str();
  options.image_size = 8;
  options.cache_dir = cache.str();
  options.train_limit = 2;
  auto set = swav::load_split(options, swav::Split::kTrain);
  CHECK(set.size() == 2);
  CHECK(torch::equal(set.labels, torch::tensor({0, 1}, torch::kInt64)));
  CHECK(!fs::is_empty(cache.path()));
  options.test_split = "val";
  CHECK_THAT(swav::test::user_error([&] { swav::load_split(options, swav::Split::kTest); }),
             Contains("val"));
}
