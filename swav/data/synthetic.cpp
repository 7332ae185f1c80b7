// A synthetic set of known classes for fast tests and smoke runs.
//
// Class k has its own colour (hue k/K; for one channel, a gray level) and its own grating
// orientation (k * 180/K degrees, jittered by up to a third of the spacing). Each sample draws a
// random grating phase and frequency, envelope position and width, brightness and pixel noise, and
// with probability kDistractorProb borrows the colour of a random class: colour alone then misleads
// about one sample in five, while the orientation never does. Raw pixel kNN therefore does far
// better than chance but is not perfect; a network that learns orientation can beat it.
#include <cmath>

#include "swav/data/image_set.h"
#include "swav/data/rng.h"
#include "swav/util/error.h"

namespace swav {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDistractorProb = 0.2;
constexpr double kAngleJitter = 0.35;  // in units of the angle between neighbouring classes

// HSV (s, v fixed) to RGB, h in [0, 1).
std::array<double, 3> hue_to_rgb(double h, double s, double v) {
  const double h6 = h * 6.0;
  const int sector = static_cast<int>(std::floor(h6)) % 6;
  const double f = h6 - std::floor(h6);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (sector) {
    case 0:
      return {v, t, p};
    case 1:
      return {q, v, p};
    case 2:
      return {p, v, t};
    case 3:
      return {p, q, v};
    case 4:
      return {t, p, v};
    default:
      return {v, p, q};
  }
}

std::array<double, 3> class_colour(int64_t k, int64_t K, int64_t channels) {
  if (channels == 1) {
    const double level =
        K > 1 ? 0.3 + 0.5 * static_cast<double>(k) / static_cast<double>(K - 1) : 0.5;
    return {level, level, level};
  }
  return hue_to_rgb(static_cast<double>(k) / static_cast<double>(K), 0.75, 0.9);
}

}  // namespace

ImageSet make_synthetic(const DataOptions& options, Split split) {
  const int64_t K = options.synthetic_classes;
  const int64_t per_class =
      split == Split::kTrain ? options.synthetic_train_per_class : options.synthetic_test_per_class;
  const int64_t S = options.synthetic_size;
  const int64_t C = options.synthetic_channels;
  if (K < 2) fail("data.synthetic_classes must be at least 2 (got {})", K);
  if (per_class < 1) fail("data.synthetic_*_per_class must be positive (got {})", per_class);
  if (S < 4) fail("data.synthetic_size must be at least 4 (got {})", S);
  if (C != 1 && C != 3) fail("data.synthetic_channels must be 1 or 3 (got {})", C);

  const int64_t N = K * per_class;
  ImageSet set;
  set.images = torch::empty({N, S, S, C}, torch::kUInt8);
  set.labels = torch::empty({N}, torch::kInt64);
  uint8_t* images = set.images.data_ptr<uint8_t>();
  int64_t* labels = set.labels.data_ptr<int64_t>();
  const uint64_t split_id = split == Split::kTrain ? 0 : 1;

  for (int64_t i = 0; i < N; ++i) {
    const int64_t k = i % K;  // classes interleaved, so every prefix is balanced
    labels[i] = k;
    data::Rng rng({static_cast<uint64_t>(data::Stream::kSynthetic), split_id,
                   static_cast<uint64_t>(K), static_cast<uint64_t>(S), static_cast<uint64_t>(C),
                   static_cast<uint64_t>(i)});
    const int64_t colour_class =
        rng.bernoulli(kDistractorProb) ? static_cast<int64_t>(rng.below(K)) : k;
    const auto colour = class_colour(colour_class, K, C);
    const double angle = kPi * (static_cast<double>(k) + rng.uniform(-kAngleJitter, kAngleJitter)) /
                         static_cast<double>(K);
    const double cycles = rng.uniform(2.0, 4.0);  // per image width
    const double fx = std::cos(angle) * 2.0 * kPi * cycles / S;
    const double fy = std::sin(angle) * 2.0 * kPi * cycles / S;
    const double phase = rng.uniform(0.0, 2.0 * kPi);
    const double cx = rng.uniform(0.2, 0.8) * S, cy = rng.uniform(0.2, 0.8) * S;
    const double width = rng.uniform(0.25, 0.45) * S;
    const double brightness = rng.uniform(0.7, 1.0);
    uint8_t* img = images + i * S * S * C;
    for (int64_t y = 0; y < S; ++y) {
      for (int64_t x = 0; x < S; ++x) {
        const double dx = x - cx, dy = y - cy;
        const double envelope = std::exp(-(dx * dx + dy * dy) / (2.0 * width * width));
        const double grating = std::cos(fx * x + fy * y + phase);
        const double shade = brightness * (0.55 + 0.45 * envelope * grating);
        for (int64_t c = 0; c < C; ++c) {
          const double v = colour[c] * shade + 0.08 * rng.normal();
          img[(y * S + x) * C + c] =
              static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0));
        }
      }
    }
  }
  set.num_classes = K;
  for (int64_t k = 0; k < K; ++k) set.class_names.push_back(fmt::format("class_{}", k));
  set.description = fmt::format("synthetic:{} ({} x {}x{}x{})",
                                split == Split::kTrain ? "train" : "test", N, S, S, C);
  return set;
}

}  // namespace swav
