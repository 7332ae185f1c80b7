// IDX, CIFAR binary, synthetic data, take_balanced and load_split.
#include <catch2/catch.hpp>

#include <filesystem>

#include "../helpers.h"
#include "swav/data/image_set.h"
#include "swav/util/error.h"
#include "writers.h"

using Catch::Matchers::Contains;
using swav::test::TempDir;

namespace {

torch::Tensor random_bytes(std::vector<int64_t> shape, int64_t seed) {
  auto gen = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, shape, gen, torch::kUInt8);
}

// Writes a 7-image IDX pair and returns its images.
torch::Tensor write_idx_pair(const TempDir& dir, const std::string& images,
                             const std::string& labels) {
  auto pixels = random_bytes({7, 5, 4}, 1);
  swav::test::write_maybe_gz(dir.str(images), swav::test::idx_images(pixels));
  swav::test::write_maybe_gz(dir.str(labels), swav::test::idx_labels({0, 1, 2, 0, 1, 2, 3}));
  return pixels;
}

}  // namespace

TEST_CASE("IDX round trip through gzip and plain files", "[data]") {
  TempDir dir;
  for (const std::string ext : {".gz", ""}) {
    auto pixels = write_idx_pair(dir, "img" + ext, "lab" + ext);
    auto set = swav::read_idx_pair(dir.str("img" + ext), dir.str("lab" + ext));
    CHECK(set.images.sizes() == torch::IntArrayRef({7, 5, 4, 1}));
    CHECK(torch::equal(set.images.squeeze(3), pixels));
    CHECK(torch::equal(set.labels, torch::tensor({0, 1, 2, 0, 1, 2, 3}, torch::kInt64)));
    CHECK(set.num_classes == 4);
    CHECK(set.class_names.size() == 4);
  }
}

TEST_CASE("IDX errors name the file and the problem", "[data]") {
  TempDir dir;
  auto pixels = random_bytes({7, 5, 4}, 2);
  auto image_bytes = swav::test::idx_images(pixels);
  auto label_bytes = swav::test::idx_labels({0, 1, 2, 0, 1, 2, 3});
  swav::test::write_maybe_gz(dir.str("labels.gz"), label_bytes);

  SECTION("truncated pixels") {
    image_bytes.resize(image_bytes.size() - 10);
    swav::test::write_maybe_gz(dir.str("short.gz"), image_bytes);
    CHECK_THAT(swav::test::user_error(
                   [&] { swav::read_idx_pair(dir.str("short.gz"), dir.str("labels.gz")); }),
               Contains("short.gz") && Contains("truncated"));
  }
  SECTION("truncated header") {
    image_bytes.resize(6);
    swav::test::write_maybe_gz(dir.str("stub"), image_bytes);
    CHECK_THAT(
        swav::test::user_error([&] { swav::read_idx_pair(dir.str("stub"), dir.str("labels.gz")); }),
        Contains("stub") && Contains("truncated"));
  }
  SECTION("bad magic") {
    image_bytes[3] = 0x01;
    swav::test::write_maybe_gz(dir.str("magic.gz"), image_bytes);
    CHECK_THAT(swav::test::user_error(
                   [&] { swav::read_idx_pair(dir.str("magic.gz"), dir.str("labels.gz")); }),
               Contains("magic.gz") && Contains("magic"));
    // Labels and images swapped: the label file fails the image magic.
    CHECK_THAT(swav::test::user_error(
                   [&] { swav::read_idx_pair(dir.str("labels.gz"), dir.str("labels.gz")); }),
               Contains("labels.gz") && Contains("magic"));
  }
  SECTION("image and label counts differ") {
    swav::test::write_maybe_gz(dir.str("images.gz"), image_bytes);
    swav::test::write_maybe_gz(dir.str("six.gz"), swav::test::idx_labels({0, 1, 2, 0, 1, 2}));
    CHECK_THAT(swav::test::user_error(
                   [&] { swav::read_idx_pair(dir.str("images.gz"), dir.str("six.gz")); }),
               Contains("images.gz") && Contains("six.gz"));
  }
  SECTION("trailing data") {
    image_bytes.push_back(0);
    swav::test::write_maybe_gz(dir.str("long.gz"), image_bytes);
    CHECK_THAT(swav::test::user_error(
                   [&] { swav::read_idx_pair(dir.str("long.gz"), dir.str("labels.gz")); }),
               Contains("long.gz"));
  }
  SECTION("missing file") {
    CHECK_THAT(swav::test::user_error(
                   [&] { swav::read_idx_pair(dir.str("absent.gz"), dir.str("labels.gz")); }),
               Contains("absent.gz"));
  }
}

TEST_CASE("CIFAR binary round trip and size check", "[data]") {
  TempDir dir;
  auto images = random_bytes({3, 32, 32, 3}, 3);
  std::vector<unsigned char> bytes;
  const std::vector<uint8_t> labels = {9, 0, 4};
  for (int64_t r = 0; r < 3; ++r) {
    bytes.push_back(labels[r]);
    auto chw = images[r].permute({2, 0, 1}).contiguous();
    bytes.insert(bytes.end(), chw.data_ptr<uint8_t>(), chw.data_ptr<uint8_t>() + chw.numel());
  }
  swav::test::write_maybe_gz(dir.str("test_batch.bin"), bytes);
  auto set = swav::read_cifar_binary({dir.str("test_batch.bin")});
  CHECK(torch::equal(set.images, images));
  CHECK(torch::equal(set.labels, torch::tensor({9, 0, 4}, torch::kInt64)));
  CHECK(set.num_classes == 10);
  CHECK(set.class_names.at(9) == "truck");

  swav::DataOptions options;
  options.format = "cifar_binary";
  options.root = dir.str();
  CHECK(torch::equal(swav::load_split(options, swav::Split::kTest).images, images));

  bytes.pop_back();
  swav::test::write_maybe_gz(dir.str("bad.bin"), bytes);
  CHECK_THAT(swav::test::user_error([&] { swav::read_cifar_binary({dir.str("bad.bin")}); }),
             Contains("bad.bin") && Contains("3073"));
}

