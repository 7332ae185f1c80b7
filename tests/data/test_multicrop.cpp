// Multi-crop augmentation: determinism, geometry against torch's resize, and the colour ops'
// effects.
#include <catch2/catch.hpp>

#include <chrono>
#include <ctime>
#include <numeric>

#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "swav/util/error.h"

namespace F = torch::nn::functional;

namespace {

swav::ImageSet synthetic(int64_t channels, int64_t size, int64_t per_class = 10) {
  swav::DataOptions options;
  options.format = "synthetic";
  options.synthetic_channels = channels;
  options.synthetic_size = size;
  options.synthetic_train_per_class = per_class;
  return swav::make_synthetic(options, swav::Split::kTrain);
}

// Everything random switched off: one whole-image crop of the given size.
swav::AugmentOptions plain(int64_t size, int64_t channels) {
  swav::AugmentOptions o;
  o.crops = {{size, 1, 1.0, 1.0}};
  o.min_ratio = o.max_ratio = 1.0;
  o.flip_prob = o.jitter_prob = o.grayscale_prob = o.blur_prob = 0.0;
  o.mean = std::vector<double>(channels, 0.0);
  o.std = std::vector<double>(channels, 1.0);
  return o;
}

// uint8 [N,H,W,C] -> float [N,C,s,s] in [0,1] with torch's antialiased bilinear resize.
torch::Tensor torch_resize(const torch::Tensor& images, int64_t size) {
  auto x = images.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{size, size})
                               .mode(torch::kBilinear)
                               .align_corners(false)
                               .antialias(true));
}

swav::AugmentOptions fmnist_like() {
  swav::AugmentOptions o;
  o.crops = {{28, 2, 0.3, 1.0}, {14, 4, 0.1, 0.4}};
  o.mean = {0.5};
  o.std = {0.25};
  o.workers = 2;
  return o;
}

}  // namespace

TEST_CASE("multi-crop views have the declared shapes", "[data]") {
  auto set = synthetic(1, 28);
  swav::MultiCrop crops(fmnist_like(), 7);
  CHECK(crops.num_crops() == 6);
  CHECK(crops.crop_sizes() == std::vector<int64_t>{28, 28, 14, 14, 14, 14});
  auto views = crops.make_views(set, {0, 5, 9}, 0);
  REQUIRE(views.size() == 6);
  CHECK(views[0].sizes() == torch::IntArrayRef({3, 1, 28, 28}));
  CHECK(views[5].sizes() == torch::IntArrayRef({3, 1, 14, 14}));
  for (const auto& v : views) CHECK(torch::isfinite(v).all().item<bool>());
}

TEST_CASE("a view depends only on (seed, epoch, sample, crop)", "[data]") {
  auto set = synthetic(3, 32);
  auto o = fmnist_like();
  o.mean = {0.4, 0.5, 0.6};
  o.std = {0.2, 0.25, 0.3};
  o.workers = 1;
  swav::MultiCrop one_worker(o, 11);
  o.workers = 4;
  swav::MultiCrop four_workers(o, 11);
  auto a = one_worker.make_views(set, {3, 7, 11, 20, 42}, 2);
  auto b =
      four_workers.make_views(set, {42, 11, 5, 3, 8, 9, 10, 12, 13, 14, 15, 16, 17, 18, 19}, 2);
  for (int64_t k = 0; k < 6; ++k) {
    CHECK(torch::equal(a[k][0], b[k][3]));  // sample 3
    CHECK(torch::equal(a[k][2], b[k][1]));  // sample 11
    CHECK(torch::equal(a[k][4], b[k][0]));  // sample 42
    torch::Tensor single = torch::empty_like(a[k][1]);
    one_worker.make_view(set, 7, 2, k, single);
    CHECK(torch::equal(single, a[k][1]));
  }
  // Other epochs, crops and seeds give other views.
  auto next_epoch = one_worker.make_views(set, {3}, 3);
  CHECK_FALSE(torch::equal(next_epoch[0][0], a[0][0]));
  CHECK_FALSE(torch::equal(a[0][0], a[1][0]));
  CHECK_FALSE(torch::equal(a[2][0], a[3][0]));
  swav::MultiCrop other_seed(o, 12);
  CHECK_FALSE(torch::equal(other_seed.make_views(set, {3}, 2)[0][0], a[0][0]));
}

TEST_CASE("without augmentation a crop is the normalised resized image", "[data]") {
  auto set = synthetic(3, 24);
  auto images = set.images.slice(0, 0, 4);
  auto o = plain(16, 3);
  o.mean = {0.485, 0.456, 0.406};
  o.std = {0.228, 0.224, 0.225};
  auto views = swav::MultiCrop(o, 1).make_views(set, {0, 1, 2, 3}, 0);
  auto expected = F::interpolate(swav::normalize_images(images, o.mean, o.std),
                                 F::InterpolateFuncOptions()
                                     .size(std::vector<int64_t>{16, 16})
                                     .mode(torch::kBilinear)
                                     .align_corners(false)
                                     .antialias(true));
  CHECK((views[0] - expected).abs().max().item<float>() < 1e-5f);

  // Upsampling too (crop larger than the image).
  auto up = swav::MultiCrop(plain(40, 3), 1).make_views(set, {0, 1}, 0);
  CHECK((up[0] - torch_resize(set.images.slice(0, 0, 2), 40)).abs().max().item<float>() < 1e-5f);
}

