#include "swav/store/store.h"

#include <SQLiteCpp/SQLiteCpp.h>
#include <fmt/format.h>
#include <sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <random>
#include <thread>

#include <signal.h>
#include <unistd.h>
#include <atomic>
#include <cerrno>

#include "swav/util/error.h"

namespace swav {

namespace {

// 2: runs.owner, runs.heartbeat (claims); 3: runs.weights, runs.weights_sha256 (--eval-only).
constexpr int kSchemaVersion = 3;
constexpr int kBusyTimeoutMs = 30000;
// After SQLite's own busy timeout, keep retrying a busy write up to this long in total.
constexpr auto kRetryFor = std::chrono::seconds(120);

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  experiment   TEXT NOT NULL,
  trial        TEXT NOT NULL,
  config_hash  TEXT NOT NULL,
  config       TEXT NOT NULL,
  git_revision TEXT NOT NULL,
  versions     TEXT NOT NULL,
  seed         INTEGER NOT NULL,
  device       TEXT NOT NULL,
  world_size   INTEGER NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  started      TEXT NOT NULL,
  finished     TEXT,
  error        TEXT
);
CREATE INDEX IF NOT EXISTS runs_experiment_hash ON runs(experiment, config_hash);
CREATE TABLE IF NOT EXISTS metrics (
  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch  INTEGER NOT NULL,
  step   INTEGER NOT NULL,
  name   TEXT NOT NULL,
  value  REAL
);
CREATE INDEX IF NOT EXISTS metrics_run_name ON metrics(run_id, name);
CREATE TABLE IF NOT EXISTS evals (
  run_id   INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  protocol TEXT NOT NULL,
  dataset  TEXT NOT NULL,
  metric   TEXT NOT NULL,
  value    REAL
);
CREATE INDEX IF NOT EXISTS evals_run ON evals(run_id);
)sql";

constexpr const char* kRunColumns =
    "id, experiment, trial, config_hash, status, COALESCE(error, ''), device, seed, started, "
    "COALESCE(finished, ''), config, git_revision, versions, world_size, COALESCE(owner, ''), "
    "COALESCE(heartbeat, 0)";
// The columns of schema 3, read as empty from a schema 2 file opened read-only.
constexpr const char* kWeightsColumns = "COALESCE(weights, ''), COALESCE(weights_sha256, '')";
constexpr const char* kNoWeightsColumns = "'', ''";

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown-host";
  return name;
}

std::string now_utc() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

bool is_busy(const SQLite::Exception& e) {
  const int code = e.getErrorCode() & 0xff;
  return code == SQLITE_BUSY || code == SQLITE_LOCKED;
}

/// Runs `body` (one whole transaction), again after a randomised pause while SQLite reports the
/// file busy beyond its own timeout; other SQLite errors become a UserError naming the file.
template <typename F>
auto with_retry(const std::string& path, const char* action, F&& body) {
  const auto deadline = std::chrono::steady_clock::now() + kRetryFor;
  std::minstd_rand jitter(std::random_device{}());
  for (int attempt = 0;; ++attempt) {
    try {
      return body();
    } catch (const SQLite::Exception& e) {
      if (!is_busy(e) || std::chrono::steady_clock::now() >= deadline) {
        const int code = e.getErrorCode() & 0xff;  // the primary code of an extended one
        const bool disk = code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY;
        fail("results store '{}': {} failed: {}{}", path, action, e.what(),
             disk ? " (a full disk, a file size limit or a read-only file? every row stored "
                    "before is kept; rerun once the cause is removed)"
                  : "");
      }
      const int pause_ms =
          std::min(500, 5 << std::min(attempt, 6)) + static_cast<int>(jitter() % 20);
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
    }
  }
}

double read_value(const SQLite::Column& column) {
  // SQLite stores NaN as NULL.
  return column.isNull() ? std::numeric_limits<double>::quiet_NaN() : column.getDouble();
}

