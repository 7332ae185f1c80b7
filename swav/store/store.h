// The SQLite results store: one file, WAL mode, safe for several processes at once.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace SQLite {
class Database;
}

namespace swav {

/// Facts about a run recorded when it starts.
struct RunInfo {
  std::string experiment;
  std::string trial;  // trial name within the experiment ("main" for a single run)
  std::string config_hash;
  std::string config_toml;  // resolved config
  std::string git_revision;
  std::string versions;  // library versions, e.g. "torch 2.11.0"
  int64_t seed = 0;
  std::string device;
  int64_t world_size = 1;
  // An evaluation of weights trained elsewhere (run_experiment --eval-only --weights FILE): the
  // file as given and the SHA-256 of its bytes. Both empty for a run trained here.
  std::string weights, weights_sha256;
};

/// The store used when an experiment names none: $SWAV_BENCH_DB if set and non-empty, else
/// "swav_bench.db" in the current directory.
std::string default_db_path();

/// A row of `runs`. `finished` and `error` are empty while a run is running.
struct RunRecord {
  int64_t id = 0;
  std::string experiment, trial, config_hash, status, error, device;
  int64_t seed = 0;
  std::string started, finished;
  std::string config_toml, git_revision, versions;
  int64_t world_size = 1;
  std::string owner;      // "host:pid:token" of the process that holds the run ("" if none)
  int64_t heartbeat = 0;  // when the owner last said it is alive, ms since the Unix epoch
  std::string weights, weights_sha256;  // an --eval-only run's file and its SHA-256 ("" if trained)
  bool external() const { return !weights_sha256.empty(); }
};

/// This process as a run owner: "host:pid:token", the token unique per call (so that threads of one
/// process, e.g. in tests, are different owners).
std::string new_owner_id();

/// Whether the owner of a 'running' row has stopped: anywhere, its heartbeat is older than
/// `stale_seconds`; on this host, its process is gone. A row without owner (reopened, or from a
/// version 1 store) has no heartbeat and so counts as stopped.
bool owner_stopped(const RunRecord& run, double stale_seconds);

/// The outcome of Store::claim_run.
struct Claim {
  enum class Kind {
    kNew,        // a new row was inserted; this process owns it
    kTakenOver,  // an existing row (left running by a dead owner, or failed) is now ours, same id
    kDone,       // a done run exists (not forced): nothing to do
    kBusy        // a live owner is running it: leave it alone
  };
  Kind kind = Kind::kNew;
  int64_t run_id = 0;
  RunRecord previous;  // the row found, for every kind but kNew from nothing
};

struct MetricRow {
  int64_t run_id = 0;
  int64_t epoch = 0;
  int64_t step = 0;
  std::string name;
  double value = 0;
};

struct EvalRow {
  int64_t run_id = 0;
  std::string protocol, dataset, metric;
  double value = 0;
};

/// Tables:
///  runs(id, experiment, trial, config_hash, config, git_revision, versions, seed, device,
///       world_size, status['running'|'done'|'failed'], started, finished, error, owner,
///       heartbeat)
///  metrics(run_id, epoch, step, name, value)      one row per logged scalar
///  evals(run_id, protocol, dataset, metric, value)
///  runs.config holds the resolved config (to_toml); started/finished are ISO-8601 UTC
///  ("2025-01-31T12:00:00.123Z"); metric and eval values that are NaN read back as NaN.
/// Every write is its own transaction (or a batch in one), with a busy timeout, so concurrent
/// writers neither lose nor duplicate rows. Errors opening or writing the file throw UserError
/// naming the path. The schema is created when missing; PRAGMA user_version holds its version, and
/// a file from a newer version is refused.
class Store {
 public:
  /// How a store is opened: kReadWrite creates the file and its schema when missing (and upgrades
  /// an older schema); kReadOnly never writes a byte of it (readers such as make_tables), so it
  /// works on a read-only file or disk and beside a running sweep, and refuses a missing file or
  /// one whose schema this build does not read. A read-only store of schema 2 (before the weights
  /// columns) is read as it is, its runs all trained here.
  enum class Access { kReadWrite, kReadOnly };

  /// Opens the store at `path`; an empty path means default_db_path(). The folder must exist.
  explicit Store(const std::string& path, Access access = Access::kReadWrite);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& path() const { return path_; }

  /// Inserts a run with status 'running' and the current time; returns its id.
  int64_t begin_run(const RunInfo& info);
  /// Marks a run 'done' (error empty) or 'failed' (with the error text) and sets `finished`.
  void finish_run(int64_t run_id, bool ok, const std::string& error = "");
  /// Sets status back to 'running' without an owner (free for the next claim to take over).
  void reopen_run(int64_t run_id);

  /// Decides atomically (one IMMEDIATE transaction) who runs (info.experiment, info.config_hash):
  /// the latest row done and not `force` -> kDone; running with a live owner (see owner_stopped)
  /// -> kBusy; running with a stopped owner -> kTakenOver (same id, now ours); failed and
  /// `retry_failed_in_place` (it has a checkpoint to resume) -> kTakenOver; otherwise a new row
  /// -> kNew. The claimed row gets status 'running', `owner` and a fresh heartbeat.
  Claim claim_run(const RunInfo& info, const std::string& owner, bool force,
                  bool retry_failed_in_place, double stale_seconds = kStaleSeconds);
  /// Refreshes the heartbeat of a run this owner holds; false if another owner holds it now.
  bool heartbeat(int64_t run_id, const std::string& owner);
  /// Seconds without a heartbeat after which a running row may be taken over from another host.
  static constexpr double kStaleSeconds = 300;
  static constexpr double kHeartbeatSeconds = 20;

  void log_metric(int64_t run_id, int64_t epoch, int64_t step, const std::string& name,
                  double value);
  /// Several metrics of one (epoch, step) in one transaction.
  void log_metrics(int64_t run_id, int64_t epoch, int64_t step,
                   const std::vector<std::pair<std::string, double>>& values);
  void log_eval(int64_t run_id, const std::string& protocol, const std::string& dataset,
                const std::string& metric, double value);
  /// Several evals in one transaction, after deleting the run's rows of `replace_protocols`: a kill
  /// leaves either all of them or none.
  void log_evals(int64_t run_id, const std::vector<EvalRow>& rows,
                 const std::vector<std::string>& replace_protocols = {});
  /// Sets one metric of (run, epoch, step, name): replaces rows an earlier attempt left.
  void set_metric(int64_t run_id, int64_t epoch, int64_t step, const std::string& name,
                  double value);
  /// Deletes a run's metrics after `epoch` (used when resuming from an earlier checkpoint so no
  /// row is duplicated).
  void drop_metrics_after(int64_t run_id, int64_t epoch);

  /// Deletes a run's evals of one protocol (a resumed run evaluates again without duplicating
  /// rows).
  void drop_evals(int64_t run_id, const std::string& protocol);

  std::optional<RunRecord> run(int64_t run_id) const;
  /// The most recent run of (experiment, config_hash), if any.
  std::optional<RunRecord> latest_run(const std::string& experiment,
                                      const std::string& config_hash) const;
  std::vector<RunRecord> runs(const std::string& experiment = "") const;
  std::vector<MetricRow> metrics(int64_t run_id, const std::string& name = "") const;
  std::vector<EvalRow> evals(int64_t run_id) const;

 private:
  void open_read_only();
  std::string run_columns() const;
  std::string path_;
  int schema_ = 0;  // the file's schema version as opened
  std::unique_ptr<SQLite::Database> db_;
};

}  // namespace swav
