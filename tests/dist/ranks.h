// Multi-process tests on one machine: the test binary starts copies of itself as the ranks of a
// Gloo process group (torchrun's variables, a free local port), each running one named scenario,
// and collects their exit codes and output.
#pragma once
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "swav/core/kmeans.h"

namespace swav::test {

struct RankResult {
  int exit_code = -1;  // -1: killed at the deadline
  std::string output;  // stdout and stderr together
};

/// Starts one process per entry of `ranks` (the rank numbers to start, of a world of `world`), each
/// running scenario `scenario` (see run_rank_scenario) with RANK, WORLD_SIZE, LOCAL_RANK,
/// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and MASTER_PORT set, plus `env`. Waits for all of them;
/// any still running after `deadline` is killed. `dir` receives each rank's output file and is
/// where scenarios write their results (SWAV_DIST_OUT).
std::vector<RankResult> run_ranks(const std::string& scenario, int world,
                                  const std::vector<int>& ranks, const std::string& dir,
                                  const std::map<std::string, std::string>& env = {},
                                  std::chrono::seconds deadline = std::chrono::seconds(60));

/// All ranks 0..world-1.
std::vector<RankResult> run_world(const std::string& scenario, int world, const std::string& dir,
                                  const std::map<std::string, std::string>& env = {});

/// The points and the cases of the k-means split test: a seeded float64 [60, 6] matrix (three
/// blobs, scattered points and ten copies of one point, so that empty clusters happen), and
/// k-means options covering every init and empty-cluster rule (unit_rows: the case runs on the
/// L2-normalised rows).
torch::Tensor kmeans_test_points();
struct KMeansCase {
  swav::KMeansOptions options;
  bool unit_rows = false;
};
std::vector<KMeansCase> kmeans_test_cases();

/// A TCP port that was free on 127.0.0.1 a moment ago.
int free_port();

/// The body of a rank process (tests/main.cpp calls it when SWAV_DIST_SCENARIO is set): connects
/// to the process group from the environment, runs the scenario, returns the exit code (0 = the
/// scenario's checks held; failures are printed).
int run_rank_scenario(const std::string& scenario);

}  // namespace swav::test
