#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <catch2/catch.hpp>

#include "../helpers.h"
#include "swav/core/sinkhorn.h"
#include "thread_collective.h"

using swav::SinkhornImpl;
using swav::test::json_tensor;
using swav::test::reference;
using swav::test::rel_error;

namespace {

const SinkhornImpl kCpuImpls[] = {SinkhornImpl::kReference, SinkhornImpl::kFused};

const char* name(SinkhornImpl impl) {
  return impl == SinkhornImpl::kReference ? "reference" : "fused";
}

// Cosine-like scores in [-1, 1], as SwAV's normalised embeddings and prototypes give.
torch::Tensor random_scores(int64_t B, int64_t K, int64_t D, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  namespace F = torch::nn::functional;
  auto z = F::normalize(at::randn({B, D}, gen), F::NormalizeFuncOptions().dim(1));
  auto c = F::normalize(at::randn({K, D}, gen), F::NormalizeFuncOptions().dim(1));
  return torch::mm(z, c.t());
}

// The reference's equations in float64 (with the transposes and the division by the total).
torch::Tensor sinkhorn_float64(const torch::Tensor& scores, double eps, int64_t iterations) {
  auto S = scores.to(torch::kFloat64);
  const int64_t B = S.size(0), K = S.size(1);
  auto Q = ((S - S.max()) / eps).exp().t();
  Q = Q / Q.sum();
  for (int64_t it = 0; it < iterations; ++it) {
    Q = Q / Q.sum(1, true) / K;
    Q = Q / Q.sum(0, true) / B;
  }
  return (Q * B).t();
}

}  // namespace

TEST_CASE("sinkhorn matches the float64 reference codes", "[core][sinkhorn]") {
  const auto& cases = reference()["sinkhorn"];
  REQUIRE(cases.size() == 6);
  for (const auto impl : kCpuImpls) {
    for (const auto& c : cases) {
      const double eps = c["epsilon"].get<double>();
      const int64_t iters = c["iterations"].get<int64_t>();
      auto scores = json_tensor(c["scores"]).to(torch::kFloat32);
      auto expected = json_tensor(c["codes"]);
      auto codes = swav::sinkhorn_codes(scores, eps, iters, impl);
      INFO(name(impl) << " B=" << c["B"] << " K=" << c["K"] << " eps=" << eps
                      << " iters=" << iters);
      REQUIRE(codes.scalar_type() == torch::kFloat32);
      REQUIRE(codes.sizes() == expected.sizes());
      CHECK(
          torch::isfinite(codes).all().item<bool>());  // eps = 0.01 would overflow without the max
      CHECK(rel_error(codes, expected) <= 1e-5);
    }
  }
}

TEST_CASE("sinkhorn converges to the equipartition marginals", "[core][sinkhorn]") {
  const int64_t B = 96, K = 24;
  auto scores = random_scores(B, K, 16, 7);
  for (const auto impl : kCpuImpls) {
    INFO(name(impl));
    auto codes = swav::sinkhorn_codes(scores, 0.05, 200, impl).to(torch::kFloat64);
    auto rows = codes.sum(1), cols = codes.sum(0);
    CHECK((rows - 1).abs().max().item<double>() <= 1e-5);
    CHECK((cols / (double(B) / K) - 1).abs().max().item<double>() <= 1e-4);
    CHECK(codes.min().item<double>() >= 0);
  }
}

TEST_CASE("sinkhorn leaves its input unchanged and runs without autograd", "[core][sinkhorn]") {
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    auto scores = random_scores(20, 12, 8, 3).to(dtype).requires_grad_(true);
    auto before = scores.detach().clone();
    for (const auto impl : kCpuImpls) {
      auto codes = swav::sinkhorn_codes(scores, 0.05, 3, impl);
      CHECK_FALSE(codes.requires_grad());
      CHECK(codes.scalar_type() == torch::kFloat32);
      CHECK(torch::equal(scores.detach(), before));
    }
  }
}

