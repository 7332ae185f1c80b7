// NMI, ARI and cluster usage against hand-computed values and their defining properties.
#include <catch2/catch.hpp>

#include <cmath>

#include "eval/cluster_metrics.h"

using namespace swav;

namespace {
torch::Tensor ids(std::vector<int64_t> v) {
  return torch::tensor(v, torch::kLong);
}
}  // namespace

TEST_CASE("NMI and ARI of a hand-computed contingency table", "[eval][clusters]") {
  // a = {0,0,0,1,1,1}, b = {0,0,1,1,2,2}: table [[2,1,0],[0,1,2]].
  // ARI: S = 1 + 1 = 2, A = 3 + 3 = 6, B = 1 + 1 + 1 = 3, E = 6 * 3 / 15 = 1.2,
  //      (2 - 1.2) / (4.5 - 1.2) = 8 / 33.
  // NMI: I = 2 * (2/6) ln(6*2 / (3*2)) = (2/3) ln 2; H(a) = ln 2, H(b) = ln 3;
  //      NMI = (2/3) ln 2 / ((ln 2 + ln 3) / 2).
  auto a = ids({0, 0, 0, 1, 1, 1});
  auto b = ids({0, 0, 1, 1, 2, 2});
  CHECK(adjusted_rand_index(a, b) == Approx(8.0 / 33.0).epsilon(1e-12));
  const double nmi = (2.0 / 3.0) * std::log(2.0) / ((std::log(2.0) + std::log(3.0)) / 2);
  CHECK(normalized_mutual_information(a, b) == Approx(nmi).epsilon(1e-12));
  // Both are symmetric.
  CHECK(adjusted_rand_index(b, a) == Approx(8.0 / 33.0).epsilon(1e-12));
  CHECK(normalized_mutual_information(b, a) == Approx(nmi).epsilon(1e-12));
}

TEST_CASE("identical labelings up to renaming score 1; independent ones about 0",
          "[eval][clusters]") {
  auto labels = ids({0, 1, 2, 2, 1, 0, 3, 3, 3});
  auto renamed = ids({7, 4, 9, 9, 4, 7, 0, 0, 0});  // sparse, permuted ids
  CHECK(normalized_mutual_information(labels, renamed) == Approx(1.0).epsilon(1e-12));
  CHECK(adjusted_rand_index(labels, renamed) == Approx(1.0).epsilon(1e-12));

  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  auto x = torch::randint(10, {20000}, gen, torch::kLong);
  auto y = torch::randint(10, {20000}, gen, torch::kLong);
  CHECK(normalized_mutual_information(x, y) < 0.005);
  CHECK(std::abs(adjusted_rand_index(x, y)) < 0.005);

  // Splitting every cluster in two keeps NMI high but clearly below 1; ARI drops more.
  auto split = labels * 2 + torch::arange(9) % 2;
  const double nmi = normalized_mutual_information(labels, split);
  CHECK(nmi > 0.7);
  CHECK(nmi < 1.0);
  CHECK(adjusted_rand_index(labels, split) < nmi);

  // Trivial labelings: both one cluster is a perfect match; one cluster vs many is 0.
  auto one = ids({5, 5, 5, 5});
  CHECK(normalized_mutual_information(one, one) == 1.0);
  CHECK(adjusted_rand_index(one, one) == 1.0);
  CHECK(normalized_mutual_information(one, ids({0, 1, 2, 3})) == Approx(0.0).margin(1e-12));
}

TEST_CASE("cluster usage counts used clusters and the entropy of their sizes", "[eval][clusters]") {
  auto usage = cluster_usage(ids({0, 0, 1, 1}), 4);
  CHECK(usage.used == 2);
  CHECK(usage.used_share == 0.5);
  CHECK(usage.entropy == Approx(std::log(2.0)));
  CHECK(usage.entropy_share == Approx(0.5));  // ln 2 / ln 4

  auto even = cluster_usage(torch::arange(12) % 6, 6);
  CHECK(even.used == 6);
  CHECK(even.used_share == 1.0);
  CHECK(even.entropy_share == Approx(1.0));

  auto collapsed = cluster_usage(ids({3, 3, 3}), 10);
  CHECK(collapsed.used == 1);
  CHECK(collapsed.entropy == Approx(0.0).margin(1e-15));
  CHECK_THROWS(cluster_usage(ids({0, 10}), 10));  // outside [0, K)
}