RunRecord read_run(SQLite::Statement& q) {
  RunRecord r;
  r.id = q.getColumn(0).getInt64();
  r.experiment = q.getColumn(1).getString();
  r.trial = q.getColumn(2).getString();
  r.config_hash = q.getColumn(3).getString();
  r.status = q.getColumn(4).getString();
  r.error = q.getColumn(5).getString();
  r.device = q.getColumn(6).getString();
  r.seed = q.getColumn(7).getInt64();
  r.started = q.getColumn(8).getString();
  r.finished = q.getColumn(9).getString();
  r.config_toml = q.getColumn(10).getString();
  r.git_revision = q.getColumn(11).getString();
  r.versions = q.getColumn(12).getString();
  r.world_size = q.getColumn(13).getInt64();
  r.owner = q.getColumn(14).getString();
  r.heartbeat = q.getColumn(15).getInt64();
  r.weights = q.getColumn(16).getString();
  r.weights_sha256 = q.getColumn(17).getString();
  return r;
}

}  // namespace

std::string new_owner_id() {
  static std::atomic<int64_t> counter{0};
  static const std::string token = fmt::format("{:x}", std::random_device{}());
  return fmt::format("{}:{}:{}-{}", host_name(), ::getpid(), token, ++counter);
}

bool owner_stopped(const RunRecord& run, double stale_seconds) {
  // A heartbeat as old as the limit is stale (so a limit of 0 takes over at any age).
  if (static_cast<double>(now_ms() - run.heartbeat) >= stale_seconds * 1000.0) return true;
  // "host:pid:token"; the host may itself hold no ':' (it is ours, or it is not compared).
  const auto first = run.owner.find(':');
  const auto second = run.owner.find(':', first == std::string::npos ? first : first + 1);
  if (first == std::string::npos || second == std::string::npos) return false;
  if (run.owner.substr(0, first) != host_name()) return false;  // another host: heartbeat only
  const std::string pid_text = run.owner.substr(first + 1, second - first - 1);
  char* end = nullptr;
  const long pid = std::strtol(pid_text.c_str(), &end, 10);
  if (pid <= 0 || *end != '\0') return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string default_db_path() {
  const char* env = std::getenv("SWAV_BENCH_DB");
  return env && *env ? env : "swav_bench.db";
}

Store::Store(const std::string& path, Access access)
    : path_(path.empty() ? default_db_path() : path) {
  if (access == Access::kReadOnly) {
    open_read_only();
    return;
  }
  try {
    db_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE,
                                             kBusyTimeoutMs);
  } catch (const SQLite::Exception& e) {
    fail("cannot open results store '{}': {}", path_, e.what());
  }
  with_retry(path_, "opening", [&] {
    db_->exec("PRAGMA foreign_keys = ON");
    // WAL lets readers work beside one writer; ":memory:" stores answer "memory" and stay so.
    db_->execAndGet("PRAGMA journal_mode = WAL");
  });
  with_retry(path_, "creating the schema", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    const int version = db_->execAndGet("PRAGMA user_version").getInt();
    if (version > kSchemaVersion) {
      fail(
          "results store '{}' has schema version {}, newer than this build's {}; use a newer "
          "swav-bench or another file",
          path_, version, kSchemaVersion);
    }
    if (version < kSchemaVersion) {
      db_->exec(kSchema);
      // Version 1 files (and fresh ones, created above with the version 1 columns) gain the claim
      // columns.
      if (version < 2) {
        db_->exec("ALTER TABLE runs ADD COLUMN owner TEXT");
        db_->exec("ALTER TABLE runs ADD COLUMN heartbeat INTEGER");
      }
      if (version < 3) {
        db_->exec("ALTER TABLE runs ADD COLUMN weights TEXT");
        db_->exec("ALTER TABLE runs ADD COLUMN weights_sha256 TEXT");
      }
      db_->exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion));
    }
    transaction.commit();
  });
  schema_ = kSchemaVersion;
}

std::string Store::run_columns() const {
  return fmt::format("{}, {}", kRunColumns, schema_ >= 3 ? kWeightsColumns : kNoWeightsColumns);
}

