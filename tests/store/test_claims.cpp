// Claiming runs: who runs a trial is decided in one IMMEDIATE transaction, a live owner keeps it,
// a dead or silent one loses it, and racing claimers get exactly one winner.
#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <atomic>
#include <thread>

#include "swav/store/store.h"
#include "tests/helpers.h"

using swav::Claim;
using swav::Store;

namespace {

swav::RunInfo trial_info(const std::string& hash = "00000000000000aa") {
  swav::RunInfo i;
  i.experiment = "sweep";
  i.trial = "swav.epsilon=0.03";
  i.config_hash = hash;
  i.config_toml = "name = \"sweep\"\n";
  i.git_revision = "abc";
  i.versions = "torch";
  i.device = "cpu";
  return i;
}

}  // namespace

TEST_CASE("claims: new, done, busy, taken over, failed, forced", "[store][claim]") {
  swav::test::TempDir dir;
  Store store(dir.str("s.db"));
  const std::string me = swav::new_owner_id(), other = swav::new_owner_id();
  REQUIRE(me != other);  // two owners in one process (threads in tests, or two sweeps)

  const Claim first = store.claim_run(trial_info(), me, false, false);
  CHECK(first.kind == Claim::Kind::kNew);
  auto row = store.run(first.run_id);
  REQUIRE(row);
  CHECK(row->status == "running");
  CHECK(row->owner == me);
  CHECK(row->heartbeat > 0);
  CHECK(row->trial == "swav.epsilon=0.03");

  // This process is alive and its heartbeat fresh: another owner must leave the run alone.
  const Claim busy = store.claim_run(trial_info(), other, false, false);
  CHECK(busy.kind == Claim::Kind::kBusy);
  CHECK(busy.run_id == first.run_id);
  CHECK(busy.previous.owner == me);
  // ...unless the heartbeat is older than the stale limit (here: any age).
  const Claim stale = store.claim_run(trial_info(), other, false, false, /*stale_seconds=*/0);
  CHECK(stale.kind == Claim::Kind::kTakenOver);
  CHECK(stale.run_id == first.run_id);
  CHECK(store.run(first.run_id)->owner == other);
  CHECK_FALSE(store.heartbeat(first.run_id, me));  // the old owner learns it lost the run
  CHECK(store.heartbeat(first.run_id, other));

  store.finish_run(first.run_id, true);
  const Claim done = store.claim_run(trial_info(), me, false, false);
  CHECK(done.kind == Claim::Kind::kDone);
  CHECK(done.run_id == first.run_id);
  const Claim forced = store.claim_run(trial_info(), me, true, false);
  CHECK(forced.kind == Claim::Kind::kNew);
  CHECK(forced.run_id != first.run_id);

  store.finish_run(forced.run_id, false, "NaN loss");
  const Claim retry_fresh = store.claim_run(trial_info(), me, false, false);
  CHECK(retry_fresh.kind == Claim::Kind::kNew);  // failed without a checkpoint: a new attempt
  store.finish_run(retry_fresh.run_id, false, "bad data");
  const Claim retry_resume = store.claim_run(trial_info(), me, false, true);
  CHECK(retry_resume.kind == Claim::Kind::kTakenOver);  // failed with a checkpoint: resumed
  CHECK(retry_resume.run_id == retry_fresh.run_id);
  CHECK(store.run(retry_resume.run_id)->status == "running");
  CHECK(store.run(retry_resume.run_id)->error.empty());
  CHECK(store.runs("sweep").size() == 3);
}

TEST_CASE("a run whose owner process is gone is taken over at once, same id", "[store][claim]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("s.db");
  { Store schema(path); }  // the schema exists before the child starts
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int code = 0;
    try {
      Store child(path);
      const Claim c = child.claim_run(trial_info(), swav::new_owner_id(), false, false);
      code = c.kind == Claim::Kind::kNew ? 0 : 3;
    } catch (...) {
      code = 1;
    }
    _exit(code);  // dies holding the claim, as if killed
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WEXITSTATUS(status) == 0);
  Store store(path);
  const auto runs = store.runs("sweep");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].owner.find(":" + std::to_string(pid) + ":") != std::string::npos);
  CHECK(swav::owner_stopped(runs[0], Store::kStaleSeconds));  // fresh heartbeat, dead process
  const Claim claim = store.claim_run(trial_info(), swav::new_owner_id(), false, false);
  CHECK(claim.kind == Claim::Kind::kTakenOver);
  CHECK(claim.run_id == runs[0].id);
  CHECK(store.runs("sweep").size() == 1);
}

