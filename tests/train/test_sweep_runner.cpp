// Sweeps end to end on tiny synthetic data: trial folders, skip/resume/restart under the same run
// id, failed trials that do not stop the sweep, claims between processes, and the kill-and-rerun
// acceptance test.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/run/runner.h"
#include "swav/store/store.h"
#include "test_paths.h"

using namespace swav;
using Catch::Contains;

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

size_t count_matches(const std::string& text, const std::regex& re) {
  return static_cast<size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

struct SweepSpace {
  test::TempDir dir;
  std::string db = dir.str("store.db");

  std::string write(ExperimentOptions o, const std::string& sweep, const std::string& file = "") {
    o.db = db;
    o.run_dir = dir.str("runs");
    const std::string path = dir.str((file.empty() ? o.name : file) + ".toml");
    std::ofstream(path) << to_toml(o) << "\n[sweep]\n" << sweep;
    return path;
  }

  SweepOutcome run(const std::string& path, double stale_seconds = Store::kStaleSeconds) {
    RunRequest request;
    request.config_path = path;
    request.progress = false;
    request.stale_seconds = stale_seconds;
    return run_sweep(request);
  }
};

ExperimentOptions quick() {
  auto o = test::tiny_experiment();
  o.train.epochs = 1;
  o.train.threads = 1;
  o.eval.linear = false;
  return o;
}

}  // namespace

TEST_CASE("a sweep runs each trial in its folder and skips done trials when run again",
          "[runner][sweep]") {
  SweepSpace ws;
  const auto path = ws.write(quick(), "train.seed = [1, 2]\n");
  const SweepOutcome first = ws.run(path);
  REQUIRE(first.error == "");
  REQUIRE(first.trials.size() == 2);
  CHECK(first.ok());
  Store store(ws.db);
  for (const auto& t : first.trials) {
    INFO(t.trial.name);
    CHECK(t.outcome.ok);
    CHECK_FALSE(t.outcome.skipped);
    const auto run = store.run(t.outcome.run_id);
    REQUIRE(run);
    CHECK(run->status == "done");
    CHECK(run->trial == t.trial.name);
    CHECK(run->config_hash == t.trial.hash);
    CHECK(t.trial_dir == ws.dir.str("runs/" + t.trial.folder));
    CHECK_THAT(read_all(t.trial_dir + "/config.toml"),
               Contains("# config_hash = " + t.trial.hash) && Contains("# trial: " + t.trial.name));
    // The folder's config reads back as the trial's config.
    CHECK(config_hash(load_experiment(t.trial_dir + "/config.toml")) == t.trial.hash);
    CHECK(std::filesystem::exists(t.trial_dir + "/checkpoint.pt"));
    CHECK_THAT(
        read_all(t.trial_dir + "/log.txt"),
        Contains(fmt::format("run {} of 'tiny' trial '{}'", t.outcome.run_id, t.trial.name)));
  }
  CHECK(first.trials[0].outcome.run_id != first.trials[1].outcome.run_id);

  const SweepOutcome again = ws.run(path);
  REQUIRE(again.trials.size() == 2);
  for (const auto& t : again.trials) CHECK(t.outcome.skipped);
  CHECK(store.runs().size() == 2);
  CHECK_THAT(format_sweep_summary(again),
             Contains("| train.seed=1 | done (before) |") && Contains("| train.seed=2 |"));
}

TEST_CASE("a trial left running without a checkpoint restarts under the same run id",
          "[runner][sweep]") {
  SweepSpace ws;
  const auto path = ws.write(quick(), "train.seed = [5]\n");
  const auto plan = load_plan(path);
  // As if a process claimed the trial, logged a partial epoch and was killed before checkpointing.
  RunInfo info;
  info.experiment = "tiny";
  info.trial = plan.trials[0].name;
  info.config_hash = plan.trials[0].hash;
  info.config_toml = to_toml(plan.trials[0].options);
  int64_t stale_id = 0;
  {
    Store store(ws.db);
    stale_id = store.claim_run(info, "elsewhere:1:x", false, false).run_id;
    store.log_metric(stale_id, 0, 0, "loss", 123.0);
  }
  // The claim is fresh and from another host: it is respected...
  const SweepOutcome busy = ws.run(path);
  REQUIRE(busy.trials.size() == 1);
  CHECK(busy.trials[0].outcome.busy);
  CHECK(busy.ok());
  CHECK_FALSE(std::filesystem::exists(busy.trials[0].trial_dir + "/checkpoint.pt"));
  // ...until its heartbeat is stale: then the same run starts again.
  const SweepOutcome taken = ws.run(path, /*stale_seconds=*/0);
  REQUIRE(taken.trials.size() == 1);
  const auto& outcome = taken.trials[0].outcome;
  CHECK(outcome.ok);
  CHECK(outcome.run_id == stale_id);
  CHECK_FALSE(outcome.resumed);
  Store store(ws.db);
  CHECK(store.runs().size() == 1);  // no second row for the same trial
  const auto losses = store.metrics(stale_id, "loss");
  REQUIRE(losses.size() == 1);  // the partial attempt's row is gone
  CHECK(losses[0].value != 123.0);
  CHECK(store.run(stale_id)->status == "done");
}

