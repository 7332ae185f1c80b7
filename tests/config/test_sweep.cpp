// Sweep expansion: grid and zip, trial names and folders, errors, per-trial invalid values,
// --only matching, and the dry-run listing.
#include <catch2/catch.hpp>

#include <set>

#include "config_test_util.h"
#include "swav/config/config.h"
#include "swav/run/runner.h"

using Catch::Contains;
using swav::parse_plan;
using swav::test::user_error;

namespace {

const std::string kBase = "name = \"sw\"\n[data]\nformat = \"synthetic\"\n";

std::vector<std::string> names(const swav::ExperimentPlan& plan) {
  std::vector<std::string> out;
  for (const auto& t : plan.trials) out.push_back(t.name);
  return out;
}

}  // namespace

TEST_CASE("a grid sweep gives every combination, the first (sorted) key slowest",
          "[config][sweep]") {
  // Written in the other order, and one axis as a quoted dotted key: the order of keys in the
  // table does not matter, so trial names stay stable when the file is edited.
  const auto plan = parse_plan(
      kBase + "[sweep]\ntrain.seed = [1, 2, 3]\n\"swav.epsilon\" = [0.03, 0.05]\n", "sw.toml");
  CHECK(plan.mode == "grid");
  CHECK(plan.axes == std::vector<std::string>{"swav.epsilon", "train.seed"});
  CHECK(names(plan) == std::vector<std::string>{
                           "swav.epsilon=0.03,train.seed=1", "swav.epsilon=0.03,train.seed=2",
                           "swav.epsilon=0.03,train.seed=3", "swav.epsilon=0.05,train.seed=1",
                           "swav.epsilon=0.05,train.seed=2", "swav.epsilon=0.05,train.seed=3"});
  std::set<std::string> hashes;
  for (const auto& t : plan.trials) {
    CHECK(t.error.empty());
    hashes.insert(t.hash);
    CHECK(t.hash == swav::config_hash(t.options));
    CHECK(t.folder == t.name);  // already folder-safe
  }
  CHECK(hashes.size() == 6);
  CHECK(plan.trials[4].options.swav.epsilon == 0.05);
  CHECK(plan.trials[4].options.train.seed == 2);
  CHECK(plan.trials[4].values == std::vector<std::pair<std::string, std::string>>{
                                     {"swav.epsilon", "0.05"}, {"train.seed", "2"}});
}

TEST_CASE("a zip sweep takes the i-th values together and needs equal lengths", "[config][sweep]") {
  const auto plan = parse_plan(
      kBase + "[sweep]\nmode = \"zip\"\ntrain.batch_size = [8, 16]\noptim.base_lr = [0.1, 0.2]\n",
      "sw.toml");
  CHECK(plan.mode == "zip");
  CHECK(names(plan) == std::vector<std::string>{"optim.base_lr=0.1,train.batch_size=8",
                                                "optim.base_lr=0.2,train.batch_size=16"});
  CHECK(plan.trials[1].options.train.batch_size == 16);
  CHECK(plan.trials[1].options.optim.base_lr == 0.2);

  const auto message = user_error([] {
    parse_plan(kBase + "[sweep]\nmode = \"zip\"\ntrain.seed = [1, 2, 3]\nswav.epsilon = [0.1]\n",
               "sw.toml");
  });
  CHECK_THAT(message, Contains("sw.toml:") && Contains("equal length") &&
                          Contains("swav.epsilon has 1") && Contains("train.seed has 3"));
}

TEST_CASE("overrides apply to every trial; a file without sweep is the trial 'main'",
          "[config][sweep]") {
  const auto plan = parse_plan(kBase + "[sweep]\ntrain.seed = [1, 2]\n", "sw.toml",
                               {"train.epochs=9", "optim.warmup_epochs=2"});
  for (const auto& t : plan.trials) {
    CHECK(t.error.empty());
    CHECK(t.options.train.epochs == 9);
    CHECK(t.options.optim.warmup_epochs == 2);
  }
  const auto single = parse_plan(kBase, "one.toml");
  REQUIRE(single.trials.size() == 1);
  CHECK(single.trials[0].name == "main");
  CHECK(single.mode.empty());
  CHECK_THAT(user_error([] {
               parse_plan(kBase + "[sweep]\ntrain.seed = [1, 2]\n", "sw.toml", {"train.seed=3"});
             }),
             Contains("override `train.seed=3`") && Contains("swept"));
  // One experiment readers refuse a sweep rather than pick a trial.
  CHECK_THAT(user_error([] {
               swav::parse_experiment(kBase + "[sweep]\ntrain.seed = [1, 2]\n", "sw.toml");
             }),
             Contains("sw.toml") && Contains("[sweep] of 2 trials"));
}

