#include <catch2/catch.hpp>

#include "baseline_fixture.h"
#include "baselines/simclr.h"
#include "swav/core/losses.h"
#include "swav/optim/larc.h"

using namespace swav;
using swav::test::json_tensor;
using swav::test::reference;

TEST_CASE("nt_xent_crops is the reference NT-Xent for two crops", "[baselines][simclr][loss]") {
  for (const auto& c : reference()["nt_xent"]) {
    auto v1 = json_tensor(c["view1"]), v2 = json_tensor(c["view2"]);
    const double t = c["temperature"].get<double>(), expected = c["loss"].get<double>();
    INFO("N=" << c["N"]);
    CHECK(nt_xent_crops({v1, v2}, t).item<double>() == Approx(expected).epsilon(1e-12));
  }
}

TEST_CASE("nt_xent_crops averages NT-Xent over every pair of crops", "[baselines][simclr][loss]") {
  torch::manual_seed(1);
  std::vector<torch::Tensor> v;
  for (int i = 0; i < 4; ++i) v.push_back(torch::randn({6, 5}, torch::kFloat64));
  double sum = 0;
  for (int i = 0; i < 4; ++i)
    for (int j = i + 1; j < 4; ++j) sum += nt_xent(v[i], v[j], 0.3).item<double>();
  CHECK(nt_xent_crops(v, 0.3).item<double>() == Approx(sum / 6).epsilon(1e-12));
  CHECK_THROWS(nt_xent_crops({v[0]}, 0.3));
}

TEST_CASE("SimCLR step equals NT-Xent of the network's projections", "[baselines][simclr]") {
  auto o = test::tiny_baseline("simclr");
  o.augment.crops = {{16, 2, 0.5, 1.0}};
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(2);
  SimclrMethod method(MethodSetup::from(o, train.channels(), train.size()), o.simclr);
  auto batch = test::tiny_batches(o, train, 0, 1)[0];
  StepContext ctx;
  const double loss = method.step(batch, ctx).loss.item<double>();
  auto z = method.network()->forward(batch.views);
  const int64_t B = batch.views[0].size(0);
  const double expected = nt_xent(z.narrow(0, 0, B), z.narrow(0, B, B), 0.5).item<double>();
  CHECK(loss == Approx(expected).epsilon(1e-6));
  CHECK(loss > 0);
}

TEST_CASE("LARS excludes BN and bias parameters from adaptation and weight decay",
          "[baselines][simclr][optim]") {
  OptimOptions o;
  o.momentum = 0.0;
  o.weight_decay = 0.1;
  o.larc = true;
  o.larc_trust = 0.001;
  auto matrix = torch::full({2, 2}, 2.0, torch::kFloat64).set_requires_grad(true);
  auto bias = torch::full({3}, 2.0, torch::kFloat64).set_requires_grad(true);
  auto grads = [&] {
    matrix.mutable_grad() = torch::full({2, 2}, 0.5, torch::kFloat64);
    bias.mutable_grad() = torch::full({3}, 0.5, torch::kFloat64);
  };
  SECTION("excluded: the bias takes the plain step, the matrix the LARC step") {
    o.exclude_bias_bn = true;
    LarcSgd opt({matrix, bias}, o);
    opt.set_lr(1.0);
    grads();
    opt.step();
    // bias: 2 - lr * 0.5 (no decay, no adaptation)
    CHECK(torch::allclose(bias, torch::full({3}, 1.5, torch::kFloat64)));
    // matrix: |w| = 4, |g| = 1, a = 0.001 * 4 / (1 + 0.1 * 4 + 1e-8); g' = (0.5 + 0.1 * 2) * a
    const double a = 0.001 * 4 / (1 + 0.4 + 1e-8);
    CHECK(torch::allclose(matrix, torch::full({2, 2}, 2 - 0.7 * a, torch::kFloat64), 1e-12, 1e-12));
  }
  SECTION("not excluded: the bias is adapted too") {
    o.exclude_bias_bn = false;
    LarcSgd opt({matrix, bias}, o);
    opt.set_lr(1.0);
    grads();
    opt.step();
    const double w = std::sqrt(12.0), g = std::sqrt(0.75);
    const double a = 0.001 * w / (g + 0.1 * w + 1e-8);
    CHECK(torch::allclose(bias, torch::full({3}, 2 - 0.7 * a, torch::kFloat64), 1e-12, 1e-12));
  }
  SECTION("excluded without LARC: no weight decay on the bias") {
    o.exclude_bias_bn = true;
    o.larc = false;
    LarcSgd opt({matrix, bias}, o);
    opt.set_lr(1.0);
    grads();
    opt.step();
    CHECK(torch::allclose(bias, torch::full({3}, 1.5, torch::kFloat64)));
    CHECK(torch::allclose(matrix, torch::full({2, 2}, 2 - 0.7, torch::kFloat64)));
  }
}