TEST_CASE("fused CPU sinkhorn agrees with the op-by-op reference", "[core][sinkhorn]") {
  struct Shape {
    int64_t B, K;
  };
  for (const auto shape :
       {Shape{1, 7}, Shape{5, 1}, Shape{33, 70}, Shape{300, 128}, Shape{1024, 3000}}) {
    for (const int64_t iters : {0, 1, 3, 10}) {
      for (const double eps : {0.05, 0.01}) {
        auto scores = random_scores(shape.B, shape.K, 32, 11 + shape.B);
        auto expected = swav::sinkhorn(scores, eps, iters);
        auto fused = swav::sinkhorn_fused_cpu(scores, eps, iters);
        INFO("B=" << shape.B << " K=" << shape.K << " iters=" << iters << " eps=" << eps);
        REQUIRE(fused.sizes() == expected.sizes());
        CHECK(rel_error(fused, expected) <= 1e-5);
      }
    }
  }
  // Non-contiguous float64 input goes through the same conversion.
  auto wide = random_scores(40, 30, 8, 5).to(torch::kFloat64).t().contiguous().t();
  CHECK(rel_error(swav::sinkhorn_fused_cpu(wide, 0.05, 3), swav::sinkhorn(wide, 0.05, 3)) <= 1e-5);
}

TEST_CASE("fused CPU sinkhorn handles tiny and non-finite exponentials like the reference",
          "[core][sinkhorn]") {
  // Prototype 0 scores far below the max: exp((s - max) / eps) is subnormal (e^-88 .. e^-103) for
  // every sample, and Sinkhorn scales that prototype's row back up to mass 1 / K.
  auto scores = random_scores(16, 6, 8, 4) * 0.05;
  scores.select(1, 0).fill_(-0.9).add_(torch::linspace(0, 0.1, 16));
  scores[0][1] = 0.1;
  for (const int64_t iters : {1, 3}) {
    auto expected = swav::sinkhorn(scores, 0.01, iters);
    auto fused = swav::sinkhorn_fused_cpu(scores, 0.01, iters);
    REQUIRE(torch::isfinite(expected).all().item<bool>());
    CHECK(torch::isfinite(fused).all().item<bool>());
    CHECK(rel_error(fused, expected) <= 1e-5);
  }
  // A sample whose scores all lie far below the max (by over 110 eps; e^-104 is below the least
  // float): the reference's float32 exp((s - max) / eps) underflows to 0 for that whole row and
  // its codes are NaN, while the fused path keeps each row relative to its own max and matches
  // the float64 equations.
  auto far = random_scores(16, 6, 8, 5);
  far[0].mul_(0.01).sub_(0.9);
  REQUIRE(far.max().item<float>() - far[0].max().item<float>() > 1.1f);
  auto exact = sinkhorn_float64(far, 0.01, 3);
  REQUIRE(torch::isfinite(exact).all().item<bool>());
  CHECK(rel_error(swav::sinkhorn_fused_cpu(far, 0.01, 3), exact.to(torch::kFloat32)) <= 1e-5);
  CHECK_FALSE(torch::isfinite(swav::sinkhorn(far, 0.01, 3)).all().item<bool>());
  // NaN (both signs: x86 arithmetic makes negative ones) and +inf scores give NaN codes, as in the
  // reference; -inf scores give exact zeros.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const float value : {nan, -nan, inf}) {
    auto bad = scores.clone();
    bad[3][2] = value;
    INFO("score " << value);
    CHECK(torch::isnan(swav::sinkhorn_fused_cpu(bad, 0.05, 3)).any().item<bool>());
    CHECK(torch::isnan(swav::sinkhorn(bad, 0.05, 3)).any().item<bool>());
  }
  auto minus_inf = scores.clone();
  minus_inf[3][2] = -inf;
  auto fused_minus_inf = swav::sinkhorn_fused_cpu(minus_inf, 0.05, 3);
  CHECK(fused_minus_inf[3][2].item<float>() == 0.0f);
  CHECK(rel_error(fused_minus_inf, swav::sinkhorn(minus_inf, 0.05, 3)) <= 1e-5);
}

