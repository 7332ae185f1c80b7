// One experiment, end to end: config -> store run -> data -> method -> Trainer -> evaluation ->
// store.
#pragma once
#include <string>
#include <vector>

#include "swav/config/config.h"
#include "swav/config/options.h"
#include "swav/dist/collective.h"
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
  std::string only;                    // run only trials matching this (trial_matches); "" = all
  double stale_seconds = Store::kStaleSeconds;  // a claim without heartbeat this long is free
  /// The processes of a multi-process run (swav/dist/launch.h); null: this process alone. Rank 0
  /// holds the store, the claims, the logs and the checkpoints and evaluates; every rank trains.
  Collective* collective = nullptr;
  /// --eval-only --weights FILE: instead of training, evaluate the PyTorch checkpoint FILE (loaded
  /// as model.init is, into the experiment's network) with each selected trial's [eval]
  /// protocols. Each is stored as a run of its own: trial "eval <file name>" (or "<trial> eval
  /// <file name>"), the file's absolute path and SHA-256 in the row, a config hash of the trial's
  /// config and the SHA-256 (so the same bytes under another path are the same run). "" = train.
  std::string weights;
};

struct RunOutcome {
  int64_t run_id = 0;  // 0 when not even a failed run could be recorded
  bool ok = false;
  bool skipped = false;  // a done run with the same config hash already existed
  bool resumed = false;  // continued from a checkpoint
  bool busy = false;     // another live process holds this trial; left alone
  std::string error;
  std::string db_path;
};

/// One trial of a sweep as run_sweep saw it.
struct TrialReport {
  Trial trial;
  std::string trial_dir;  // runs/<experiment>/<trial folder>
  RunOutcome outcome;
  double seconds = 0;  // wall time in this call
};

struct SweepOutcome {
  std::string db_path;
  std::string error;                // the experiment file could not be read or expanded
  int64_t error_run_id = 0;         // the failed run recorded for that error
  std::vector<TrialReport> trials;  // the trials selected by --only, in plan order
  /// True when the file was read and no selected trial failed (skipped and busy ones are fine).
  bool ok() const;
};

/// Runs every trial of an experiment file (one without a [sweep] has one trial, "main"), in order,
/// each in runs/<experiment>/<trial folder>/ (config.toml, log.txt: everything printed while it
/// ran, appended across attempts, checkpoint.pt). For each trial, in one store transaction
/// (Store::claim_run): a done run with the same (experiment, config hash) is skipped unless forced;
/// one another live process is running is left to it; one left running by a dead process resumes
/// from its checkpoint under the same run id, or starts again under that id when it has none; a
/// failed one with a checkpoint resumes. Every error of a trial (data, NaN loss) is caught,
/// recorded in its row (status 'failed', error text), and the sweep goes on. An unreadable or
/// invalid file is recorded as one failed run. Prints per-trial progress with the sweep's ETA.
///
/// With request.collective of several processes, rank 0 does all of the above and, for each
/// trial, tells the other ranks whether it is trained; they train it with rank 0 (gradients,
/// batch-norm statistics and Sinkhorn over all of them) and never touch the store or the trial
/// folder. Their SweepOutcome lists the trials they trained, with any error they met.
SweepOutcome run_sweep(const RunRequest& request);

/// run_sweep for an experiment of one trial; for a sweep, the outcome of the first failed trial,
/// else of the last one.
RunOutcome run_experiment(const RunRequest& request);

/// What `run_experiment --dry-run` prints: every selected trial with its name, folder, config hash
/// and resolved config (to_toml), and how many trials there are.
std::string format_plan(const ExperimentPlan& plan, const std::string& only = "");

/// The end-of-sweep table: trial, status, last loss, kNN and linear top-1, training time.
std::string format_sweep_summary(const SweepOutcome& outcome);

}  // namespace swav
