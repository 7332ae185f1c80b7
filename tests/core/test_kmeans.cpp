#include <catch2/catch.hpp>

#include "swav/core/kmeans.h"

using namespace swav;

namespace {

namespace F = torch::nn::functional;

// Four tight blobs around far-apart unit directions; label = blob.
std::pair<torch::Tensor, torch::Tensor> blobs(int64_t per_blob, double spread, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto centers = torch::eye(4, torch::kFloat64).narrow(1, 0, 4) * 5.0;  // [4, 4]
  auto labels = torch::arange(4, torch::kLong).repeat_interleave(per_blob);
  auto x =
      centers.index_select(0, labels) +
      spread * torch::randn({4 * per_blob, 4}, gen, torch::TensorOptions().dtype(torch::kFloat64));
  return {x, labels};
}

// Same partition up to a renaming of the clusters.
bool same_partition(const torch::Tensor& a, const torch::Tensor& b, int64_t k) {
  auto table = torch::zeros({k, k}, torch::kLong);
  table.view({-1}).index_add_(0, a * k + b, torch::ones_like(a));
  return (table.gt(0).sum(1).le(1).all().item<bool>() &&
          table.gt(0).sum(0).le(1).all().item<bool>());
}

}  // namespace

TEST_CASE("k-means recovers separable blobs, Euclidean and cosine, both inits", "[core][kmeans]") {
  auto [x, labels] = blobs(50, 0.3, 1);
  for (auto metric : {KMeansMetric::kEuclidean, KMeansMetric::kCosine}) {
    for (auto init : {KMeansInit::kPlusPlus, KMeansInit::kRandom}) {
      KMeansOptions o(4);
      o.metric = metric;
      o.init = init;
      o.iterations = 20;
      o.restarts = 3;
      o.empty = KMeansEmpty::kFarthest;
      o.seed = 5;
      auto data =
          metric == KMeansMetric::kCosine ? F::normalize(x, F::NormalizeFuncOptions().dim(1)) : x;
      auto r = kmeans(data, o);
      INFO("metric " << static_cast<int>(metric) << " init " << static_cast<int>(init));
      CHECK(same_partition(r.assignments, labels, 4));
      CHECK(r.counts.eq(50).all().item<bool>());
      if (metric == KMeansMetric::kEuclidean) {
        // The centroids are the blob means.
        for (int64_t c = 0; c < 4; ++c) {
          auto members = x.index_select(0, torch::nonzero(labels.eq(c)).flatten());
          auto centroid = r.centroids[r.assignments[c * 50].item<int64_t>()];
          CHECK(torch::allclose(centroid, members.mean(0), 1e-9, 1e-9));
        }
      } else {
        auto norms = r.centroids.norm(2, 1);
        CHECK(torch::allclose(norms, torch::ones_like(norms), 1e-9, 1e-9));
      }
    }
  }
}

TEST_CASE("k-means objective never increases", "[core][kmeans]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = torch::randn({600, 8}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  for (auto metric : {KMeansMetric::kEuclidean, KMeansMetric::kCosine}) {
    for (auto empty : {KMeansEmpty::kKeep, KMeansEmpty::kFarthest}) {
      KMeansOptions o(40);
      o.metric = metric;
      o.empty = empty;
      o.iterations = 15;
      o.seed = 11;
      o.chunk_rows = 97;  // several uneven chunks
      auto data =
          metric == KMeansMetric::kCosine ? F::normalize(x, F::NormalizeFuncOptions().dim(1)) : x;
      auto r = kmeans(data, o);
      REQUIRE(r.objective.size() == 16);
      for (size_t i = 1; i < r.objective.size(); ++i) {
        INFO("iteration " << i << ": " << r.objective[i - 1] << " -> " << r.objective[i]);
        CHECK(r.objective[i] <= r.objective[i - 1] * (1 + 1e-6) + 1e-7);
      }
      CHECK(r.objective.back() < r.objective.front());
      // The reported assignment is the nearest centroid, and the objective its mean distance.
      // Scored in the same chunks as the run, so both see the same matrix-product kernels.
      auto [assign, dist] = kmeans_assign(data, r.centroids, metric, o.chunk_rows);
      CHECK(torch::equal(assign, r.assignments));
      CHECK(dist.to(torch::kFloat64).mean().item<double>() ==
            Approx(r.objective.back()).epsilon(1e-5));
      CHECK(r.counts.sum().item<int64_t>() == 600);
    }
  }
}