TEST_CASE("fused CPU sinkhorn does not depend on the thread count", "[core][sinkhorn]") {
  auto scores = random_scores(700, 300, 16, 9);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  auto one = swav::sinkhorn_fused_cpu(scores, 0.05, 3);
  at::set_num_threads(std::max(2, threads));
  auto many = swav::sinkhorn_fused_cpu(scores, 0.05, 3);
  at::set_num_threads(threads);
  CHECK(torch::equal(one, many));
}

TEST_CASE("sinkhorn over two processes equals one process with the whole batch",
          "[core][sinkhorn]") {
  const int64_t B = 24, K = 10;
  auto scores = random_scores(B, K, 8, 21);
  // Rank 1's scores are shifted up so the two local maxima differ: only the global max is exact.
  scores.slice(0, B / 2, B).add_(0.3);
  for (const auto impl : kCpuImpls) {
    auto whole = swav::sinkhorn_codes(scores, 0.05, 3, impl);
    auto parts = swav::test::run_ranks(2, [&](swav::Collective& collective) {
      const int64_t r = collective.rank();
      return swav::sinkhorn_codes(scores.slice(0, r * B / 2, (r + 1) * B / 2), 0.05, 3, impl,
                                  collective);
    });
    INFO(name(impl));
    CHECK(rel_error(torch::cat(parts, 0), whole) <= 1e-6);
  }
}

TEST_CASE("sinkhorn rejects malformed arguments", "[core][sinkhorn]") {
  for (const auto impl : kCpuImpls) {
    CHECK_THROWS(swav::sinkhorn_codes(torch::zeros({4}), 0.05, 3, impl));
    CHECK_THROWS(swav::sinkhorn_codes(torch::zeros({0, 4}), 0.05, 3, impl));
    CHECK_THROWS(swav::sinkhorn_codes(torch::zeros({4, 4}), 0.0, 3, impl));
    CHECK_THROWS(swav::sinkhorn_codes(torch::zeros({4, 4}), 0.05, -1, impl));
  }
}

TEST_CASE("fused CUDA sinkhorn agrees with the CPU reference", "[core][sinkhorn][gpu]") {
#ifndef SWAV_WITH_CUDA
  WARN("built without CUDA kernels: skipped");
  return;
#else
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  struct Shape {
    int64_t B, K;
  };
  for (const auto shape : {Shape{1, 7}, Shape{8, 5}, Shape{33, 70}, Shape{256, 3000},
                           Shape{4096, 3000}, Shape{1000, 65}}) {
    for (const int64_t iters : {0, 1, 3, 10}) {
      for (const double eps : {0.05, 0.01}) {
        auto scores = random_scores(shape.B, shape.K, 32, 5 + shape.K);
        auto expected = swav::sinkhorn(scores, eps, iters);
        auto cuda_scores = scores.to(torch::kCUDA);
        auto before = cuda_scores.clone();
        auto fused = swav::sinkhorn_fused_cuda(cuda_scores, eps, iters);
        auto dispatched = swav::sinkhorn_codes(cuda_scores, eps, iters, SinkhornImpl::kFused);
        auto op_by_op = swav::sinkhorn(cuda_scores, eps, iters);
        INFO("B=" << shape.B << " K=" << shape.K << " iters=" << iters << " eps=" << eps);
        REQUIRE(fused.is_cuda());
        CHECK(fused.scalar_type() == torch::kFloat32);
        CHECK(rel_error(fused, expected) <= 1e-5);
        CHECK(torch::equal(fused, dispatched));
        CHECK(rel_error(op_by_op, expected) <= 1e-5);
        CHECK(torch::equal(cuda_scores, before));
      }
    }
  }
  for (const auto& c : reference()["sinkhorn"]) {
    auto scores = json_tensor(c["scores"]).to(torch::kCUDA);
    auto codes = swav::sinkhorn_fused_cuda(scores, c["epsilon"].get<double>(),
                                           c["iterations"].get<int64_t>());
    CHECK(rel_error(codes, json_tensor(c["codes"])) <= 1e-5);
  }
#endif
}