TEST_CASE("flip_prob = 1 mirrors the resized image", "[data]") {
  auto set = synthetic(3, 20);
  auto o = plain(12, 3);
  o.flip_prob = 1.0;
  auto views = swav::MultiCrop(o, 5).make_views(set, {0, 1, 2}, 4);
  auto expected = torch_resize(set.images.slice(0, 0, 3), 12).flip({3});
  CHECK((views[0] - expected).abs().max().item<float>() < 1e-5f);
}

TEST_CASE("RandomResizedCrop falls back to the centred box of an allowed ratio", "[data]") {
  // A 16x24 image cannot hold a square of its whole area: ten attempts fail and the fallback takes
  // the centred 16x16 box.
  swav::ImageSet set;
  set.images = torch::randint(0, 256, {1, 16, 24, 1}, torch::kUInt8);
  set.labels = torch::zeros({1}, torch::kInt64);
  set.num_classes = 1;
  auto views = swav::MultiCrop(plain(8, 1), 3).make_views(set, {0}, 0);
  auto expected = torch_resize(set.images.slice(2, 4, 20).contiguous(), 8);
  CHECK((views[0] - expected).abs().max().item<float>() < 1e-5f);
}

TEST_CASE("colour jitter keeps the mean brightness but varies it per view", "[data]") {
  auto set = synthetic(3, 16, 40);
  std::vector<int64_t> all(set.size());
  std::iota(all.begin(), all.end(), 0);
  auto o = plain(16, 3);
  auto base = swav::MultiCrop(o, 9).make_views(set, all, 0)[0];
  o.jitter_prob = 1.0;  // brightness/contrast/saturation 0.8, hue 0.2
  o.crops[0].count = 4;
  auto views = torch::stack(swav::MultiCrop(o, 9).make_views(set, all, 0));  // [4, N, 3, 16, 16]
  const double base_mean = base.mean().item<double>();
  const double jitter_mean = views.mean().item<double>();
  // Brightness and contrast factors have mean 1 and contrast blends towards the image mean, so only
  // clamping at 0 and 1 (and hue/saturation's channel mixing) move the average; over 1600 views a
  // drift beyond 0.05 (about 12% of the mean) would mean a biased operation.
  INFO("mean without jitter " << base_mean << ", with jitter " << jitter_mean);
  CHECK(std::abs(jitter_mean - base_mean) < 0.05);
  // Per-view brightness varies far more than without jitter.
  const double base_spread = base.mean({1, 2, 3}).std().item<double>();
  const double jitter_spread = views.mean({2, 3, 4}).std().item<double>();
  INFO("per-view mean spread " << base_spread << " -> " << jitter_spread);
  CHECK(jitter_spread > 2.0 * base_spread);
  CHECK(views.min().item<float>() >= 0.0f);
  CHECK(views.max().item<float>() <= 1.0f);
}

TEST_CASE("hue jitter preserves value and chroma, grayscale equalises channels", "[data]") {
  auto set = synthetic(3, 16);
  auto o = plain(16, 3);
  auto base = swav::MultiCrop(o, 2).make_views(set, {0, 1, 2, 3}, 0)[0];
  o.jitter_prob = 1.0;
  o.brightness = o.contrast = o.saturation = 0.0;
  o.hue = 0.5;
  auto hued = swav::MultiCrop(o, 2).make_views(set, {0, 1, 2, 3}, 0)[0];
  CHECK((hued.amax(1) - base.amax(1)).abs().max().item<float>() < 1e-5f);
  CHECK((hued.amin(1) - base.amin(1)).abs().max().item<float>() < 1e-5f);
  CHECK((hued - base).abs().max().item<float>() > 0.1f);

  o = plain(16, 3);
  o.grayscale_prob = 1.0;
  auto gray = swav::MultiCrop(o, 2).make_views(set, {0, 1}, 0)[0];
  CHECK(torch::equal(gray.select(1, 0), gray.select(1, 1)));
  CHECK(torch::equal(gray.select(1, 1), gray.select(1, 2)));
  auto luma = 0.299 * base.select(1, 0) + 0.587 * base.select(1, 1) + 0.114 * base.select(1, 2);
  CHECK((gray.select(1, 0) - luma.slice(0, 0, 2)).abs().max().item<float>() < 1e-5f);
}

