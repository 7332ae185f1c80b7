// Small counter-based random streams for the data pipeline (internal to swav/data).
//
// Every random decision in data loading (a crop's parameters, an epoch's order, a synthetic image)
// draws from its own stream keyed by a few integers, so the result never depends on which thread
// made it, in which order, or what else was in the batch.
#pragma once
#include <cmath>
#include <cstdint>
#include <initializer_list>

namespace swav::data {

/// The splitmix64 finaliser: a bijective 64-bit mix with good avalanche.
inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// Hashes an ordered list of words into one 64-bit key (each step is a bijection of the word given
/// the running hash, so keys differing in one word never collide).
inline uint64_t hash_words(std::initializer_list<uint64_t> words) {
  uint64_t h = 0x6A09E667F3BCC908ull;
  for (uint64_t w : words) h = mix64(h + 0x9E3779B97F4A7C15ull + w) ^ (h >> 7);
  return h;
}

/// xoshiro256** seeded by splitmix64 from a key.
class Rng {
 public:
  explicit Rng(uint64_t key) {
    uint64_t x = key;
    for (auto& s : s_) {
      x += 0x9E3779B97F4A7C15ull;
      s = mix64(x);
    }
  }
  Rng(std::initializer_list<uint64_t> words) : Rng(hash_words(words)) {}

  uint64_t next() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  /// Uniform integer in [0, n), unbiased (rejects the short last block); n > 0.
  uint64_t below(uint64_t n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    for (;;) {
      const uint64_t r = next();
      if (r >= threshold) return r % n;
    }
  }
  /// True with probability p.
  bool bernoulli(double p) { return uniform() < p; }
  /// Standard normal (Box-Muller; one value per call keeps the stream position simple).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

/// Stream domains, so that e.g. the epoch order and crop 0 of sample 0 never share a stream.
enum class Stream : uint64_t { kCrop = 1, kEpochOrder = 2, kSynthetic = 3, kClusterSampling = 4 };

}  // namespace swav::data
