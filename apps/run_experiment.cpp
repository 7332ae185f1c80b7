// run_experiment experiments/<name>.toml [key=value ...] [--db PATH] [--force] [--quiet]
// Trains and evaluates one experiment, records everything in the SQLite store and prints the
// results.
#include <fmt/format.h>

#include <cstring>
#include <string>
#include <vector>

#include "swav/store/store.h"
#include "swav/train/runner.h"

namespace {

constexpr const char* kUsage =
    R"(usage: run_experiment EXPERIMENT.toml [key.path=VALUE ...] [options]

Trains the experiment's method, evaluates the encoder (kNN, linear probe) on the test split, records
the run, per-epoch metrics and evaluations in the SQLite store, and prints a results table. Re-running
the same config skips a finished run and resumes an interrupted one from its last checkpoint.

  key.path=VALUE   override a config value (TOML syntax): swav.epsilon=0.03, model.prototypes=[100]
  --db PATH        results store (default: the config's `db`, else $SWAV_BENCH_DB, else swav_bench.db)
  --force          run again even if a finished run with the same config exists
  --quiet          no progress lines
  -h, --help       this text
)";

}  // namespace

int main(int argc, char** argv) {
  swav::RunRequest request;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--db") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "run_experiment: --db needs a path\n");
        return 2;
      }
      request.db = argv[++i];
    } else if (arg == "--force") {
      request.force = true;
    } else if (arg == "--quiet") {
      request.progress = false;
    } else if (arg.rfind("--", 0) == 0) {
      fmt::print(stderr, "run_experiment: unknown option '{}'\n\n{}", arg, kUsage);
      return 2;
    } else if (request.config_path.empty() && arg.find('=') == std::string::npos) {
      request.config_path = arg;
    } else {
      request.overrides.push_back(arg);
    }
  }
  if (request.config_path.empty()) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }

  try {
    const swav::RunOutcome outcome = swav::run_experiment(request);
    if (outcome.skipped) {
      fmt::print(
          "a finished run with this config exists (run {}); showing it (--force runs again)\n",
          outcome.run_id);
    }
    if (outcome.ok) {
      swav::Store store(outcome.db_path);
      fmt::print("{}\nstored in {} (run {})\n", swav::format_run_results(store, outcome.run_id),
                 outcome.db_path, outcome.run_id);
      return 0;
    }
    fmt::print(stderr, "\nerror: {}\n", outcome.error);
    if (outcome.run_id > 0) {
      fmt::print(stderr, "run {} is marked failed in {}\n", outcome.run_id, outcome.db_path);
    }
    return 1;
  } catch (const std::exception& e) {
    // Only failures of the store itself reach here (e.g. an unwritable --db path).
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
