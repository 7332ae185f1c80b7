// PCA whitening: whitened features have identity covariance, keep the leading directions, and
// survive directions without variance.
#include <catch2/catch.hpp>

#include "swav/core/pca.h"

using namespace swav;

TEST_CASE("PCA whitening gives unit covariance in the leading directions", "[pca]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  // Correlated data with known spread: z [N, 6] with variances 25, 9, 4, 1, 0.25, 0.01, rotated.
  const int64_t N = 4000;
  auto z = torch::randn({N, 6}, gen, torch::kFloat64) *
           torch::tensor({5.0, 3.0, 2.0, 1.0, 0.5, 0.1}, torch::kFloat64);
  auto q = std::get<0>(torch::linalg_qr(torch::randn({6, 6}, gen, torch::kFloat64)));
  auto x = torch::matmul(z, q.t()) + 3.0;
  const auto pca = fit_pca_whitening(x, 3);
  auto y = pca.apply(x);
  REQUIRE(y.sizes() == torch::IntArrayRef({N, 3}));
  CHECK(y.mean(0).abs().max().item<double>() < 1e-10);
  const auto cov = torch::matmul(y.t(), y) / static_cast<double>(N - 1);
  CHECK(torch::allclose(cov, torch::eye(3, torch::kFloat64), 0, 1e-9));
  // Eigenvalues descend, and the kept ones are the sample variances of the three widest axes.
  const auto sample = std::get<0>(torch::linalg_eigh(torch::cov(x.t()))).flip(0).narrow(0, 0, 3);
  CHECK(torch::allclose(pca.eigenvalues, sample, 1e-10, 0));
  CHECK(pca.eigenvalues[0].item<double>() == Approx(25).epsilon(0.1));
  // Asking for more components than there are dimensions keeps them all.
  CHECK(fit_pca_whitening(x, 256).projection.size(1) == 6);
  // float32 in, float32 out.
  CHECK(fit_pca_whitening(x.to(torch::kFloat32), 2).apply(x.to(torch::kFloat32)).scalar_type() ==
        torch::kFloat32);
}

TEST_CASE("PCA whitening of rank-deficient data stays finite", "[pca]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = torch::zeros({100, 5}, torch::kFloat64);
  x.narrow(1, 0, 2).copy_(torch::randn({100, 2}, gen, torch::kFloat64));  // 3 dead dimensions
  const auto y = fit_pca_whitening(x, 5).apply(x);
  CHECK(torch::isfinite(y).all().item<bool>());
  const auto cov = torch::matmul(y.t(), y) / 99.0;
  CHECK(torch::allclose(cov.narrow(0, 0, 2).narrow(1, 0, 2), torch::eye(2, torch::kFloat64), 0,
                        1e-9));
  CHECK_THROWS(fit_pca_whitening(x.narrow(0, 0, 1), 2));
}
