#include <catch2/catch.hpp>

#include <cmath>

#include "baseline_fixture.h"
#include "baselines/pcl.h"
#include "swav/core/losses.h"
#include "swav/optim/larc.h"

using namespace swav;

namespace F = torch::nn::functional;

TEST_CASE("PCL concentration matches the formula on a hand-computed case", "[baselines][pcl]") {
  // Five clusters: {1, 3}, {2, 2, 2}, {4, 4, 4, 4}, {5} (one member), {0.5, 0.5}.
  auto distances = torch::tensor({1.0, 3.0, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 4.0, 5.0, 0.5, 0.5});
  auto assignments = torch::tensor({0, 0, 1, 1, 1, 2, 2, 2, 2, 3, 4, 4}, torch::kLong);
  const double c0 = 2.0 / std::log(12.0), c1 = 2.0 / std::log(13.0), c2 = 4.0 / std::log(14.0);
  const double c3 = c2;  // one member: the largest phi
  const double c4 = 0.5 / std::log(12.0);
  // Sorted: c4 < c1 < c0 < c2 = c3. numpy percentiles with linear interpolation over 5 values:
  // 10th at position 0.4, 90th at position 3.6.
  const double p10 = c4 + 0.4 * (c1 - c4), p90 = c2 + 0.6 * (c3 - c2);
  std::vector<double> phi = {c0, c1, c2, c3, c4};
  double mean = 0;
  for (auto& v : phi) {
    v = std::min(std::max(v, p10), p90);
    mean += v / 5;
  }
  auto got = pcl_concentration(distances, assignments, 5, 0.2);
  REQUIRE(got.size(0) == 5);
  for (int i = 0; i < 5; ++i) {
    INFO("cluster " << i);
    CHECK(got[i].item<double>() == Approx(0.2 * phi[i] / mean).epsilon(1e-12));
  }
  CHECK(got.mean().item<double>() == Approx(0.2).epsilon(1e-12));
  // An empty cluster is treated like a one-member cluster.
  auto six = pcl_concentration(distances, assignments, 6, 0.2);
  CHECK(six[5].item<double>() == Approx(six[3].item<double>()).epsilon(1e-12));
}

TEST_CASE("proto_nce: own centroid positive, others negative, logits over concentration",
          "[baselines][pcl][loss]") {
  torch::manual_seed(3);
  auto q = F::normalize(torch::randn({3, 4}, torch::kFloat64), F::NormalizeFuncOptions().dim(1));
  auto c = F::normalize(torch::randn({6, 4}, torch::kFloat64), F::NormalizeFuncOptions().dim(1));
  auto phi = torch::tensor({0.1, 0.2, 0.3, 0.15, 0.25, 0.05}, torch::kFloat64);
  auto pos = torch::tensor({2, 0, 2}, torch::kLong);
  auto neg = torch::tensor({5, 3}, torch::kLong);
  const double got = proto_nce(q, c, phi, pos, neg).item<double>();
  // By hand: candidates for every query are c[2], c[0], c[2], c[5], c[3]; the target of query b
  // is candidate b.
  const int64_t ids[5] = {2, 0, 2, 5, 3};
  double expected = 0;
  for (int64_t b = 0; b < 3; ++b) {
    double denom = 0, target = 0;
    for (int64_t j = 0; j < 5; ++j) {
      const double logit = (q[b] * c[ids[j]]).sum().item<double>() / phi[ids[j]].item<double>();
      denom += std::exp(logit);
      if (j == b) target = logit;
    }
    expected += -(target - std::log(denom)) / 3;
  }
  CHECK(got == Approx(expected).epsilon(1e-12));
}

TEST_CASE("PCL key network follows the query by EMA; keys enter the queue FIFO",
          "[baselines][pcl]") {
  auto o = test::tiny_baseline("pcl");
  o.augment.crops = {{16, 2, 0.5, 1.0}};
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(4);
  PclMethod method(MethodSetup::from(o, train.channels(), train.size()), o.pcl);
  StepContext ctx;
  ctx.train_set = &train;
  ctx.epoch = 0;  // warm-up (warmup_epochs = 1): InfoNCE only
  method.on_epoch_start(ctx);
  CHECK(method.centroids().empty());
  auto net = method.network();
  auto batches = test::tiny_batches(o, train, 0, 2);
  const int64_t B = o.train.batch_size;

  LarcSgd opt(method.parameters(), o.optim);
  opt.set_lr(0.5);
  auto queue0 = method.queue().clone();
  auto out = method.step(batches[0], ctx);
  opt.zero_grad();
  out.loss.backward();
  opt.step();
  // Keys of crop 1 by the key network now sit at the queue's front; the rest is unchanged.
  auto queue1 = method.queue().clone();
  CHECK(torch::equal(queue1.narrow(0, B, queue1.size(0) - B),
                     queue0.narrow(0, B, queue0.size(0) - B)));
  CHECK(torch::allclose(queue1.narrow(0, 0, B).norm(2, 1), torch::ones({B}), 1e-5, 1e-5));

  std::vector<torch::Tensor> key_before, query_now;
  for (auto& p : net->key->parameters()) key_before.push_back(p.detach().clone());
  for (auto& p : net->query->parameters()) query_now.push_back(p.detach().clone());
  method.step(batches[1], ctx);
  auto key_after = net->key->parameters();
  for (size_t i = 0; i < key_after.size(); ++i) {
    auto expected = key_before[i] * o.pcl.momentum + query_now[i] * (1 - o.pcl.momentum);
    CHECK(torch::allclose(key_after[i], expected, 1e-6, 1e-7));
  }
  // Second batch goes behind the first (FIFO write position advances by one batch).
  CHECK(torch::equal(method.queue().narrow(0, 0, B), queue1.narrow(0, 0, B)));
  CHECK_FALSE(torch::equal(method.queue().narrow(0, B, B), queue1.narrow(0, B, B)));
}

TEST_CASE("PCL clusters the whole set after the warm-up and adds ProtoNCE", "[baselines][pcl]") {
  auto o = test::tiny_baseline("pcl");
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(5);
  PclMethod method(MethodSetup::from(o, train.channels(), train.size()), o.pcl);
  StepContext ctx;
  ctx.train_set = &train;
  ctx.epoch = 1;  // warm-up over
  method.on_epoch_start(ctx);
  REQUIRE(method.centroids().size() == 2);
  for (size_t g = 0; g < 2; ++g) {
    const int64_t K = o.pcl.clusters[g];
    CHECK(method.centroids()[g].sizes() == torch::IntArrayRef({K, o.model.output_dim}));
    auto norms = method.centroids()[g].norm(2, 1);
    CHECK(torch::allclose(norms, torch::ones_like(norms), 1e-5, 1e-5));
    CHECK(method.sample_clusters()[g].size(0) == train.size());
    CHECK(method.concentration()[g].mean().item<double>() ==
          Approx(o.pcl.temperature).epsilon(1e-5));
  }
  auto out = method.step(test::tiny_batches(o, train, 1, 1)[0], ctx);
  bool has_proto = false;
  for (const auto& [name, value] : out.logs) has_proto = has_proto || name == "proto_nce";
  CHECK(has_proto);
  auto usage = method.on_epoch_end(ctx);
  REQUIRE(usage.size() == 1);
  CHECK(usage[0].second > 0.5);
}
