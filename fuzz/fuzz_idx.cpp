// The IDX reader (Fashion-MNIST's format), plain and gzip: the input is the images file, read with a
// labels file of matching count, or (first byte odd) the labels file, read with matching images.
// Inputs starting with gzip's magic are named .gz, as a user's files would be.
#include <vector>

#include "fuzz/fuzz_target.h"
#include "swav/data/image_set.h"

namespace {

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  // Two 2x2 images with labels 0 and 1: the partner of the fuzzed file.
  static const std::string images = [] {
    std::string bytes = std::string("\0\0\x08\x03", 4) + big_endian(2) + big_endian(2) + big_endian(2);
    return bytes + std::string(8, '\x40');
  }();
  static const std::string labels =
      std::string("\0\0\x08\x01", 4) + big_endian(2) + std::string("\0\x01", 2);
  const bool gz = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const bool fuzz_labels = size > 0 && (data[size - 1] & 1);
  const std::string fuzzed =
      fuzz::write_file(fuzz_labels ? "labels-idx1-ubyte" : "images-idx3-ubyte", data, size);
  std::string path = fuzzed;
  if (gz) {
    path += ".gz";
    std::filesystem::rename(fuzzed, path);
  }
  const std::string partner = fuzz::write_file(fuzz_labels ? "images-idx3-ubyte.partner"
                                                           : "labels-idx1-ubyte.partner",
                                               fuzz_labels ? images : labels);
  fuzz::expect_clean([&] {
    const ImageSet set = fuzz_labels ? read_idx_pair(partner, path) : read_idx_pair(path, partner);
    if (set.images.size(0) != set.labels.size(0)) __builtin_trap();
  });
  std::filesystem::remove(path);
  return 0;
}
