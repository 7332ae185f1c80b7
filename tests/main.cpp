#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "dist/ranks.h"

namespace {

// ctest registers each test case as its own process. A process whose selected tests all need a GPU
// (tag [gpu]) on a machine without one exits with code 4, which ctest (SKIP_RETURN_CODE) shows as
// skipped instead of passed.
constexpr int kSkipped = 4;

bool only_gpu_tests_selected(Catch::Session& session) {
  const auto& config = session.config();
  // Listing (ctest's test discovery) must see the tests.
  if (!config.hasTestFilters() || config.listTests() || config.listTestNamesOnly() ||
      config.listTags())
    return false;
  const auto selected =
      Catch::filterTests(Catch::getAllTestCasesSorted(config), config.testSpec(), config);
  if (selected.empty()) return false;
  return std::all_of(selected.begin(), selected.end(), [](const Catch::TestCase& test) {
    const auto& tags = test.getTestCaseInfo().tags;
    return std::find(tags.begin(), tags.end(), "gpu") != tags.end();
  });
}

}  // namespace

int main(int argc, char* argv[]) {
  // ctest runs test processes side by side (-j): one intra-op thread each avoids oversubscribing
  // the cores, where OpenMP's spinning threads slow everything down many times over.
  // SWAV_TEST_THREADS overrides.
  const char* threads = std::getenv("SWAV_TEST_THREADS");
  at::set_num_threads(threads ? std::atoi(threads) : 1);
  // A copy of this program started as one rank of a multi-process test (tests/dist/ranks.h).
  if (const char* scenario = std::getenv("SWAV_DIST_SCENARIO"))
    return swav::test::run_rank_scenario(scenario);
  Catch::Session session;
  if (const int rc = session.applyCommandLine(argc, argv); rc != 0) return rc;
  if (!torch::cuda::is_available() && only_gpu_tests_selected(session)) {
    std::cout << "SKIPPED: no CUDA device (the selected tests are tagged [gpu])\n";
    return kSkipped;
  }
  return session.run();
}
