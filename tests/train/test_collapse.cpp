// The collapse watch: when it speaks, what it says, and a run that it stops.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/report/run_report.h"
#include "swav/run/runner.h"
#include "swav/store/store.h"
#include "swav/train/collapse.h"

using namespace swav;

namespace {

CollapseReference reference_k100() {
  CollapseReference r;
  r.chance_loss = std::log(100.0);
  r.frozen_iterations = 40;
  r.clusters = 100;
  r.assigned_crops = 2;
  return r;
}

ExperimentOptions nette_like() {
  ExperimentOptions o;
  o.train.batch_size = 256;
  o.train.epochs = 8;
  o.swav.epsilon = 0.05;
  o.swav.freeze_prototypes_niters = 40;
  o.augment.crops = {{64, 2, 0.14, 1.0}};
  o.augment.blur_prob = 0.5;
  return o;
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("the watch judges only after the prototypes have trained for a whole epoch",
          "[collapse]") {
  // 36 steps per epoch, prototypes frozen for 40: epoch 1 still has 4 frozen steps.
  CollapseWatch watch(reference_k100(), nette_like(), 36);
  REQUIRE(watch.active());
  CHECK(watch.first_judged_epoch() == 2);
  const Scalars at_chance = {{"loss", std::log(100.0) * 0.995}, {"prototype_usage", 1.0}};
  CHECK(watch.judge(0, at_chance).empty());
  CHECK(watch.judge(1, at_chance).empty());
  const auto findings = watch.judge(2, at_chance);
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].kind == CollapseFinding::kLossAtChance);
  CHECK_THAT(findings[0].what, Catch::Contains("within 0.5% of") && Catch::Contains("4.6052") &&
                                   Catch::Contains("in epoch 3"));
  CHECK(collapse_flag(findings) == 1);

  // Long freezing moves the first judged epoch; no freezing still waits for the second epoch.
  auto ref = reference_k100();
  ref.frozen_iterations = 100;
  CHECK(CollapseWatch(ref, nette_like(), 36).first_judged_epoch() == 3);
  ref.frozen_iterations = 0;
  CHECK(CollapseWatch(ref, nette_like(), 36).first_judged_epoch() == 1);
}

TEST_CASE("a learning run is not flagged; the margin sets where chance ends", "[collapse]") {
  auto options = nette_like();
  CollapseWatch watch(reference_k100(), options, 36);
  // 4.313 / ln 100 = 0.937: the blur-free run that learned.
  CHECK(watch.judge(7, {{"loss", 4.313}, {"prototype_usage", 0.99}}).empty());
  // 4.491 = 0.975 of ln K (the run with blur that learned nothing): flagged at a 3% margin only.
  CHECK(watch.judge(7, {{"loss", 4.491}}).empty());
  // Chance is approached from either side; far above it (confident, wrong predictions) is not it.
  CHECK(watch.judge(7, {{"loss", 4.65}}).size() == 1);
  CHECK(watch.judge(7, {{"loss", 6.0}}).empty());
  options.train.collapse_loss_margin = 0.03;
  CHECK(CollapseWatch(reference_k100(), options, 36).judge(7, {{"loss", 4.491}}).size() == 1);
  options.train.collapse_loss_margin = 0;  // off
  CHECK(CollapseWatch(reference_k100(), options, 36).judge(7, {{"loss", 4.7}}).empty());
}

TEST_CASE("prototype usage below half of what the epoch could use is a collapse", "[collapse]") {
  CollapseWatch watch(reference_k100(), nette_like(), 36);
  auto findings = watch.judge(3, {{"loss", 3.0}, {"prototype_usage", 0.3}});
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].kind == CollapseFinding::kPrototypeUsage);
  CHECK_THAT(findings[0].what, Catch::Contains("30%") && Catch::Contains("100 prototypes"));
  CHECK(mentions(findings[0].remedies, "swav.freeze_prototypes_niters now 40"));
  CHECK(watch.judge(3, {{"loss", 3.0}, {"prototype_usage", 0.6}}).empty());

  // K larger than the crops an epoch assigns: usage is judged against what was possible.
  auto ref = reference_k100();
  ref.clusters = 3000;
  auto options = nette_like();
  options.train.batch_size = 10;
  CollapseWatch small(ref, options, 10);  // 10 x 10 x 2 = 200 crops for 3000 prototypes
  REQUIRE(small.first_judged_epoch() == 4);
  CHECK(small.judge(4, {{"loss", 3.0}, {"prototype_usage", 0.05}}).empty());
  CHECK(small.judge(4, {{"loss", 3.0}, {"prototype_usage", 0.02}}).size() == 1);
}