TEST_CASE("failed trials are recorded with their error and the sweep goes on", "[runner][sweep]") {
  SweepSpace ws;
  auto o = quick();
  o.data.root = ws.dir.str("no-such-folder");
  o.data.synthetic_channels = 1;
  o.augment.mean = {0.5};
  o.augment.std = {0.25};

  SECTION("bad data in the first trial") {
    const auto path = ws.write(o, "data.format = [\"fashion_mnist\", \"synthetic\"]\n");
    const SweepOutcome sweep = ws.run(path);
    REQUIRE(sweep.trials.size() == 2);
    CHECK_FALSE(sweep.ok());
    CHECK_FALSE(sweep.trials[0].outcome.ok);
    CHECK_THAT(sweep.trials[0].outcome.error, Contains("no-such-folder"));
    CHECK(sweep.trials[1].outcome.ok);
    Store store(ws.db);
    CHECK(store.run(sweep.trials[0].outcome.run_id)->status == "failed");
    CHECK(store.run(sweep.trials[0].outcome.run_id)->error == sweep.trials[0].outcome.error);
    CHECK(store.run(sweep.trials[1].outcome.run_id)->status == "done");
    CHECK_THAT(format_sweep_summary(sweep), Contains("FAILED") && Contains("no-such-folder"));
  }
  SECTION("an invalid swept value") {
    const auto path = ws.write(o, "swav.epsilon = [-1.0, 0.05]\n");
    const SweepOutcome sweep = ws.run(path);
    REQUIRE(sweep.trials.size() == 2);
    CHECK_FALSE(sweep.trials[0].outcome.ok);
    CHECK_THAT(sweep.trials[0].outcome.error,
               Contains("sweep value swav.epsilon=-1.0") && Contains("must be > 0"));
    CHECK(sweep.trials[1].outcome.ok);
    Store store(ws.db);
    const auto failed = store.run(sweep.trials[0].outcome.run_id);
    REQUIRE(failed);
    CHECK(failed->status == "failed");
    CHECK(failed->trial == "swav.epsilon=-1.0");
  }
}

TEST_CASE("run_experiment: --dry-run runs nothing, --only selects, exit 1 when a trial fails",
          "[runner][sweep][cli]") {
  SweepSpace ws;
  auto o = quick();
  const auto path = ws.write(o, "train.seed = [1, 2, 3]\n");
  const std::string out = ws.dir.str("out.txt");
  const auto run = [&](const std::string& args) {
    const std::string command =
        fmt::format("{}/run_experiment {} {} > {} 2>&1", SWAV_BIN_DIR, path, args, out);
    const int status = std::system(command.c_str());
    return WEXITSTATUS(status);
  };
  CHECK(run("--dry-run") == 0);
  const std::string listing = read_all(out);
  CHECK_THAT(listing, Contains("trial 3: train.seed=3") && Contains("3 of 3 trial(s) selected"));
  CHECK_FALSE(std::filesystem::exists(ws.db));  // not even the store is created
  CHECK(run("--dry-run --only '*seed=[13]'") == 0);
  CHECK_THAT(read_all(out), Contains("2 of 3 trial(s) selected"));
  CHECK(run("--dry-run --only nothing-like-this") == 1);

  CHECK(run("--quiet --only seed=2") == 0);
  CHECK_THAT(read_all(out), Contains("stored in"));
  Store store(ws.db);
  REQUIRE(store.runs().size() == 1);
  CHECK(store.runs()[0].trial == "train.seed=2");

  CHECK(run("--quiet swav.epsilon=-1") == 1);  // an override that makes every trial invalid
  CHECK_THAT(read_all(out), Contains("swav.epsilon") && Contains("must be > 0"));
}

