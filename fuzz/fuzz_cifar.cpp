// The CIFAR-10 binary reader: the input is one batch file (records of 1 label byte and 3072 pixel
// bytes).
#include "fuzz/fuzz_target.h"
#include "swav/data/image_set.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  const std::string path = fuzz::write_file("data_batch_1.bin", data, size);
  fuzz::expect_clean([&] {
    const ImageSet set = read_cifar_binary({path});
    if (set.images.size(0) != set.labels.size(0) || set.labels.max().item<int64_t>() > 9)
      __builtin_trap();
  });
  return 0;
}
