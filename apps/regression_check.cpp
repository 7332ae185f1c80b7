// CPU regression checks for CI (ci/regression runs this; thresholds in ci/regression.toml):
//   1. speed: the fused CPU Sinkhorn must stay at least `min_speedup` times faster than the
//   op-by-op
//      reference, both timed in this run on the same inputs (a ratio survives a noisy machine);
//   2. accuracy: a small fixed SwAV run (seeded, a Fashion-MNIST subset) must reach `min_knn`, and
//      its per-epoch loss curve must stay within `loss_tolerance` (relative) of the stored curve.
// Exit 0 when every check passes, 1 when one fails, 2 on bad input.
//   regression_check [--thresholds ci/regression.toml] [--only sinkhorn|run]
//                    [--inject slow-sinkhorn|broken-loss]
// --inject makes the check fail on purpose (a slowed Sinkhorn, a broken loss); the tests use it to
// show that the checks can fail.
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "eval/evaluate.h"
#include "swav/config/config.h"
#include "swav/core/sinkhorn.h"
#include "swav/data/image_set.h"
#include "swav/train/method.h"
#include "swav/train/trainer.h"
#include "swav/util/error.h"

namespace {

using namespace swav;

template <typename T>
T required(const toml::table& t, const std::string& path, const std::string& file) {
  auto node = t.at_path(path);
  if (auto v = node.value<T>()) return *v;
  fail("{}: key '{}' is missing or has the wrong type", file, path);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

bool check_sinkhorn(const toml::table& t, const std::string& file, bool slow) {
  const double min_speedup = required<double>(t, "sinkhorn.min_speedup", file);
  const auto repeats = required<int64_t>(t, "sinkhorn.repeats", file);
  const auto* shapes = t.at_path("sinkhorn.shapes").as_array();
  if (shapes == nullptr) fail("{}: sinkhorn.shapes must be an array of [B, K] pairs", file);
  bool ok = true;
  for (const auto& node : *shapes) {
    const auto* pair = node.as_array();
    if (pair == nullptr || pair->size() != 2) fail("{}: sinkhorn.shapes entries are [B, K]", file);
    const int64_t B = pair->get(0)->value<int64_t>().value_or(0);
    const int64_t K = pair->get(1)->value<int64_t>().value_or(0);
    if (B <= 0 || K <= 0) fail("{}: sinkhorn.shapes: B and K must be positive integers", file);
    torch::manual_seed(B + K);
    auto scores =
        torch::nn::functional::normalize(torch::randn({B, 64}),
                                         torch::nn::functional::NormalizeFuncOptions().dim(1))
            .mm(torch::nn::functional::normalize(
                    torch::randn({K, 64}), torch::nn::functional::NormalizeFuncOptions().dim(1))
                    .t());
    auto time = [&](auto&& f) {
      f();  // warm-up
      std::vector<double> s;
      for (int64_t i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        f();
        s.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      return median(s);
    };
    const double reference = time([&] { return sinkhorn(scores, 0.05, 3); });
    const double fused = time([&] {
      auto q = sinkhorn_fused_cpu(scores, 0.05, 3);
      if (slow) {  // --inject slow-sinkhorn: the fused path doing the reference's work as well
        for (int i = 0; i < 2; ++i) q = sinkhorn(scores, 0.05, 3);
      }
      return q;
    });
    const double speedup = reference / fused;
    const bool pass = speedup >= min_speedup;
    ok = ok && pass;
    fmt::print(
        "sinkhorn B={:<5} K={:<5} reference {:8.3f} ms  fused {:8.3f} ms  speedup {:5.2f} "
        "(min {:.2f})  {}\n",
        B, K, 1e3 * reference, 1e3 * fused, speedup, min_speedup, pass ? "ok" : "FAIL");
  }
  return ok;
}

bool check_run(const toml::table& t, const std::string& file, bool broken_loss) {
  const auto config = required<std::string>(t, "run.config", file);
  std::vector<std::string> overrides;
  if (const auto* list = t.at_path("run.overrides").as_array()) {
    for (const auto& o : *list) {
      auto s = o.value<std::string>();
      if (!s) fail("{}: run.overrides must be strings", file);
      overrides.push_back(*s);
    }
  }
  // --inject broken-loss: a loss whose logits lost their temperature (a plausible bug).
  if (broken_loss) overrides.push_back("swav.temperature=1.0");
  const double min_knn = required<double>(t, "run.min_knn", file);
  const double tolerance = required<double>(t, "run.loss_tolerance", file);
  std::vector<double> expected;
  if (const auto* curve = t.at_path("run.loss_curve").as_array()) {
    for (const auto& v : *curve) expected.push_back(v.value<double>().value_or(NAN));
  }

  ExperimentOptions options = load_experiment(config, overrides);
  at::set_num_threads(static_cast<int>(std::max<int64_t>(1, options.train.threads)));
  const ImageSet train = load_split(options.data, Split::kTrain);
  const ImageSet test = load_split(options.data, Split::kTest);
  torch::manual_seed(static_cast<uint64_t>(options.train.seed));
  auto method = make_method(options, train.channels(), train.size());
  Trainer trainer(options, *method, train, /*checkpoint_path=*/"");
  trainer.set_progress(false);
  const TrainSummary summary = trainer.fit();
  std::vector<double> losses;
  for (const auto& epoch : summary.epoch_metrics) {
    for (const auto& [name, value] : epoch)
      if (name == "loss") losses.push_back(value);
  }
  options.eval.linear = false;
  double knn = NAN;
  for (const auto& r :
       evaluate_encoder(*method->encoder(), train, test, options, torch::kCPU, false))
    if (r.protocol == "knn" && std::isnan(knn)) knn = r.value;

  bool ok = true;
  fmt::print("run {} ({} epochs, {:.0f} s)\n", config, losses.size(), summary.seconds);
  fmt::print("  loss curve   [{}]\n", fmt::join(losses, ", "));
  if (expected.size() != losses.size()) {
    fmt::print("  stored curve has {} points, the run {}: FAIL (update run.loss_curve)\n",
               expected.size(), losses.size());
    ok = false;
  } else {
    for (size_t i = 0; i < losses.size(); ++i) {
      const double rel = std::abs(losses[i] - expected[i]) / std::abs(expected[i]);
      const bool pass = rel <= tolerance;
      ok = ok && pass;
      fmt::print("  epoch {}: loss {:.5f} stored {:.5f} rel. diff {:.2e} (max {:.1e})  {}\n", i + 1,
                 losses[i], expected[i], rel, tolerance, pass ? "ok" : "FAIL");
    }
  }
  const bool knn_pass = knn >= min_knn;
  ok = ok && knn_pass;
  fmt::print("  kNN top-1 {:.4f} (min {:.4f})  {}\n", knn, min_knn, knn_pass ? "ok" : "FAIL");
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  std::string thresholds = "ci/regression.toml", inject, only;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--thresholds" && i + 1 < argc) {
      thresholds = argv[++i];
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else if (a == "--inject" && i + 1 < argc) {
      inject = argv[++i];
    } else {
      std::cerr << "usage: regression_check [--thresholds FILE] [--only sinkhorn|run] "
                   "[--inject slow-sinkhorn|broken-loss]\n";
      return 2;
    }
  }
  if (!inject.empty() && inject != "slow-sinkhorn" && inject != "broken-loss") {
    std::cerr << "regression_check: --inject takes slow-sinkhorn or broken-loss, not '" << inject
              << "'\n";
    return 2;
  }
  try {
    toml::table t;
    try {
      t = toml::parse_file(thresholds);
    } catch (const toml::parse_error& e) {
      fail("{}: {} (line {})", thresholds, e.description(), e.source().begin.line);
    }
    if (!only.empty() && only != "sinkhorn" && only != "run") fail("--only takes sinkhorn or run");
    const bool sinkhorn_ok =
        only == "run" || check_sinkhorn(t, thresholds, inject == "slow-sinkhorn");
    const bool run_ok = only == "sinkhorn" || check_run(t, thresholds, inject == "broken-loss");
    const bool ok = sinkhorn_ok && run_ok;
    fmt::print("regression checks: {}\n", ok ? "passed" : "FAILED");
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "regression_check: " << e.what() << "\n";
    return 2;
  }
}