TEST_CASE("one-channel images get brightness and contrast jitter only", "[data]") {
  auto set = synthetic(1, 16);
  auto o = plain(16, 1);
  auto base = swav::MultiCrop(o, 4).make_views(set, {0, 1, 2}, 0)[0];
  o.brightness = o.contrast = 0.0;
  o.jitter_prob = o.grayscale_prob = 1.0;
  CHECK(torch::equal(swav::MultiCrop(o, 4).make_views(set, {0, 1, 2}, 0)[0], base));
  o.brightness = 0.8;
  CHECK_FALSE(torch::equal(swav::MultiCrop(o, 4).make_views(set, {0, 1, 2}, 0)[0], base));
}

TEST_CASE("Gaussian blur removes high-frequency energy", "[data]") {
  swav::ImageSet set;
  set.images = torch::randint(0, 256, {8, 24, 24, 3}, torch::kUInt8);
  set.labels = torch::zeros({8}, torch::kInt64);
  set.num_classes = 1;
  auto o = plain(24, 3);
  auto sharp = swav::MultiCrop(o, 6).make_views(set, {0, 1, 2, 3, 4, 5, 6, 7}, 0)[0];
  o.blur_prob = 1.0;
  o.blur_sigma_min = 1.0;
  o.blur_sigma_max = 2.0;
  auto blurred = swav::MultiCrop(o, 6).make_views(set, {0, 1, 2, 3, 4, 5, 6, 7}, 0)[0];
  auto energy = [](const torch::Tensor& x) {
    return (x.slice(3, 1) - x.slice(3, 0, -1)).pow(2).mean().item<double>() +
           (x.slice(2, 1) - x.slice(2, 0, -1)).pow(2).mean().item<double>();
  };
  // White noise: sigma >= 1 keeps well under a tenth of the neighbour-difference energy.
  CHECK(energy(blurred) < 0.1 * energy(sharp));
  // Blur is a normalised filter: the mean stays (reflected borders, so only nearly).
  CHECK(std::abs(blurred.mean().item<double>() - sharp.mean().item<double>()) < 0.01);
}

TEST_CASE("mean/std of the wrong length is a user error", "[data]") {
  auto set = synthetic(3, 16);
  auto o = plain(8, 3);
  o.mean = {0.5, 0.5};
  CHECK_THROWS_AS(swav::MultiCrop(o, 1).make_views(set, {0}, 0), swav::UserError);
  CHECK_THROWS_AS(swav::normalize_images(set.images, {0.5, 0.5}, {1.0}), swav::UserError);
  o = plain(8, 3);
  o.crops[0].min_scale = 0.0;
  CHECK_THROWS_AS(swav::MultiCrop(o, 1), swav::UserError);
}

TEST_CASE("multi-crop throughput on a Fashion-MNIST-sized batch", "[.][bench]") {
  // Not a unit test (run with "[bench]"): views/s for the full pipeline beside crop-and-resize
  // only.
  auto set = synthetic(1, 28, 100);
  std::vector<int64_t> batch(256);
  std::iota(batch.begin(), batch.end(), 0);
  auto measure = [&](const swav::AugmentOptions& o, const char* what) {
    swav::MultiCrop crops(o, 1);
    crops.make_views(set, batch, 0);
    const int reps = 40;
    // Process CPU time beside wall time: on a loaded machine the CPU time still shows the work
    // done.
    const std::clock_t cpu_start = std::clock();
    const auto start = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) crops.make_views(set, batch, r);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    WARN(what << ", " << o.workers << " worker(s): " << seconds / reps * 1e3 << " ms wall, "
              << cpu / reps * 1e3 << " ms CPU per batch of 256 x (2x28 + 4x14); "
              << reps * 256 * 6 / seconds << " views/s wall, " << reps * 256 * 6 / cpu
              << " views per CPU-second");
  };
  for (int64_t workers : {1, 2}) {
    auto o = fmnist_like();
    o.workers = workers;
    measure(o, "full pipeline (blur p=0.5)");
    o.blur_prob = 0.0;
    measure(o, "no blur");
    o.jitter_prob = o.grayscale_prob = o.flip_prob = 0.0;
    measure(o, "crop + resize + normalise only");
  }
}

TEST_CASE("crops of equal resolution are batched together, in crop order", "[data]") {
  auto big = [](float v) { return torch::full({2, 1, 8, 8}, v); };
  auto small = [](float v) { return torch::full({2, 1, 4, 4}, v); };
  // 2 large, 3 small, then a large one again: three runs, the last not merged with the first.
  const std::vector<torch::Tensor> crops = {big(0), big(1), small(2), small(3), small(4), big(5)};
  const auto batches = swav::cat_equal_resolutions(crops);
  REQUIRE(batches.size() == 3);
  CHECK(batches[0].sizes() == torch::IntArrayRef({4, 1, 8, 8}));
  CHECK(batches[1].sizes() == torch::IntArrayRef({6, 1, 4, 4}));
  CHECK(batches[2].sizes() == torch::IntArrayRef({2, 1, 8, 8}));
  CHECK(torch::equal(batches[0], torch::cat({big(0), big(1)})));
  CHECK(torch::equal(batches[1], torch::cat({small(2), small(3), small(4)})));
  CHECK(torch::equal(batches[2], big(5)));
  CHECK(swav::cat_equal_resolutions({}).empty());
}
