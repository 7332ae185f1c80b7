// The JPEG and PNG decoding of image folders: the input is one image file (named .png when it
// starts with PNG's signature, else .jpg, as the folder reader picks its decoder by content).
#include <cstring>

#include "fuzz/fuzz_target.h"
#include "swav/data/image_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  const bool png = size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
  const std::string path = fuzz::write_file(png ? "image.png" : "image.jpg", data, size);
  fuzz::expect_clean([&] {
    const torch::Tensor image = decode_image_file(path);
    if (image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != torch::kUInt8)
      __builtin_trap();
  });
  return 0;
}