void Store::open_read_only() {
  try {
    db_ = std::make_unique<SQLite::Database>(path_, SQLite::OPEN_READONLY, kBusyTimeoutMs);
  } catch (const SQLite::Exception& e) {
    fail("cannot open results store '{}' for reading: {}", path_, e.what());
  }
  const int version = with_retry(path_, "reading the schema version", [&] {
    return db_->execAndGet("PRAGMA user_version").getInt();
  });
  schema_ = version;
  if (version == kSchemaVersion || version == 2) return;
  if (version > kSchemaVersion) {
    fail(
        "results store '{}' has schema version {}, newer than this build's {}; use a newer "
        "swav-bench",
        path_, version, kSchemaVersion);
  }
  if (version == 0) {
    fail("results store '{}' holds no swav-bench results (no schema): is it the right file?",
         path_);
  }
  fail(
      "results store '{}' has schema version {}, older than this build's {}, and is opened "
      "read-only here; any run_experiment with --db {} upgrades it (a copy, if the file must stay "
      "as it is)",
      path_, version, kSchemaVersion, path_);
}

Store::~Store() = default;

int64_t Store::begin_run(const RunInfo& info) {
  return with_retry(path_, "recording a new run", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement insert(
        *db_,
        "INSERT INTO runs (experiment, trial, config_hash, config, git_revision, "
        "versions, seed, device, world_size, status, started, weights, weights_sha256) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, NULLIF(?, ''), NULLIF(?, ''))");
    insert.bind(1, info.experiment);
    insert.bind(2, info.trial);
    insert.bind(3, info.config_hash);
    insert.bind(4, info.config_toml);
    insert.bind(5, info.git_revision);
    insert.bind(6, info.versions);
    insert.bind(7, info.seed);
    insert.bind(8, info.device);
    insert.bind(9, info.world_size);
    insert.bind(10, now_utc());
    insert.bind(11, info.weights);
    insert.bind(12, info.weights_sha256);
    insert.exec();
    const int64_t id = db_->getLastInsertRowid();
    transaction.commit();
    return id;
  });
}

void Store::finish_run(int64_t run_id, bool ok, const std::string& error) {
  with_retry(path_, "finishing a run", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement update(*db_,
                             "UPDATE runs SET status = ?, finished = ?, error = ? WHERE id = ?");
    update.bind(1, ok ? "done" : "failed");
    update.bind(2, now_utc());
    if (ok && error.empty()) {
      update.bind(3);  // NULL
    } else {
      update.bind(3, error);
    }
    update.bind(4, run_id);
    if (update.exec() != 1) fail("results store '{}': no run with id {}", path_, run_id);
    transaction.commit();
  });
}

void Store::reopen_run(int64_t run_id) {
  with_retry(path_, "reopening a run", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement update(
        *db_,
        "UPDATE runs SET status = 'running', finished = NULL, error = NULL, owner = NULL, "
        "heartbeat = NULL WHERE id = ?");
    update.bind(1, run_id);
    if (update.exec() != 1) fail("results store '{}': no run with id {}", path_, run_id);
    transaction.commit();
  });
}

Claim Store::claim_run(const RunInfo& info, const std::string& owner, bool force,
                       bool retry_failed_in_place, double stale_seconds) {
  return with_retry(path_, "claiming a run", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    Claim claim;
    SQLite::Statement q(*db_,
                        fmt::format("SELECT {} FROM runs WHERE experiment = ? AND config_hash = ? "
                                    "ORDER BY id DESC LIMIT 1",
                                    run_columns()));
    q.bind(1, info.experiment);
    q.bind(2, info.config_hash);
    const bool found = q.executeStep();
    if (found) claim.previous = read_run(q);
    q.reset();
    const RunRecord& prev = claim.previous;
    bool take = false;
    if (found && prev.status == "running") {
      if (prev.owner != owner && !owner_stopped(prev, stale_seconds)) {
        claim.kind = Claim::Kind::kBusy;
        claim.run_id = prev.id;
        return claim;
      }
      take = true;  // left running by a crash or a kill: the same run goes on
    } else if (found && prev.status == "done" && !force) {
      claim.kind = Claim::Kind::kDone;
      claim.run_id = prev.id;
      return claim;
    } else if (found && prev.status == "failed" && !force && retry_failed_in_place) {
      take = true;
    }
    if (take) {
      SQLite::Statement update(*db_,
                               "UPDATE runs SET status = 'running', finished = NULL, error = NULL, "
                               "owner = ?, heartbeat = ? WHERE id = ?");
      update.bind(1, owner);
      update.bind(2, now_ms());
      update.bind(3, prev.id);
      update.exec();
      claim.kind = Claim::Kind::kTakenOver;
      claim.run_id = prev.id;
    } else {
      SQLite::Statement insert(
          *db_,
          "INSERT INTO runs (experiment, trial, config_hash, config, git_revision, versions, seed, "
          "device, world_size, status, started, owner, heartbeat, weights, weights_sha256) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, NULLIF(?, ''), NULLIF(?, ''))");
      insert.bind(1, info.experiment);
      insert.bind(2, info.trial);
      insert.bind(3, info.config_hash);
      insert.bind(4, info.config_toml);
      insert.bind(5, info.git_revision);
      insert.bind(6, info.versions);
      insert.bind(7, info.seed);
      insert.bind(8, info.device);
      insert.bind(9, info.world_size);
      insert.bind(10, now_utc());
      insert.bind(11, owner);
      insert.bind(12, now_ms());
      insert.bind(13, info.weights);
      insert.bind(14, info.weights_sha256);
      insert.exec();
      claim.kind = Claim::Kind::kNew;
      claim.run_id = db_->getLastInsertRowid();
    }
    transaction.commit();
    return claim;
  });
}

