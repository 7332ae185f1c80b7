#include <catch2/catch.hpp>

#include "baseline_fixture.h"
#include "baselines/sela.h"

using namespace swav;

namespace {

torch::Tensor random_probabilities(int64_t N, int64_t K, uint64_t seed, double sharpness) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto logits =
      torch::randn({N, K}, gen, torch::TensorOptions().dtype(torch::kFloat64)) * sharpness;
  return torch::softmax(logits, 1);
}

void check_equipartition(const torch::Tensor& labels, int64_t N, int64_t K) {
  auto counts = torch::bincount(labels, {}, K);
  REQUIRE(counts.size(0) == K);
  CHECK(counts.sum().item<int64_t>() == N);
  CHECK(counts.min().item<int64_t>() == N / K);
  CHECK(counts.max().item<int64_t>() == (N % K == 0 ? N / K : N / K + 1));
  CHECK(counts.eq(N / K + 1).sum().item<int64_t>() == (N % K == 0 ? 0 : N % K));
}

}  // namespace

TEST_CASE("SeLa labels are exactly equipartitioned", "[baselines][sela]") {
  for (auto [N, K] :
       std::vector<std::pair<int64_t, int64_t>>{{1000, 10}, {1003, 7}, {64, 64}, {500, 3}}) {
    INFO("N " << N << " K " << K);
    // Skewed P: most samples prefer the first clusters, so the plain argmax is far from balanced.
    auto P = random_probabilities(N, K, 3, 2.0);
    P = P * torch::linspace(3.0, 1.0, K, torch::kFloat64).unsqueeze(0);
    P = P / P.sum(1, true);
    auto labels = sela_labels(P, 10.0, 0.1);
    check_equipartition(labels, N, K);
  }
}

TEST_CASE("SeLa Sinkhorn meets its marginals and follows the stopping rule", "[baselines][sela]") {
  auto P = random_probabilities(400, 8, 5, 1.0);
  auto sk = sela_sinkhorn(P, 10.0, 1e-6);
  auto Q = P.pow(10.0) * sk.r.unsqueeze(0) * sk.c.unsqueeze(1);  // [N, K]
  // Every sample carries 1/N (exact after the last c update); every cluster 1/K up to the
  // tolerance.
  CHECK(torch::allclose(Q.sum(1), torch::full({400}, 1.0 / 400, torch::kFloat64), 1e-9, 0));
  CHECK(torch::allclose(Q.sum(0), torch::full({8}, 1.0 / 8, torch::kFloat64), 1e-4, 0));
  CHECK(sk.iterations % 10 == 1);  // checked every 10 iterations, from the first
  // The error starts at 1e6, as in the reference: a tolerance under it stops after the first
  // check, one above it runs no iteration at all.
  auto loose = sela_sinkhorn(P, 10.0, 1e5);
  CHECK(loose.iterations == 1);
  CHECK(sela_sinkhorn(P, 10.0, 1e7).iterations == 0);
  // Where the scaled matrix is already balanced, the labels are its argmax: a P whose argmax is
  // a perfect equipartition keeps it.
  auto eye = torch::eye(8, torch::kFloat64).repeat({50, 1}) * 0.9 + 0.1 / 8;
  auto labels = sela_labels(eye, 10.0, 0.1);
  CHECK(torch::equal(labels, torch::arange(8, torch::kLong).repeat({50})));
}

TEST_CASE("SeLa label steps follow the linear or quadratic schedule", "[baselines][sela]") {
  CHECK(sela_label_epochs(10, 5, "linear") == std::vector<int64_t>{0, 2, 4, 6, 8});
  CHECK(sela_label_epochs(100, 5, "quadratic") == std::vector<int64_t>{0, 4, 16, 36, 64});
  CHECK(sela_label_epochs(3, 10, "linear") == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("SeLa starts from a random equipartition and relabels on schedule", "[baselines][sela]") {
  auto o = test::tiny_baseline("sela");
  o.model.prototypes = {12, 10};
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(3);
  SelaMethod method(MethodSetup::from(o, train.channels(), train.size()), o.sela);
  for (int64_t h = 0; h < 2; ++h)
    check_equipartition(method.labels()[h], train.size(), o.model.prototypes[h]);
  const auto initial = method.labels().clone();
  StepContext ctx;
  ctx.train_set = &train;
  o.sela.label_steps = 100;
  method.on_epoch_start(ctx);
  CHECK_FALSE(torch::equal(initial, method.labels()));
  for (int64_t h = 0; h < 2; ++h)
    check_equipartition(method.labels()[h], train.size(), o.model.prototypes[h]);
  auto out = method.step(test::tiny_batches(o, train, 0, 1)[0], ctx);
  CHECK(std::isfinite(out.loss.item<double>()));
}
