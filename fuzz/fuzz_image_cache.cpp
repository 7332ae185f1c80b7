// The image cache file: a folder of two real images is decoded and cached once; every input then
// replaces the cache file. Inputs whose last byte is odd are written as they are: the reader must
// reject whatever does not match (magic, version, key, checksum) and decode the folder again, giving
// exactly its images. The others get the folder's key and a correct checksum patched in, so the
// fuzzer reaches the dimensions, class names and labels behind them: the reader must then give a
// well-formed set or reject the file.
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "swav/data/image_set.h"

#ifndef SWAV_FUZZ_SEEDS
#error "SWAV_FUZZ_SEEDS: the fuzz/corpus folder"
#endif

namespace {

constexpr size_t kKeyAt = 12;  // after the 8-byte magic and the 4-byte version

bool well_formed(const swav::ImageSet& set) {
  if (set.images.dim() != 4 || set.labels.dim() != 1 || set.size() != set.labels.size(0) ||
      set.num_classes != static_cast<int64_t>(set.class_names.size()) ||
      (set.channels() != 1 && set.channels() != 3))
    return false;
  return set.labels.min().item<int64_t>() >= 0 &&
         set.labels.max().item<int64_t>() < set.num_classes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  namespace fs = std::filesystem;
  static const fs::path folder = fuzz::work_dir() / "folder";
  static const fs::path cache = fuzz::work_dir() / "cache";
  static fs::path cache_file;
  static ImageSet truth;
  static std::string key;  // the folder's 8 key bytes, as the cache file holds them
  if (cache_file.empty()) {
    const fs::path images = fs::path(SWAV_FUZZ_SEEDS) / "image";
    fs::create_directories(folder / "a");
    fs::create_directories(folder / "b");
    fs::copy_file(images / "photo.jpg", folder / "a" / "photo.jpg");
    fs::copy_file(images / "rgb.png", folder / "b" / "rgb.png");
    fs::create_directories(cache);
    truth = read_image_folder_cached(folder.string(), 16, cache.string());
    for (const auto& entry : fs::directory_iterator(cache)) cache_file = entry.path();
    std::ifstream in(cache_file, std::ios::binary);
    key.resize(kKeyAt + 8);
    in.read(key.data(), static_cast<std::streamsize>(key.size()));
    key = key.substr(kKeyAt);
  }
  std::vector<uint8_t> bytes(data, data + size);
  const bool patch = size >= kKeyAt + 8 + 4 && (data[size - 1] & 1) == 0;
  if (patch) {
    std::memcpy(bytes.data() + kKeyAt, key.data(), 8);
    const uLong crc = crc32_z(crc32_z(0, nullptr, 0), bytes.data() + kKeyAt, size - kKeyAt - 4);
    const auto crc32 = static_cast<uint32_t>(crc);
    std::memcpy(bytes.data() + size - 4, &crc32, 4);
  }
  fuzz::write_file(fs::relative(cache_file, fuzz::work_dir()).string(), bytes.data(), size);
  const ImageSet set = read_image_folder_cached(folder.string(), 16, cache.string());
  const bool exact = torch::equal(set.images, truth.images) && torch::equal(set.labels, truth.labels);
  if (patch ? !well_formed(set) : !exact) __builtin_trap();
  return 0;
}
