// The faults the CI regression check injects (swav/util/fault_injection.h) do what they say, and
// nothing is injected unless asked for.
#include <catch2/catch.hpp>

#include "swav/core/losses.h"
#include "swav/core/sinkhorn.h"
#include "swav/util/fault_injection.h"

namespace {

// Turns a fault on for one scope.
struct Injected {
  explicit Injected(swav::Fault f) : fault(f) { swav::inject_fault(fault); }
  ~Injected() { swav::inject_fault(fault, false); }
  swav::Fault fault;
};

torch::Tensor scores(int64_t B, int64_t K, uint64_t seed) {
  torch::manual_seed(seed);
  return torch::randn({B, K}).mul_(0.3);
}

}  // namespace

TEST_CASE("no fault is injected by default", "[fault]") {
  CHECK_FALSE(swav::fault_injected(swav::Fault::kSinkhornSkipsSampleNorm));
  CHECK_FALSE(swav::fault_injected(swav::Fault::kUnswappedLoss));
}

TEST_CASE("a Sinkhorn without per-sample normalisation gives codes that are not distributions",
          "[fault]") {
  const auto S = scores(64, 10, 3);
  const auto good = swav::sinkhorn_codes(S, 0.05, 3, swav::SinkhornImpl::kFused);
  torch::Tensor bad;
  {
    Injected fault(swav::Fault::kSinkhornSkipsSampleNorm);
    CHECK(swav::fault_injected(swav::Fault::kSinkhornSkipsSampleNorm));
    bad = swav::sinkhorn_codes(S, 0.05, 3, swav::SinkhornImpl::kFused);
  }
  CHECK_FALSE(swav::fault_injected(swav::Fault::kSinkhornSkipsSampleNorm));
  // Correct codes: each sample's row sums to 1. Faulty: the rows do not, though the prototypes'
  // columns still each hold B / K.
  CHECK(torch::allclose(good.sum(1), torch::ones({64}), 1e-5, 1e-5));
  CHECK((bad.sum(1) - 1).abs().max().item<double>() > 0.05);
  CHECK(torch::allclose(bad.sum(0), torch::full({10}, 6.4), 1e-4, 1e-4));
  // Off again: the fused path is back (same codes as before).
  CHECK(torch::equal(swav::sinkhorn_codes(S, 0.05, 3, swav::SinkhornImpl::kFused), good));
}

TEST_CASE("an unswapped SwAV loss predicts each code from its own crop", "[fault]") {
  const std::vector<torch::Tensor> crop_scores = {scores(8, 5, 1), scores(8, 5, 2)};
  const std::vector<torch::Tensor> codes = {swav::sinkhorn(crop_scores[0], 0.05, 3),
                                            swav::sinkhorn(crop_scores[1], 0.05, 3)};
  auto cross_entropy = [](const torch::Tensor& q, const torch::Tensor& s) {
    return -(q * torch::log_softmax(s / 0.1, 1)).sum(1).mean().item<double>();
  };
  const double swapped =
      0.5 * (cross_entropy(codes[0], crop_scores[1]) + cross_entropy(codes[1], crop_scores[0]));
  const double unswapped =
      0.5 * (cross_entropy(codes[0], crop_scores[0]) + cross_entropy(codes[1], crop_scores[1]));
  CHECK(swav::swav_loss(crop_scores, codes, {0, 1}, 0.1).item<double>() ==
        Approx(swapped).epsilon(1e-6));
  Injected fault(swav::Fault::kUnswappedLoss);
  CHECK(swav::swav_loss(crop_scores, codes, {0, 1}, 0.1).item<double>() ==
        Approx(unswapped).epsilon(1e-6));
  CHECK(std::abs(swapped - unswapped) > 1e-3);
}