TEST_CASE("load_split rejects unknown formats and missing roots", "[data]") {
  swav::DataOptions options;
  options.format = "mnist";
  CHECK_THAT(swav::test::user_error([&] { swav::load_split(options, swav::Split::kTrain); }),
             Contains("mnist") && Contains("fashion_mnist") && Contains("synthetic"));
  options.format = "fashion_mnist";
  options.root = "/nonexistent/fmnist";
  CHECK_THAT(swav::test::user_error([&] { swav::load_split(options, swav::Split::kTrain); }),
             Contains("/nonexistent/fmnist"));
  TempDir dir;
  options.root = dir.str();
  CHECK_THAT(swav::test::user_error([&] { swav::load_split(options, swav::Split::kTrain); }),
             Contains("train-images-idx3-ubyte"));
}

TEST_CASE("take_balanced keeps a round-robin prefix in order", "[data]") {
  swav::ImageSet set;
  set.labels = torch::tensor({0, 0, 0, 1, 2, 0, 1, 2, 2}, torch::kInt64);
  set.images = torch::arange(9, torch::kUInt8).view({9, 1, 1, 1});
  set.num_classes = 3;
  set.class_names = {"a", "b", "c"};
  auto kept = swav::take_balanced(set, 6);
  // first two of each class: indices 0,1 (class 0), 3,6 (class 1), 4,7 (class 2)
  CHECK(torch::equal(kept.images.flatten(), torch::tensor({0, 1, 3, 4, 6, 7}, torch::kUInt8)));
  CHECK(torch::equal(kept.labels, torch::tensor({0, 0, 1, 2, 1, 2}, torch::kInt64)));
  CHECK(swav::take_balanced(set, 0).size() == 9);
  CHECK(swav::take_balanced(set, 100).size() == 9);
  CHECK(swav::take_balanced(set, 4).size() == 4);
}

TEST_CASE("synthetic data is deterministic, balanced and learnable from pixels", "[data]") {
  swav::DataOptions options;
  options.format = "synthetic";
  options.synthetic_train_per_class = 60;
  options.synthetic_test_per_class = 20;
  for (int64_t channels : {3, 1}) {
    options.synthetic_channels = channels;
    auto train = swav::load_split(options, swav::Split::kTrain);
    auto test = swav::load_split(options, swav::Split::kTest);
    CHECK(train.images.sizes() == torch::IntArrayRef({600, 32, 32, channels}));
    CHECK(test.size() == 200);
    CHECK(torch::equal(train.images, swav::load_split(options, swav::Split::kTrain).images));
    CHECK(!torch::equal(train.images.slice(0, 0, 200), test.images));
    CHECK(torch::equal(torch::bincount(train.labels), torch::full({10}, 60, torch::kInt64)));

    // 1-NN on raw (centred) pixels: far above chance (10%), not perfect.
    auto flat = [](const torch::Tensor& x) {
      auto f = x.reshape({x.size(0), -1}).to(torch::kFloat32) / 255.0;
      return f - f.mean(1, true);
    };
    auto nearest = torch::cdist(flat(test.images), flat(train.images)).argmin(1);
    const double accuracy = train.labels.index_select(0, nearest)
                                .eq(test.labels)
                                .to(torch::kFloat64)
                                .mean()
                                .item<double>();
    INFO("channels " << channels << ": raw-pixel 1-NN accuracy " << accuracy);
    CHECK(accuracy > 0.3);
    CHECK(accuracy < 0.99);
  }
}

TEST_CASE("real Fashion-MNIST loads with the documented shapes", "[data]") {
  const std::string root = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(root)) {
    WARN("SKIPPED: " << root << " not installed");
    return;
  }
  swav::DataOptions options;
  options.format = "fashion_mnist";
  options.root = root;
  auto train = swav::load_split(options, swav::Split::kTrain);
  auto test = swav::load_split(options, swav::Split::kTest);
  CHECK(train.images.sizes() == torch::IntArrayRef({60000, 28, 28, 1}));
  CHECK(test.images.sizes() == torch::IntArrayRef({10000, 28, 28, 1}));
  CHECK(torch::equal(torch::bincount(train.labels), torch::full({10}, 6000, torch::kInt64)));
  CHECK(torch::equal(torch::bincount(test.labels), torch::full({10}, 1000, torch::kInt64)));
  CHECK(train.class_names.at(9) == "Ankle boot");
  CHECK_THAT(train.description, Contains("60000"));

  options.train_limit = 1000;
  auto limited = swav::load_split(options, swav::Split::kTrain);
  CHECK(torch::equal(torch::bincount(limited.labels), torch::full({10}, 100, torch::kInt64)));
}
