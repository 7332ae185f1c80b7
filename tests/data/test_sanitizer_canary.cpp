// The canary of the sanitized readers (SWAV_SANITIZE_READERS, docs/RELIABILITY.md). Hidden: only
// the ctest `sanitized_readers_catch_an_overflow` runs it, in swav_tests_sanitized, and passes when
// AddressSanitizer reports the read one byte past the image inside resample.cpp. That shows the
// memory checker is live and that the program runs the instrumented reader objects, not their
// uninstrumented twins in libswav_bench.a. In swav_tests it would read one byte past a buffer
// unchecked, which is why nothing else runs it.
#include <catch2/catch.hpp>

#include <cstdint>
#include <memory>
#include <vector>

#include "swav/data/resample.h"

TEST_CASE("a box read one byte past its image is caught by the sanitized readers",
          "[.sanitizer_canary]") {
  constexpr int64_t kSide = 8, kChannels = 3;
  // One byte short of the 8x8 RGB image the call below reads; a heap block of its own, so the
  // byte past it lies in AddressSanitizer's red zone.
  const auto image = std::make_unique<uint8_t[]>(kSide * kSide * kChannels - 1);
  std::vector<float> out(kChannels * 4 * 4);
  swav::data::ResampleScratch scratch;
  swav::data::resample_box_to_planar(image.get(), kSide, kChannels, 0, 0, kSide, kSide, 4, 4, false,
                                     1.0f, out.data(), scratch);
  SUCCEED("not caught: the readers are not instrumented");
}