bool Store::heartbeat(int64_t run_id, const std::string& owner) {
  return with_retry(path_, "refreshing a heartbeat", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement update(*db_, "UPDATE runs SET heartbeat = ? WHERE id = ? AND owner = ?");
    update.bind(1, now_ms());
    update.bind(2, run_id);
    update.bind(3, owner);
    const bool ours = update.exec() == 1;
    transaction.commit();
    return ours;
  });
}

void Store::log_evals(int64_t run_id, const std::vector<EvalRow>& rows,
                      const std::vector<std::string>& replace_protocols) {
  with_retry(path_, "logging evaluations", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement erase(*db_, "DELETE FROM evals WHERE run_id = ? AND protocol = ?");
    for (const auto& protocol : replace_protocols) {
      erase.bind(1, run_id);
      erase.bind(2, protocol);
      erase.exec();
      erase.reset();
    }
    SQLite::Statement insert(
        *db_,
        "INSERT INTO evals (run_id, protocol, dataset, metric, value) VALUES (?, ?, ?, ?, ?)");
    for (const auto& r : rows) {
      insert.bind(1, run_id);
      insert.bind(2, r.protocol);
      insert.bind(3, r.dataset);
      insert.bind(4, r.metric);
      insert.bind(5, r.value);
      insert.exec();
      insert.reset();
    }
    transaction.commit();
  });
}

void Store::set_metric(int64_t run_id, int64_t epoch, int64_t step, const std::string& name,
                       double value) {
  with_retry(path_, "setting a metric", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement erase(
        *db_, "DELETE FROM metrics WHERE run_id = ? AND epoch = ? AND step = ? AND name = ?");
    erase.bind(1, run_id);
    erase.bind(2, epoch);
    erase.bind(3, step);
    erase.bind(4, name);
    erase.exec();
    SQLite::Statement insert(
        *db_, "INSERT INTO metrics (run_id, epoch, step, name, value) VALUES (?, ?, ?, ?, ?)");
    insert.bind(1, run_id);
    insert.bind(2, epoch);
    insert.bind(3, step);
    insert.bind(4, name);
    insert.bind(5, value);
    insert.exec();
    transaction.commit();
  });
}

void Store::log_metric(int64_t run_id, int64_t epoch, int64_t step, const std::string& name,
                       double value) {
  log_metrics(run_id, epoch, step, {{name, value}});
}

void Store::log_metrics(int64_t run_id, int64_t epoch, int64_t step,
                        const std::vector<std::pair<std::string, double>>& values) {
  if (values.empty()) return;
  with_retry(path_, "logging metrics", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement insert(
        *db_, "INSERT INTO metrics (run_id, epoch, step, name, value) VALUES (?, ?, ?, ?, ?)");
    for (const auto& [name, value] : values) {
      insert.bind(1, run_id);
      insert.bind(2, epoch);
      insert.bind(3, step);
      insert.bind(4, name);
      insert.bind(5, value);
      insert.exec();
      insert.reset();
    }
    transaction.commit();
  });
}