TEST_CASE("trial names label arrays and crop groups; folders are safe names", "[config][sweep]") {
  const auto plan = parse_plan(kBase + R"([sweep]
model.prototypes = [[10], [20, 30]]
"augment.crops" = [[{ size = 16, count = 2, min_scale = 0.5, max_scale = 1.0 }],
                   [{ size = 16, count = 2, min_scale = 0.5, max_scale = 1.0 },
                    { size = 8, count = 4, min_scale = 0.1, max_scale = 0.5 }]]
data.root = ["/a/b", "c d"]
)",
                               "sw.toml");
  REQUIRE(plan.trials.size() == 8);
  CHECK(plan.trials[0].name == "augment.crops=2x16,data.root=/a/b,model.prototypes=[10]");
  CHECK(plan.trials[0].folder == "augment.crops=2x16,data.root=_a_b,model.prototypes=_10_");
  CHECK(plan.trials[7].name == "augment.crops=2x16+4x8,data.root=c d,model.prototypes=[20,30]");
  CHECK(plan.trials[7].folder == "augment.crops=2x16+4x8,data.root=c_d,model.prototypes=_20,30_");
  CHECK(plan.trials[7].options.augment.crops.size() == 2);
  CHECK(plan.trials[7].options.model.prototypes == std::vector<int64_t>{20, 30});
}

TEST_CASE("sweep errors name the file, line and key", "[config][sweep]") {
  const auto error = [](const std::string& sweep) {
    return user_error([&] { parse_plan(kBase + "[sweep]\n" + sweep, "sw.toml"); });
  };
  CHECK_THAT(error("swav.epsilom = [0.1]\n"), Contains("sw.toml:5") &&
                                                  Contains("unknown key 'swav.epsilom'") &&
                                                  Contains("did you mean 'swav.epsilon'"));
  CHECK_THAT(error("swav.epsilon = 0.1\n"),
             Contains("sw.toml:5") && Contains("sweep.swav.epsilon: expected a list"));
  CHECK_THAT(error("swav.epsilon = []\n"), Contains("list of values is empty"));
  CHECK_THAT(error("mode = \"random\"\nswav.epsilon = [0.1]\n"),
             Contains("sweep.mode = \"random\"") && Contains("grid"));
  CHECK_THAT(error("mode = \"zip\"\n"), Contains("names no key to sweep"));
  // A wrong type of one value is an error of that trial, reported with the sweep's line.
  const auto typed = parse_plan(kBase + "[sweep]\ntrain.seed = [1, \"two\"]\n", "sw.toml");
  REQUIRE(typed.trials.size() == 2);
  CHECK(typed.trials[0].error.empty());
  CHECK_THAT(typed.trials[1].error,
             Contains("sweep value train.seed=\"two\" (sw.toml:5)") && Contains("integer"));
  // Keys that do not change results make trials that are the same run.
  CHECK_THAT(error("train.threads = [1, 2]\n"),
             Contains("same config") && Contains("train.threads=1") && Contains("train.threads=2"));
}

TEST_CASE("a swept value that is invalid fails only its own trial", "[config][sweep]") {
  const auto plan = parse_plan(kBase + "[sweep]\nswav.epsilon = [0.05, -1.0, 0.1]\n", "sw.toml");
  REQUIRE(plan.trials.size() == 3);
  CHECK(plan.trials[0].error.empty());
  CHECK(plan.trials[2].error.empty());
  CHECK_THAT(plan.trials[1].error,
             Contains("sweep value swav.epsilon=-1.0 (sw.toml:5)") && Contains("must be > 0"));
  CHECK(plan.trials[1].hash.empty());
  CHECK_THAT(plan.trials[1].config_text, Contains("epsilon = -1.0"));
  const std::string listing = swav::format_plan(plan);
  CHECK_THAT(listing, Contains("INVALID") && Contains("must be > 0"));
}

TEST_CASE("trial selection (--only) matches names by glob or substring", "[config][sweep]") {
  CHECK(swav::trial_matches("swav.epsilon=0.03,train.seed=2", "seed=2"));
  CHECK_FALSE(swav::trial_matches("swav.epsilon=0.03,train.seed=2", "seed=3"));
  CHECK(swav::trial_matches("swav.epsilon=0.03,train.seed=2", "*epsilon=0.0[13]*"));
  CHECK_FALSE(swav::trial_matches("swav.epsilon=0.05,train.seed=2", "*epsilon=0.0[13]*"));
  CHECK(swav::trial_matches("main", "ma?n"));
}

TEST_CASE("the dry-run listing shows every selected trial with folder, hash and config",
          "[config][sweep]") {
  const auto plan =
      parse_plan("run_dir = \"out\"\n" + kBase + "[sweep]\ntrain.seed = [1, 2, 3]\n", "sw.toml");
  const std::string all = swav::format_plan(plan);
  for (const auto& t : plan.trials) {
    CHECK_THAT(all, Contains("trial " + t.name.substr(t.name.size() - 1) + ": " + t.name));
    CHECK_THAT(all, Contains("# config_hash: " + t.hash));
    CHECK_THAT(all, Contains("# folder: out/" + t.folder));
  }
  CHECK_THAT(all, Contains("seed = 3") && Contains("3 of 3 trial(s) selected") &&
                      Contains("grid over train.seed") && Contains("nothing was run"));
  const std::string some = swav::format_plan(plan, "seed=2");
  CHECK_THAT(some, Contains("train.seed=2") && Contains("1 of 3 trial(s) selected"));
  CHECK_THAT(some, !Contains("train.seed=1"));
  // The listed config is the trial's resolved config: parsing it gives the same hash.
  const auto reparsed = swav::parse_experiment(swav::to_toml(plan.trials[1].options), "x.toml");
  CHECK(swav::config_hash(reparsed) == plan.trials[1].hash);
}