TEST_CASE("racing claimers with their own connections: exactly one wins", "[store][claim]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("s.db");
  { Store schema(path); }
  for (int round = 0; round < 3; ++round) {
    const std::string hash = fmt::format("{:016x}", 100 + round);
    std::atomic<int> ready{0};
    std::vector<Claim> claims(6);
    std::vector<std::string> errors(6);
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      threads.emplace_back([&, t] {
        try {
          Store store(path);
          const std::string owner = swav::new_owner_id();
          ++ready;
          while (ready.load() < 6) std::this_thread::yield();  // start together
          claims[t] = store.claim_run(trial_info(hash), owner, false, false);
        } catch (const std::exception& e) {
          errors[t] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    int winners = 0, busy = 0;
    for (int t = 0; t < 6; ++t) {
      CHECK(errors[t].empty());
      winners += claims[t].kind == Claim::Kind::kNew;
      busy += claims[t].kind == Claim::Kind::kBusy;
    }
    CHECK(winners == 1);
    CHECK(busy == 5);
  }
  CHECK(Store(path).runs("sweep").size() == 3);
}

TEST_CASE("a version 1 store gains the claim columns and keeps its rows", "[store][claim]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("old.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(R"sql(
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, experiment TEXT NOT NULL,
  trial TEXT NOT NULL, config_hash TEXT NOT NULL, config TEXT NOT NULL, git_revision TEXT NOT NULL,
  versions TEXT NOT NULL, seed INTEGER NOT NULL, device TEXT NOT NULL, world_size INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')), started TEXT NOT NULL,
  finished TEXT, error TEXT);
INSERT INTO runs (experiment, trial, config_hash, config, git_revision, versions, seed, device,
  world_size, status, started) VALUES ('old', 'main', 'h', '', '', '', 1, 'cpu', 1, 'running',
  '2025-01-01T00:00:00.000Z');
PRAGMA user_version = 1;
)sql");
  }
  Store store(path);
  const auto runs = store.runs("old");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].owner.empty());
  CHECK(runs[0].heartbeat == 0);
  CHECK(swav::owner_stopped(runs[0], Store::kStaleSeconds));  // no owner, no heartbeat: free
  CHECK(SQLite::Database(path).execAndGet("PRAGMA user_version").getInt() == 3);
  swav::RunInfo info = trial_info("h");
  info.experiment = "old";
  const Claim claim = store.claim_run(info, swav::new_owner_id(), false, false);
  CHECK(claim.kind == Claim::Kind::kTakenOver);
  CHECK(claim.run_id == runs[0].id);
}

TEST_CASE("a version 2 store is read as it is, and gains the weights columns when written",
          "[store]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("v2.db");
  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    db.exec(R"sql(
CREATE TABLE runs (id INTEGER PRIMARY KEY AUTOINCREMENT, experiment TEXT NOT NULL,
  trial TEXT NOT NULL, config_hash TEXT NOT NULL, config TEXT NOT NULL, git_revision TEXT NOT NULL,
  versions TEXT NOT NULL, seed INTEGER NOT NULL, device TEXT NOT NULL, world_size INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')), started TEXT NOT NULL,
  finished TEXT, error TEXT, owner TEXT, heartbeat INTEGER);
INSERT INTO runs (experiment, trial, config_hash, config, git_revision, versions, seed, device,
  world_size, status, started) VALUES ('old', 'main', 'h', '', '', '', 1, 'cpu', 1, 'done',
  '2025-01-01T00:00:00.000Z');
PRAGMA user_version = 2;
)sql");
  }
  const std::string before = swav::test::file_bytes(path);
  {
    const Store reader(path, Store::Access::kReadOnly);
    const auto runs = reader.runs("old");
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].status == "done");
    CHECK_FALSE(runs[0].external());
  }
  CHECK(swav::test::file_bytes(path) == before);

  Store store(path);
  CHECK(SQLite::Database(path).execAndGet("PRAGMA user_version").getInt() == 3);
  swav::RunInfo info = trial_info("e");
  info.experiment = "old";
  info.weights = "/models/swav_800ep.pth";
  info.weights_sha256 = std::string(64, 'a');
  const Claim claim = store.claim_run(info, swav::new_owner_id(), false, false);
  const auto runs = store.runs("old");
  REQUIRE(runs.size() == 2);
  CHECK_FALSE(runs[0].external());
  CHECK(runs[1].id == claim.run_id);
  CHECK(runs[1].external());
  CHECK(runs[1].weights == info.weights);
  CHECK(runs[1].weights_sha256 == info.weights_sha256);
}
