// CIFAR-10, binary version: records of one label byte and 32x32x3 pixels stored channel by channel.
#include <cctype>
#include <filesystem>
#include <fstream>

#include "swav/data/image_set.h"
#include "swav/util/error.h"

namespace swav {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kPixels = kSide * kSide;
constexpr int64_t kRecord = 1 + 3 * kPixels;
constexpr int64_t kClasses = 10;

// batches.meta.txt, when present next to the batches, names the classes one per line.
std::vector<std::string> class_names_near(const std::filesystem::path& batch) {
  std::vector<std::string> names;
  std::ifstream in(batch.parent_path() / "batches.meta.txt");
  for (std::string line; in && std::getline(in, line);) {
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    if (!line.empty()) names.push_back(line);
  }
  if (static_cast<int64_t>(names.size()) != kClasses) {
    names = {"airplane", "automobile", "bird",  "cat",  "deer",
             "dog",      "frog",       "horse", "ship", "truck"};
  }
  return names;
}

}  // namespace

ImageSet read_cifar_binary(const std::vector<std::string>& batch_paths) {
  TORCH_CHECK(!batch_paths.empty(), "read_cifar_binary: no files given");
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const auto& path : batch_paths) {
    std::error_code ec;
    const auto bytes = static_cast<int64_t>(std::filesystem::file_size(path, ec));
    if (ec) fail("cannot read {}: {}", path, ec.message());
    if (bytes == 0 || bytes % kRecord != 0) {
      fail("{}: size {} bytes is not a positive multiple of the CIFAR-10 record size {}", path,
           bytes, kRecord);
    }
    counts.push_back(bytes / kRecord);
    total += bytes / kRecord;
  }

  ImageSet set;
  set.images = torch::empty({total, kSide, kSide, 3}, torch::kUInt8);
  set.labels = torch::empty({total}, torch::kInt64);
  uint8_t* images = set.images.data_ptr<uint8_t>();
  int64_t* labels = set.labels.data_ptr<int64_t>();
  std::vector<char> buffer;
  int64_t at = 0;
  for (size_t f = 0; f < batch_paths.size(); ++f) {
    const auto& path = batch_paths[f];
    buffer.resize(counts[f] * kRecord);
    std::ifstream in(path, std::ios::binary);
    if (!in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()))) {
      fail("{}: read failed (file shorter than its size said?)", path);
    }
    for (int64_t r = 0; r < counts[f]; ++r, ++at) {
      const auto* record = reinterpret_cast<const uint8_t*>(buffer.data()) + r * kRecord;
      if (record[0] >= kClasses) {
        fail("{}: record {} has label {}, but CIFAR-10 labels are 0..9 (is this CIFAR-100?)", path,
             r, record[0]);
      }
      labels[at] = record[0];
      uint8_t* dst = images + at * kPixels * 3;
      for (int64_t p = 0; p < kPixels; ++p) {
        for (int64_t c = 0; c < 3; ++c) dst[p * 3 + c] = record[1 + c * kPixels + p];
      }
    }
  }
  set.num_classes = kClasses;
  set.class_names = class_names_near(batch_paths.front());
  set.description =
      fmt::format("cifar_binary:{} ({} x 32x32x3)",
                  std::filesystem::path(batch_paths.front()).parent_path().string(), total);
  return set;
}

}  // namespace swav