void Store::log_eval(int64_t run_id, const std::string& protocol, const std::string& dataset,
                     const std::string& metric, double value) {
  with_retry(path_, "logging an evaluation", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement insert(
        *db_,
        "INSERT INTO evals (run_id, protocol, dataset, metric, value) VALUES (?, ?, ?, ?, ?)");
    insert.bind(1, run_id);
    insert.bind(2, protocol);
    insert.bind(3, dataset);
    insert.bind(4, metric);
    insert.bind(5, value);
    insert.exec();
    transaction.commit();
  });
}

void Store::drop_metrics_after(int64_t run_id, int64_t epoch) {
  with_retry(path_, "dropping metrics", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement erase(*db_, "DELETE FROM metrics WHERE run_id = ? AND epoch > ?");
    erase.bind(1, run_id);
    erase.bind(2, epoch);
    erase.exec();
    transaction.commit();
  });
}

void Store::drop_evals(int64_t run_id, const std::string& protocol) {
  with_retry(path_, "dropping evals", [&] {
    SQLite::Transaction transaction(*db_, SQLite::TransactionBehavior::IMMEDIATE);
    SQLite::Statement erase(*db_, "DELETE FROM evals WHERE run_id = ? AND protocol = ?");
    erase.bind(1, run_id);
    erase.bind(2, protocol);
    erase.exec();
    transaction.commit();
  });
}

std::optional<RunRecord> Store::run(int64_t run_id) const {
  return with_retry(path_, "reading a run", [&]() -> std::optional<RunRecord> {
    SQLite::Statement q(*db_, fmt::format("SELECT {} FROM runs WHERE id = ?", run_columns()));
    q.bind(1, run_id);
    if (!q.executeStep()) return std::nullopt;
    return read_run(q);
  });
}

std::optional<RunRecord> Store::latest_run(const std::string& experiment,
                                           const std::string& config_hash) const {
  return with_retry(path_, "reading runs", [&]() -> std::optional<RunRecord> {
    SQLite::Statement q(*db_,
                        fmt::format("SELECT {} FROM runs WHERE experiment = ? AND config_hash = ? "
                                    "ORDER BY id DESC LIMIT 1",
                                    run_columns()));
    q.bind(1, experiment);
    q.bind(2, config_hash);
    if (!q.executeStep()) return std::nullopt;
    return read_run(q);
  });
}

std::vector<RunRecord> Store::runs(const std::string& experiment) const {
  return with_retry(path_, "reading runs", [&] {
    SQLite::Statement q(
        *db_,
        fmt::format("SELECT {} FROM runs WHERE ? = '' OR experiment = ? ORDER BY id", run_columns()));
    q.bind(1, experiment);
    q.bind(2, experiment);
    std::vector<RunRecord> out;
    while (q.executeStep()) out.push_back(read_run(q));
    return out;
  });
}

std::vector<MetricRow> Store::metrics(int64_t run_id, const std::string& name) const {
  return with_retry(path_, "reading metrics", [&] {
    SQLite::Statement q(*db_,
                        "SELECT run_id, epoch, step, name, value FROM metrics WHERE run_id = ? AND "
                        "(? = '' OR name = ?) ORDER BY epoch, step, rowid");
    q.bind(1, run_id);
    q.bind(2, name);
    q.bind(3, name);
    std::vector<MetricRow> out;
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getInt64(),
                     q.getColumn(2).getInt64(), q.getColumn(3).getString(),
                     read_value(q.getColumn(4))});
    }
    return out;
  });
}

std::vector<EvalRow> Store::evals(int64_t run_id) const {
  return with_retry(path_, "reading evaluations", [&] {
    SQLite::Statement q(
        *db_,
        "SELECT run_id, protocol, dataset, metric, value FROM evals WHERE run_id = ? "
        "ORDER BY rowid");
    q.bind(1, run_id);
    std::vector<EvalRow> out;
    while (q.executeStep()) {
      out.push_back({q.getColumn(0).getInt64(), q.getColumn(1).getString(),
                     q.getColumn(2).getString(), q.getColumn(3).getString(),
                     read_value(q.getColumn(4))});
    }
    return out;
  });
}

}  // namespace swav