TEST_CASE("two processes running one sweep train each trial once", "[runner][sweep][cli]") {
  SweepSpace ws;
  auto o = quick();
  o.train.epochs = 2;
  const auto path = ws.write(o, "train.seed = [1, 2, 3]\n");
  const std::string command = fmt::format(
      "{0}/run_experiment {1} --quiet > {2}/a.txt 2>&1 & {0}/run_experiment {1} --quiet > "
      "{2}/b.txt 2>&1 & wait",
      SWAV_BIN_DIR, path, ws.dir.str());
  REQUIRE(std::system(command.c_str()) == 0);
  Store store(ws.db);
  const auto runs = store.runs("tiny");
  REQUIRE(runs.size() == 3);
  std::set<std::string> trials;
  for (const auto& r : runs) {
    CHECK(r.status == "done");
    trials.insert(r.trial);
    CHECK(store.metrics(r.id, "loss").size() == 2);
  }
  CHECK(trials.size() == 3);
  const std::regex header(R"(run \d+ of 'tiny' trial)");
  for (const auto& t : load_plan(path).trials) {
    INFO(t.name);
    CHECK(count_matches(read_all(ws.dir.str("runs/" + t.folder + "/log.txt")), header) == 1);
  }
}

TEST_CASE("a sweep killed with SIGKILL at random moments and re-run ends as if never stopped",
          "[runner][sweep][slow]") {
  // Three trials of 3 epochs with a checkpoint per epoch, one thread: deterministic, so an
  // interrupted and resumed sweep must give exactly the numbers of an uninterrupted one.
  SweepSpace reference_ws, killed_ws;
  auto o = quick();
  o.train.epochs = 3;
  o.train.checkpoint_every = 1;
  o.eval.linear = true;
  o.eval.linear_epochs = 3;
  const std::string sweep = "train.seed = [1, 2]\nswav.epsilon = [0.05, 0.1]\n";
  const auto reference_path = reference_ws.write(o, sweep, "sweep");
  const auto killed_path = killed_ws.write(o, sweep, "sweep");

  int reference_ms = 0;
  {
    const std::string command = fmt::format("{}/run_experiment {} --quiet > {} 2>&1", SWAV_BIN_DIR,
                                            reference_path, reference_ws.dir.str("out.txt"));
    const auto start = std::chrono::steady_clock::now();
    REQUIRE(WEXITSTATUS(std::system(command.c_str())) == 0);
    reference_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::steady_clock::now() - start)
                                        .count());
  }

  // Kill moments scaled to this machine's speed: each attempt lives at most 30% of the
  // uninterrupted sweep, so at least three attempts are killed before the work is done.
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> delay_ms(std::max(50, reference_ms / 20),
                                              std::max(100, reference_ms * 3 / 10));
  const std::string binary = std::string(SWAV_BIN_DIR) + "/run_experiment";
  const std::string log = killed_ws.dir.str("out.txt");
  int kills = 0;
  bool finished = false;
  for (int attempt = 0; attempt < 40 && !finished; ++attempt) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::freopen(log.c_str(), "a", stdout);
      std::freopen(log.c_str(), "a", stderr);
      execl(binary.c_str(), binary.c_str(), killed_path.c_str(), "--quiet",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    // Kill at a random moment for the first attempts; later ones may run to the end.
    const bool kill_it = attempt < 12;
    int status = 0;
    if (kill_it) {
      const auto deadline =
          std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms(rng));
      while (std::chrono::steady_clock::now() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (waitpid(pid, &status, WNOHANG) == 0) {
        ::kill(pid, SIGKILL);
        REQUIRE(waitpid(pid, &status, 0) == pid);  // reaped: its pid is gone for the next claim
        ++kills;
        continue;
      }
    } else {
      REQUIRE(waitpid(pid, &status, 0) == pid);
    }
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    finished = true;
  }
  REQUIRE(finished);
  INFO("killed " << kills << " times");
  CHECK(kills >= 3);

  Store reference(reference_ws.db), killed(killed_ws.db);
  const auto want = reference.runs("tiny");
  const auto got = killed.runs("tiny");
  REQUIRE(want.size() == 4);
  REQUIRE(got.size() == 4);  // exactly one run per trial: no duplicates from the restarts
  for (const auto& w : want) {
    INFO("trial " << w.trial);
    const auto g = std::find_if(got.begin(), got.end(),
                                [&](const RunRecord& r) { return r.trial == w.trial; });
    REQUIRE(g != got.end());
    CHECK(g->status == "done");
    CHECK(g->config_hash == w.config_hash);
    const auto want_loss = reference.metrics(w.id, "loss");
    const auto got_loss = killed.metrics(g->id, "loss");
    REQUIRE(got_loss.size() == want_loss.size());
    for (size_t e = 0; e < want_loss.size(); ++e) {
      CHECK(got_loss[e].epoch == want_loss[e].epoch);
      CHECK(got_loss[e].value == want_loss[e].value);
    }
    std::map<std::string, double> want_evals, got_evals;
    for (const auto& e : reference.evals(w.id)) want_evals[e.protocol + "/" + e.metric] = e.value;
    for (const auto& e : killed.evals(g->id)) got_evals[e.protocol + "/" + e.metric] = e.value;
    CHECK(got_evals == want_evals);
    CHECK(killed.evals(g->id).size() == reference.evals(w.id).size());
  }
}
