// The JPEG and PNG decoding of image folders: the input is one image file (named .png when it
// starts with PNG's signature, else .jpg, as the folder reader picks its decoder by content). It
// goes through the whole-image decoder (the cached path) and through the streaming path's crops:
// the header read, the partial decode of the crops' rows and block columns at each DCT reduction,
// one decode per sample and one per view.
#include <cstring>

#include "fuzz/fuzz_target.h"
#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "swav/data/stream_views.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  static const MultiCrop crops = [] {
    AugmentOptions o;
    o.crops = {{8, 1, 0.5, 1.0}, {4, 2, 0.05, 0.3}};  // small: reductions of up to 1/8 apply
    o.workers = 1;
    return MultiCrop(o, 1);
  }();
  static std::vector<float> a(3 * 8 * 8), b(3 * 4 * 4), c(3 * 4 * 4);
  const bool png = size >= 8 && std::memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0;
  const std::string path = fuzz::write_file(png ? "image.png" : "image.jpg", data, size);
  fuzz::expect_clean([&] {
    const torch::Tensor image = decode_image_file(path);
    if (image.dim() != 3 || image.size(2) != 3 || image.scalar_type() != torch::kUInt8)
      __builtin_trap();
  });
  for (auto mode : {data::StreamDecode::kPerSample, data::StreamDecode::kPerView}) {
    fuzz::expect_clean([&] {
      data::render_file_views(crops, path, 0, 0, {a.data(), b.data(), c.data()}, mode);
    });
  }
  return 0;
}
