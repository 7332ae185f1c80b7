#include <catch2/catch.hpp>

#include "baseline_fixture.h"
#include "baselines/deepcluster_v2.h"
#include "baselines/sela_v2.h"
#include "swav/core/kmeans.h"
#include "swav/core/sinkhorn.h"

using namespace swav;

namespace F = torch::nn::functional;

TEST_CASE("DeepCluster-v2 fills its bank, and its prototypes are the normalised k-means centroids",
          "[baselines][deepcluster]") {
  auto o = test::tiny_baseline("deepcluster_v2");
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(5);
  DeepClusterV2Method method(MethodSetup::from(o, train.channels(), train.size()), o.deepcluster);
  StepContext ctx;
  ctx.train_set = &train;
  ctx.global_batch = o.train.batch_size;
  method.on_train_start(train, ctx);
  REQUIRE(method.bank().sizes() == torch::IntArrayRef({2, train.size(), o.model.output_dim}));
  auto norms = method.bank().norm(2, 2);
  CHECK(torch::allclose(norms, torch::ones_like(norms), 1e-5, 1e-5));  // every row written

  ctx.epoch = 3;
  method.on_epoch_start(ctx);
  for (int64_t h = 0; h < 2; ++h) {
    INFO("head " << h);
    // The same k-means (same seed rule) run here gives the prototypes and the targets.
    KMeansOptions k(o.model.prototypes[h]);
    k.iterations = o.deepcluster.kmeans_iterations;
    k.seed = static_cast<uint64_t>(o.train.seed) * 1000003ULL + 3 * 1009ULL + h;
    auto result = kmeans(method.bank()[h % 2], k);
    auto weight = method.network()->prototypes->weight(h);
    CHECK(torch::allclose(weight, result.centroids, 1e-6, 1e-6));
    auto row_norms = weight.norm(2, 1);
    CHECK(torch::allclose(row_norms, torch::ones_like(row_norms), 1e-5, 1e-5));
    CHECK(torch::equal(method.assignments()[h], result.assignments));
    // Each sample's target is the centroid it is most similar to (up to rounding: k-means ranks
    // by 1 - similarity, so two centroids within an ulp of each other may be taken either way).
    auto similarity = torch::mm(method.bank()[h % 2], weight.t());
    auto best = std::get<0>(similarity.max(1));
    auto chosen = similarity.gather(1, method.assignments()[h].unsqueeze(1)).squeeze(1);
    CHECK((best - chosen).max().item<double>() <= 1e-6);
  }
  // The prototypes are not trained.
  for (const auto& p : method.parameters())
    for (int64_t h = 0; h < 2; ++h) CHECK_FALSE(p.is_same(method.network()->prototypes->weight(h)));
}

TEST_CASE("DeepCluster-v2 loss is the cross-entropy of every crop against its cluster id",
          "[baselines][deepcluster]") {
  auto o = test::tiny_baseline("deepcluster_v2");
  o.model.prototypes = {12};
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(6);
  DeepClusterV2Method method(MethodSetup::from(o, train.channels(), train.size()), o.deepcluster);
  StepContext ctx;
  ctx.train_set = &train;
  method.on_epoch_start(ctx);  // fills the bank itself when on_train_start did not run
  auto batch = test::tiny_batches(o, train, 0, 1)[0];
  const auto bank_before = method.bank().clone();
  const double loss = method.step(batch, ctx).loss.item<double>();

  torch::NoGradGuard no_grad;
  auto [z, scores] = method.network()->forward(batch.views);
  auto targets = method.assignments()[0].index_select(0, batch.indices).repeat({4});
  const double expected = F::cross_entropy(scores[0] / 0.1, targets).item<double>();
  CHECK(loss == Approx(expected).epsilon(1e-5));
  // The batch's crop-0 and crop-1 embeddings replaced its bank rows; the rest is untouched.
  const int64_t B = batch.indices.size(0);
  CHECK(torch::allclose(method.bank()[0].index_select(0, batch.indices), z.narrow(0, 0, B), 1e-5,
                        1e-5));
  CHECK(torch::allclose(method.bank()[1].index_select(0, batch.indices), z.narrow(0, B, B), 1e-5,
                        1e-5));
  auto untouched = torch::ones({train.size()}, torch::kBool).index_fill_(0, batch.indices, false);
  CHECK(torch::equal(method.bank()[0].index({untouched}), bank_before[0].index({untouched})));
}

TEST_CASE("SeLa-v2 labels are the argmax of Sinkhorn codes over the bank, prototypes trained",
          "[baselines][sela]") {
  auto o = test::tiny_baseline("sela_v2");
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(8);
  SelaV2Method method(MethodSetup::from(o, train.channels(), train.size()), o.sela_v2);
  StepContext ctx;
  ctx.train_set = &train;
  method.on_epoch_start(ctx);
  for (int64_t h = 0; h < 2; ++h) {
    auto weight = method.network()->prototypes->weight(h).detach();
    auto codes = sinkhorn(torch::mm(method.bank()[h % 2], weight.t()), o.sela_v2.epsilon,
                          o.sela_v2.sinkhorn_iterations);
    CHECK(torch::equal(method.assignments()[h], codes.argmax(1)));
    // Sinkhorn spreads the samples: every head uses most of its prototypes.
    auto counts = torch::bincount(method.assignments()[h], {}, o.model.prototypes[h]);
    CHECK(counts.gt(0).sum().item<int64_t>() >= o.model.prototypes[h] / 2);
  }
  // The prototypes are among the trained parameters.
  bool found = false;
  for (const auto& p : method.parameters())
    found = found || p.is_same(method.network()->prototypes->weight(0));
  CHECK(found);
}