TEST_CASE("k-means handles empty clusters", "[core][kmeans]") {
  // 3 distinct points repeated, 5 clusters asked for: random init must pick duplicates, so some
  // clusters are empty after the first E-step.
  auto base = torch::tensor({{0.0, 0.0}, {10.0, 0.0}, {0.0, 10.0}}, torch::kFloat64);
  auto x = torch::cat({base.repeat({10, 1}), torch::tensor({{10.0, 10.0}}, torch::kFloat64)});
  SECTION("keep: empty clusters keep their centroid, every value stays finite") {
    KMeansOptions o(5);
    o.metric = KMeansMetric::kEuclidean;
    o.empty = KMeansEmpty::kKeep;
    o.iterations = 5;
    o.seed = 2;
    auto r = kmeans(x, o);
    CHECK(torch::isfinite(r.centroids).all().item<bool>());
    CHECK(r.counts.sum().item<int64_t>() == x.size(0));
    CHECK(r.counts.eq(0).sum().item<int64_t>() >= 1);  // duplicates: at most 4 distinct centroids
    for (size_t i = 1; i < r.objective.size(); ++i) CHECK(r.objective[i] <= r.objective[i - 1]);
  }
  SECTION("farthest: an empty cluster takes a far point, so all 4 distinct points end up alone") {
    KMeansOptions o(4);
    o.metric = KMeansMetric::kEuclidean;
    o.empty = KMeansEmpty::kFarthest;
    o.iterations = 10;
    for (uint64_t seed = 0; seed < 5; ++seed) {
      o.seed = seed;
      auto r = kmeans(x, o);
      INFO("seed " << seed);
      CHECK(r.objective.back() == Approx(0.0).margin(1e-12));
      CHECK(r.counts.gt(0).all().item<bool>());
    }
  }
}

TEST_CASE("k-means is deterministic in its seed", "[core][kmeans]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto x = torch::randn({300, 5}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  KMeansOptions o(12);
  o.metric = KMeansMetric::kEuclidean;
  o.init = KMeansInit::kPlusPlus;
  o.seed = 4;
  auto a = kmeans(x, o);
  auto b = kmeans(x, o);
  CHECK(torch::equal(a.centroids, b.centroids));
  o.seed = 5;
  auto c = kmeans(x, o);
  CHECK_FALSE(torch::equal(a.centroids, c.centroids));
}

TEST_CASE("k-means rejects bad input", "[core][kmeans]") {
  auto x = torch::randn({10, 3});
  CHECK_THROWS_WITH(kmeans(x, KMeansOptions(11)), Catch::Contains("more than the 10 points"));
  KMeansOptions o(3);
  CHECK_THROWS_WITH(kmeans(x * 3, o), Catch::Contains("L2-normalised"));
}

TEST_CASE("k-means on CUDA agrees with CPU", "[core][kmeans][gpu]") {
  if (!torch::cuda::is_available()) {
    WARN("no CUDA device: skipped");
    return;
  }
  auto [x, labels] = blobs(200, 0.5, 7);
  KMeansOptions o(4);
  o.metric = KMeansMetric::kEuclidean;
  o.init = KMeansInit::kPlusPlus;
  o.iterations = 10;
  o.seed = 3;
  auto cpu = kmeans(x, o);
  auto gpu = kmeans(x.cuda(), o);
  CHECK(torch::equal(cpu.assignments, gpu.assignments.cpu()));
  CHECK(torch::allclose(cpu.centroids, gpu.centroids.cpu(), 1e-9, 1e-9));
}
