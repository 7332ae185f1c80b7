// The runner end to end on tiny synthetic data: what a user sees for good and bad input.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstdlib>
#include <fstream>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/report/run_report.h"
#include "swav/run/runner.h"
#include "swav/store/store.h"
#include "test_paths.h"

using namespace swav;

namespace {

struct Workspace {
  test::TempDir dir;
  std::string db = dir.str("store.db");

  std::string write_experiment(const ExperimentOptions& options, const std::string& extra = "") {
    ExperimentOptions o = options;
    o.db = db;
    o.run_dir = dir.str("runs");
    const std::string path = dir.str(o.name + ".toml");
    std::ofstream(path) << to_toml(o) << extra;
    return path;
  }

  RunOutcome run(const std::string& path, std::vector<std::string> overrides = {}) {
    RunRequest request;
    request.config_path = path;
    request.overrides = std::move(overrides);
    request.progress = false;
    return run_experiment(request);
  }
};

}  // namespace

TEST_CASE("a run trains, evaluates, stores everything and is skipped when repeated", "[runner]") {
  Workspace ws;
  auto options = test::tiny_experiment();
  options.train.epochs = 2;
  const auto path = ws.write_experiment(options);
  const auto outcome = ws.run(path);
  REQUIRE(outcome.error == "");
  REQUIRE(outcome.ok);
  Store store(ws.db);
  auto run = store.run(outcome.run_id);
  REQUIRE(run);
  CHECK(run->status == "done");
  CHECK(run->config_hash == config_hash(options));
  CHECK(store.metrics(outcome.run_id, "loss").size() == 2);
  CHECK(store.metrics(outcome.run_id, "prototype_usage").size() == 2);
  std::vector<std::string> evals;
  for (const auto& e : store.evals(outcome.run_id)) evals.push_back(e.protocol + "/" + e.metric);
  std::sort(evals.begin(), evals.end());
  CHECK(evals == std::vector<std::string>{"clusters/ari", "clusters/entropy_share", "clusters/nmi",
                                          "clusters/used", "clusters/used_share", "knn/top1_k5",
                                          "knn_init/top1_k5", "linear/top1_best",
                                          "linear/top1_last"});
  const std::string table = format_run_results(store, outcome.run_id);
  CHECK_THAT(table, Catch::Contains("ln K = 2.4849") && Catch::Contains("network before training"));

  const auto again = ws.run(path);
  CHECK(again.skipped);
  CHECK(again.run_id == outcome.run_id);
  CHECK(store.runs().size() == 1);
}

TEST_CASE("an interrupted run resumes from its checkpoint without duplicating rows", "[runner]") {
  Workspace ws;
  auto options = test::tiny_experiment();
  options.train.epochs = 2;
  const auto path = ws.write_experiment(options);
  const auto first = ws.run(path);
  REQUIRE(first.ok);
  {
    // As if killed after the final checkpoint but before it was marked done.
    Store store(ws.db);
    store.reopen_run(first.run_id);
  }
  const auto second = ws.run(path);
  REQUIRE(second.ok);
  CHECK(second.resumed);
  CHECK(second.run_id == first.run_id);
  Store store(ws.db);
  CHECK(store.runs().size() == 1);
  CHECK(store.metrics(first.run_id, "loss").size() == 2);
  CHECK(store.evals(first.run_id).size() == 9);  // knn, knn_init, linear x2, clusters x5
}

TEST_CASE("an unknown key fails the run with the key named and the run recorded as failed",
          "[runner]") {
  Workspace ws;
  const auto path = ws.write_experiment(test::tiny_experiment(), "\n[extra]\nbogus = 1\n");
  const auto outcome = ws.run(path);
  CHECK_FALSE(outcome.ok);
  CHECK_THAT(outcome.error, Catch::Contains("extra") && Catch::Contains(path));
  Store store(ws.db);
  auto run = store.run(outcome.run_id);
  REQUIRE(run);
  CHECK(run->status == "failed");
  CHECK(run->error == outcome.error);
}

TEST_CASE("a wrong type in an override fails with the key and the expected type", "[runner]") {
  Workspace ws;
  const auto path = ws.write_experiment(test::tiny_experiment());
  const auto outcome = ws.run(path, {"train.epochs=\"three\""});
  CHECK_FALSE(outcome.ok);
  CHECK_THAT(outcome.error, Catch::Contains("train.epochs") && Catch::Contains("integer"));
  Store store(ws.db);
  CHECK(store.run(outcome.run_id)->status == "failed");
}

TEST_CASE("a missing or corrupt data file fails the run naming the file", "[runner]") {
  Workspace ws;
  auto options = test::tiny_experiment();
  options.data.format = "fashion_mnist";
  options.augment.mean = {0.5};
  options.augment.std = {0.25};

  SECTION("missing folder") {
    options.data.root = ws.dir.str("nowhere");
    const auto outcome = ws.run(ws.write_experiment(options));
    CHECK_FALSE(outcome.ok);
    CHECK_THAT(outcome.error, Catch::Contains(ws.dir.str("nowhere")));
    Store store(ws.db);
    CHECK(store.run(outcome.run_id)->status == "failed");
  }
  SECTION("truncated images file") {
    options.data.root = ws.dir.str("fmnist");
    std::filesystem::create_directories(options.data.root);
    {
      // A valid labels file for 100 images, so the images file is the one at fault.
      const std::string labels = options.data.root + "/train-labels-idx1-ubyte.gz";
      gzFile f = gzopen(labels.c_str(), "wb");
      const unsigned char header[8] = {0, 0, 8, 1, 0, 0, 0, 100};
      const std::vector<unsigned char> values(100, 3);
      gzwrite(f, header, sizeof header);
      gzwrite(f, values.data(), static_cast<unsigned>(values.size()));
      gzclose(f);
    }
    const std::string bad = options.data.root + "/train-images-idx3-ubyte.gz";
    gzFile f = gzopen(bad.c_str(), "wb");
    // 100 images of 28x28 announced, one row of pixels present.
    const unsigned char header[16] = {0, 0, 8, 3, 0, 0, 0, 100, 0, 0, 0, 28, 0, 0, 0, 28};
    const std::vector<unsigned char> row(28, 7);
    gzwrite(f, header, sizeof header);
    gzwrite(f, row.data(), static_cast<unsigned>(row.size()));
    gzclose(f);
    const auto outcome = ws.run(ws.write_experiment(options));
    CHECK_FALSE(outcome.ok);
    CHECK_THAT(outcome.error,
               Catch::Contains("train-images-idx3-ubyte.gz") && Catch::Contains("trunc"));
    Store store(ws.db);
    CHECK(store.run(outcome.run_id)->status == "failed");
  }
}

TEST_CASE("run_experiment exits non-zero and names the key for a bad config", "[runner][cli]") {
  Workspace ws;
  const auto path = ws.write_experiment(test::tiny_experiment());
  const std::string log = ws.dir.str("out.txt");
  const std::string command = fmt::format(
      "{}/run_experiment {} swav.epsilonn=0.1 --quiet > {} 2>&1", SWAV_BIN_DIR, path, log);
  const int status = std::system(command.c_str());
  CHECK(WEXITSTATUS(status) == 1);
  std::ifstream in(log);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(output, Catch::Contains("swav.epsilonn") && Catch::Contains("swav.epsilon") &&
                         Catch::Contains("marked failed"));
}
