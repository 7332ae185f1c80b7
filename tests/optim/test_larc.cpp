#include <catch2/catch.hpp>
#include <sstream>

#include "../helpers.h"
#include "swav/optim/larc.h"

using swav::test::json_tensor;
using swav::test::reference;
using swav::test::rel_error;

namespace {

swav::OptimOptions reference_options() {
  const auto& c = reference()["larc_sgd"];
  swav::OptimOptions o;
  o.base_lr = c["lr"].get<double>();
  o.momentum = c["momentum"].get<double>();
  o.weight_decay = c["weight_decay"].get<double>();
  o.larc_trust = c["trust_coefficient"].get<double>();
  o.larc_eps = c["eps"].get<double>();
  o.larc_clip = c["clip"].get<bool>();
  o.larc = true;
  return o;
}

torch::Tensor parameter(const torch::Tensor& value) {
  return value.clone().requires_grad_(true);
}

void set_grad(torch::Tensor& p, const torch::Tensor& g) {
  p.mutable_grad() = g.to(p.dtype()).clone();
}

}  // namespace

TEST_CASE("LARC-SGD reproduces the reference steps", "[optim][larc]") {
  const auto& steps = reference()["larc_sgd"]["steps"];
  REQUIRE(steps.size() == 3);
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto w = parameter(json_tensor(steps[0]["weight_before"]).to(dtype));
    swav::LarcSgd optimizer({w}, reference_options());
    for (size_t i = 0; i < steps.size(); ++i) {
      INFO("dtype " << dtype << " step " << i);
      set_grad(w, json_tensor(steps[i]["grad"]));
      optimizer.step();
      CHECK(rel_error(w.detach(), json_tensor(steps[i]["weight_after"])) <= 1e-6);
    }
  }
}

TEST_CASE("LARC-SGD skips parameters without a gradient", "[optim][larc]") {
  auto options = reference_options();
  auto trained = parameter(torch::randn({4, 3}, torch::kFloat64));
  auto frozen = parameter(torch::randn({5, 3}, torch::kFloat64));
  const auto frozen_start = frozen.detach().clone();
  swav::LarcSgd optimizer({trained, frozen}, options);
  for (int step = 0; step < 3; ++step) {
    set_grad(trained, torch::randn({4, 3}, torch::kFloat64));
    optimizer.step();
    optimizer.zero_grad();
  }
  CHECK(torch::equal(frozen.detach(), frozen_start));  // no decay, no momentum drift

  // Unfrozen, its first step is that of a fresh optimiser: no momentum was built up meanwhile.
  auto grad = torch::randn({5, 3}, torch::kFloat64);
  auto twin = parameter(frozen_start);
  swav::LarcSgd fresh({twin}, options);
  set_grad(frozen, grad);
  set_grad(twin, grad);
  optimizer.step();
  fresh.step();
  CHECK(torch::equal(frozen.detach(), twin.detach()));
  CHECK_FALSE(torch::equal(frozen.detach(), frozen_start));
}

TEST_CASE("LARC-SGD state save and load resumes exactly", "[optim][larc]") {
  auto options = reference_options();
  std::vector<torch::Tensor> grads;
  for (int i = 0; i < 6; ++i) grads.push_back(torch::randn({6, 2}));
  auto init = torch::randn({6, 2});
  auto bias_init = torch::randn({3});

  // Uninterrupted: six steps (the bias is frozen for the first two).
  auto w = parameter(init), b = parameter(bias_init);
  swav::LarcSgd straight({w, b}, options);
  for (int i = 0; i < 6; ++i) {
    straight.set_lr(1.0 + 0.1 * i);
    set_grad(w, grads[i]);
    if (i >= 2) set_grad(b, grads[i].sum(1).slice(0, 0, 3));
    straight.step();
  }

  // Interrupted after three steps: save to bytes, rebuild everything, load, continue.
  std::stringstream bytes;
  torch::Tensor w_saved, b_saved;
  {
    auto w1 = parameter(init), b1 = parameter(bias_init);
    swav::LarcSgd first({w1, b1}, options);
    for (int i = 0; i < 3; ++i) {
      first.set_lr(1.0 + 0.1 * i);
      set_grad(w1, grads[i]);
      if (i >= 2) set_grad(b1, grads[i].sum(1).slice(0, 0, 3));
      first.step();
    }
    torch::serialize::OutputArchive archive;
    first.save(archive);
    archive.save_to(bytes);
    w_saved = w1.detach().clone();
    b_saved = b1.detach().clone();
  }
  auto w2 = parameter(w_saved), b2 = parameter(b_saved);
  swav::LarcSgd resumed({w2, b2}, options);
  torch::serialize::InputArchive archive;
  archive.load_from(bytes);
  resumed.load(archive);
  for (int i = 3; i < 6; ++i) {
    resumed.set_lr(1.0 + 0.1 * i);
    set_grad(w2, grads[i]);
    set_grad(b2, grads[i].sum(1).slice(0, 0, 3));
    resumed.step();
  }
  CHECK(torch::equal(w2.detach(), w.detach()));
  CHECK(torch::equal(b2.detach(), b.detach()));
}

TEST_CASE("LARC-SGD variants: plain SGD, clipping, zero weights, lr", "[optim][larc]") {
  auto options = reference_options();
  const double lr = 0.5, wd = 0.01, m = 0.9;
  options.base_lr = lr;
  options.weight_decay = wd;
  options.momentum = m;
  auto w0 = torch::randn({3, 4}, torch::kFloat64);
  auto g1 = torch::randn({3, 4}, torch::kFloat64), g2 = torch::randn({3, 4}, torch::kFloat64);

  SECTION("larc = false is SGD with weight decay") {
    options.larc = false;
    auto w = parameter(w0);
    swav::LarcSgd optimizer({w}, options);
    set_grad(w, g1);
    optimizer.step();
    auto buf = g1 + wd * w0;
    auto expected = w0 - lr * buf;
    CHECK(rel_error(w.detach(), expected) <= 1e-12);
    set_grad(w, g2);
    optimizer.step();
    buf = m * buf + (g2 + wd * expected);
    CHECK(rel_error(w.detach(), expected - lr * buf) <= 1e-12);
  }
  SECTION("clip: a = min(a / lr, 1)") {
    options.larc_clip = true;
    auto w = parameter(w0);
    swav::LarcSgd optimizer({w}, options);
    set_grad(w, g1);
    optimizer.step();
    const double wn = w0.norm().item<double>(), gn = g1.norm().item<double>();
    const double a =
        std::min(options.larc_trust * wn / (gn + wd * wn + options.larc_eps) / lr, 1.0);
    CHECK(rel_error(w.detach(), w0 - lr * (g1 + wd * w0) * a) <= 1e-12);
  }
  SECTION("zero weights: the gradient is used unscaled") {
    auto w = parameter(torch::zeros({3, 4}, torch::kFloat64));
    swav::LarcSgd optimizer({w}, options);
    set_grad(w, g1);
    optimizer.step();
    CHECK(rel_error(w.detach(), -lr * g1) <= 1e-12);
  }
  SECTION("set_lr changes the step size") {
    swav::LarcSgd optimizer({parameter(w0)}, options);
    CHECK(optimizer.lr() == lr);
    optimizer.set_lr(0.125);
    CHECK(optimizer.lr() == 0.125);
  }
}