TEST_CASE("remedies name the settings that apply, with their values", "[collapse]") {
  auto options = nette_like();
  CollapseWatch watch(reference_k100(), options, 36);
  const auto flat = watch.judge(4, {{"loss", 4.6}, {"code_entropy", 0.97}});
  REQUIRE(flat.size() == 1);
  const auto& r = flat[0].remedies;
  REQUIRE(r.size() >= 3);
  CHECK_THAT(r[0], Catch::Contains("swav.epsilon (now 0.05)") && Catch::Contains("0.97 of ln K"));
  CHECK(mentions(r, "augment.blur_prob now 0.5"));
  CHECK(mentions(r, "optim.base_lr now 4.8"));
  CHECK_FALSE(mentions(r, "queue"));

  // Sharp codes: epsilon is not the suspect; a queue is, and no blur is mentioned without one.
  options.swav.queue_length = 3840;
  options.augment.blur_prob = 0;
  const auto sharp =
      CollapseWatch(reference_k100(), options, 36).judge(4, {{"loss", 4.6}, {"code_entropy", 0.4}});
  REQUIRE(sharp.size() == 1);
  CHECK_FALSE(mentions(sharp[0].remedies, "swav.epsilon"));
  CHECK_FALSE(mentions(sharp[0].remedies, "blur"));
  CHECK(mentions(sharp[0].remedies, "swav.queue_length now 3840"));
  CHECK_THAT(describe(sharp, 4), Catch::StartsWith("collapse warning (epoch 5): the loss"));
}

TEST_CASE("a method without a chance level is not watched", "[collapse]") {
  CollapseWatch watch(CollapseReference{}, nette_like(), 36);
  CHECK_FALSE(watch.active());
  CHECK(watch.judge(5, {{"loss", 100.0}, {"prototype_usage", 0.0}}).empty());
}

namespace {

// The tiny experiment with codes so soft (epsilon 100) that the swapped prediction has nothing to
// predict, and a temperature (10) that keeps the predictions near uniform: its loss sits at ln K.
ExperimentOptions stuck_experiment(const test::TempDir& dir) {
  auto o = test::tiny_experiment();
  o.name = "stuck";
  o.db = dir.str("store.db");
  o.run_dir = dir.str("runs");
  o.train.epochs = 4;
  o.swav.epsilon = 100.0;
  o.swav.temperature = 10.0;
  o.eval.linear = false;
  return o;
}

RunOutcome run(const std::string& path, std::vector<std::string> overrides = {}) {
  RunRequest request;
  request.config_path = path;
  request.overrides = std::move(overrides);
  request.progress = false;
  return run_experiment(request);
}

}  // namespace

TEST_CASE("a run stuck at ln K is flagged in the store, and stopped when asked", "[collapse]") {
  test::TempDir dir;
  const auto options = stuck_experiment(dir);
  const std::string path = dir.str("stuck.toml");
  std::ofstream(path) << to_toml(options);

  const auto flagged = run(path);
  REQUIRE(flagged.ok);
  Store store(options.db);
  const auto flags = store.metrics(flagged.run_id, "collapse");
  REQUIRE(flags.size() == 3);  // epochs 2-4 are judged (no freezing, so from the second)
  CHECK(flags[0].epoch == 1);
  CHECK(flags[0].value == 1.0);
  CHECK(store.metrics(flagged.run_id, "loss_over_chance").size() == 4);
  CHECK(store.metrics(flagged.run_id, "code_entropy").size() == 4);
  CHECK(store.metrics(flagged.run_id, "code_entropy").back().value > 0.99);
  CHECK_THAT(format_run_results(store, flagged.run_id),
             Catch::Contains("| collapse watch | loss at ln K in 3 epoch(s) from epoch 2"));

  // Stopping ends the trial as failed after the first judged epoch, with the remedies in the
  // error. stop_on_collapse is not hashed (it changes no number of a run that finishes), so the
  // same experiment name would find its finished run and skip: a second name makes a new run.
  const auto stopped = run(path, {"name=stuck_stop", "train.stop_on_collapse=true"});
  CHECK_FALSE(stopped.ok);
  CHECK_THAT(stopped.error, Catch::Contains("train.stop_on_collapse") &&
                                Catch::Contains("swav.epsilon (now 100)"));
  const auto run_row = store.run(stopped.run_id);
  REQUIRE(run_row);
  CHECK(run_row->status == "failed");
  CHECK(store.metrics(stopped.run_id, "loss").size() == 2);
  CHECK(store.metrics(stopped.run_id, "collapse").size() == 1);
}

TEST_CASE("a run far from chance raises no flag and is not stopped", "[collapse]") {
  test::TempDir dir;
  auto options = stuck_experiment(dir);
  options.name = "learns";
  options.swav.epsilon = 0.05;
  options.swav.temperature = 0.1;
  const std::string path = dir.str("learns.toml");
  std::ofstream(path) << to_toml(options);
  const auto outcome = run(path, {"train.stop_on_collapse=true"});
  REQUIRE(outcome.ok);
  Store store(options.db);
  CHECK(store.metrics(outcome.run_id, "collapse").empty());
  CHECK_THAT(format_run_results(store, outcome.run_id), !Catch::Contains("collapse watch"));
  // This tiny run's loss stays above ln K (confident predictions over 12 prototypes after 4
  // epochs): far from chance, so not flagged.
  const auto ratios = store.metrics(outcome.run_id, "loss_over_chance");
  REQUIRE(ratios.size() == 4);
  CHECK(std::abs(ratios.back().value - 1) > 0.05);
}
