#include <ATen/CPUGeneratorImpl.h>

#include <catch2/catch.hpp>
#include <cmath>

#include "../helpers.h"
#include "swav/core/losses.h"
#include "swav/core/sinkhorn.h"

using swav::test::json_tensor;
using swav::test::reference;

namespace {

struct LossCase {
  std::vector<torch::Tensor> scores;  // z_v . C^T per view
  std::vector<int64_t> assign;
  double temperature, epsilon;
  int64_t iterations;
  double loss;
};

LossCase load_case(const nlohmann::json& c, torch::Dtype dtype) {
  LossCase out;
  auto z = json_tensor(c["z"]).to(dtype);
  auto prototypes = json_tensor(c["prototypes"]).to(dtype);
  for (int64_t v = 0; v < z.size(0); ++v) out.scores.push_back(torch::mm(z[v], prototypes.t()));
  out.assign = c["crops_for_assign"].get<std::vector<int64_t>>();
  out.temperature = c["temperature"].get<double>();
  out.epsilon = c["epsilon"].get<double>();
  out.iterations = c["iterations"].get<int64_t>();
  out.loss = c["loss"].get<double>();
  return out;
}

std::vector<torch::Tensor> codes_for(const LossCase& c, const std::vector<torch::Tensor>& scores) {
  std::vector<torch::Tensor> codes;
  for (const auto i : c.assign) codes.push_back(swav::sinkhorn(scores[i], c.epsilon, c.iterations));
  return codes;
}

double relative(double a, double b) {
  return std::abs(a - b) / std::abs(b);
}

}  // namespace

TEST_CASE("swav_loss matches the reference losses", "[core][loss]") {
  const auto& cases = reference()["loss"];
  REQUIRE(cases.size() == 3);
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    for (const auto& json : cases) {
      auto c = load_case(json, dtype);
      // Codes come from the same scores; Sinkhorn runs in float32 either way.
      auto loss = swav::swav_loss(c.scores, codes_for(c, c.scores), c.assign, c.temperature);
      INFO("views=" << c.scores.size() << " dtype=" << dtype);
      REQUIRE(loss.dim() == 0);
      CHECK(loss.scalar_type() == dtype);
      CHECK(relative(loss.item<double>(), c.loss) <= 1e-5);
    }
  }
}

TEST_CASE("swav_loss of uniform predictions is ln K", "[core][loss]") {
  const int64_t B = 6, K = 30;
  std::vector<torch::Tensor> scores(4, torch::zeros({B, K}, torch::kFloat64));
  auto codes = swav::sinkhorn(torch::rand({B, K}, torch::kFloat64), 0.05, 3).to(torch::kFloat64);
  auto loss = swav::swav_loss(scores, {codes, codes}, {0, 1}, 0.1);
  CHECK(loss.item<double>() == Approx(std::log(double(K))).epsilon(1e-6));
}

TEST_CASE("swav_loss gradient matches finite differences", "[core][loss]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(17);
  const int64_t views = 3, B = 4, K = 5;
  std::vector<torch::Tensor> scores;
  for (int64_t v = 0; v < views; ++v) {
    scores.push_back((at::rand({B, K}, gen, torch::kFloat64) * 2 - 1).requires_grad_(true));
  }
  const std::vector<int64_t> assign = {0, 1};
  std::vector<torch::Tensor> codes;  // held fixed: the loss treats codes as constants
  for (const auto i : assign) codes.push_back(swav::sinkhorn(scores[i], 0.05, 3));
  const double temperature = 0.1;

  auto loss = swav::swav_loss(scores, codes, assign, temperature);
  auto grads = torch::autograd::grad({loss}, scores);
  const double h = 1e-6;
  torch::NoGradGuard no_grad;
  for (int64_t v = 0; v < views; ++v) {
    auto numeric = torch::zeros({B, K}, torch::kFloat64);
    for (int64_t b = 0; b < B; ++b) {
      for (int64_t k = 0; k < K; ++k) {
        auto plus = scores, minus = scores;
        plus[v] = scores[v].detach().clone();
        minus[v] = scores[v].detach().clone();
        plus[v][b][k] += h;
        minus[v][b][k] -= h;
        const double f_plus = swav::swav_loss(plus, codes, assign, temperature).item<double>();
        const double f_minus = swav::swav_loss(minus, codes, assign, temperature).item<double>();
        numeric[b][k] = (f_plus - f_minus) / (2 * h);
      }
    }
    INFO("view " << v);
    CHECK((grads[v] - numeric).abs().max().item<double>() <= 1e-6);
    CHECK(grads[v].abs().max().item<double>() > 1e-3);  // the check is not vacuous
  }
}

TEST_CASE("swav_loss rejects mismatched arguments", "[core][loss]") {
  auto s = torch::zeros({4, 3});
  CHECK_THROWS(swav::swav_loss({s}, {s}, {0}, 0.1));        // one crop
  CHECK_THROWS(swav::swav_loss({s, s}, {s}, {0, 1}, 0.1));  // a code missing
  CHECK_THROWS(swav::swav_loss({s, s}, {s}, {2}, 0.1));     // no crop 2
  CHECK_THROWS(swav::swav_loss({s, torch::zeros({4, 5})}, {s}, {0}, 0.1));
}

TEST_CASE("nt_xent matches the reference losses", "[core][loss]") {
  const auto& cases = reference()["nt_xent"];
  REQUIRE(cases.size() == 3);
  for (const auto& c : cases) {
    auto v1 = json_tensor(c["view1"]), v2 = json_tensor(c["view2"]);
    const double t = c["temperature"].get<double>(), expected = c["loss"].get<double>();
    INFO("N=" << c["N"]);
    CHECK(relative(swav::nt_xent(v1, v2, t).item<double>(), expected) <= 1e-9);
    CHECK(relative(swav::nt_xent(v1.to(torch::kFloat32), v2.to(torch::kFloat32), t).item<double>(),
                   expected) <= 1e-4);
    // Swapping the views relabels the anchors only.
    CHECK(relative(swav::nt_xent(v2, v1, t).item<double>(), expected) <= 1e-12);
  }
}

TEST_CASE("nt_xent has finite gradients and ignores self-similarity", "[core][loss]") {
  auto v1 = torch::randn({5, 7}, torch::kFloat64).requires_grad_(true);
  auto v2 = torch::randn({5, 7}, torch::kFloat64).requires_grad_(true);
  auto loss = swav::nt_xent(v1, v2, 0.2);
  loss.backward();
  CHECK(torch::isfinite(v1.grad()).all().item<bool>());
  CHECK(torch::isfinite(v2.grad()).all().item<bool>());
  // Identical views: each anchor's positive has cosine 1, the best possible, so the loss is below
  // the loss of uniform logits, ln(2N - 1).
  auto same = swav::nt_xent(v1.detach(), v1.detach(), 0.2).item<double>();
  CHECK(same < std::log(9.0));
}
