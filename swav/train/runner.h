// One experiment, end to end: config -> store run -> data -> method -> Trainer -> evaluation ->
// store.
#pragma once
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "swav/config/options.h"
#include "swav/store/store.h"
#include "swav/train/trainer.h"

namespace swav {

/// What the command line asks for.
struct RunRequest {
  std::string config_path;             // experiments/<name>.toml
  std::vector<std::string> overrides;  // "key.path=<TOML value>"
  std::string db;                      // store path; empty = options.db, else default_db_path()
  bool force = false;                  // re-run even when a done run with the same config exists
  bool progress = true;                // progress lines on stdout
};

struct RunOutcome {
  int64_t run_id = 0;  // 0 when not even a failed run could be recorded
  bool ok = false;
  bool skipped = false;  // a done run with the same config hash already existed
  bool resumed = false;  // continued from a checkpoint
  std::string error;
  std::string db_path;
};

/// Runs one experiment. A done run with the same (experiment, config hash) is skipped unless
/// forced; a running or failed one with a checkpoint resumes from it. Every error (config, data,
/// NaN loss) is caught here, recorded in the run's row (status 'failed', error text) and returned;
/// nothing already logged is lost.
RunOutcome run_experiment(const RunRequest& request);

/// The results of a run as a Markdown table: loss first and last epoch against ln K, prototype
/// usage, kNN top-1 trained vs untrained, linear top-1, times.
std::string format_run_results(const Store& store, int64_t run_id);

}  // namespace swav
