#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "swav/store/store.h"
#include "swav/util/error.h"
#include "tests/helpers.h"

using Catch::Contains;
using swav::Store;

namespace {

swav::RunInfo info(const std::string& experiment = "exp",
                   const std::string& hash = "0123456789abcdef") {
  swav::RunInfo i;
  i.experiment = experiment;
  i.trial = "main";
  i.config_hash = hash;
  i.config_toml = "name = \"exp\"\n";
  i.git_revision = "abc123";
  i.versions = "torch 2.11.0";
  i.seed = 31;
  i.device = "cpu";
  i.world_size = 2;
  return i;
}

std::string open_error(const std::string& path,
                       Store::Access access = Store::Access::kReadWrite) {
  try {
    Store s(path, access);
  } catch (const swav::UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError opening " << path);
  return "";
}

const std::regex kIsoUtc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)");

}  // namespace

TEST_CASE("the store creates its schema in WAL mode", "[store]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("results.db");
  {
    Store s(path);
    CHECK(s.path() == path);
  }
  SQLite::Database db(path);
  CHECK(db.tableExists("runs"));
  CHECK(db.tableExists("metrics"));
  CHECK(db.tableExists("evals"));
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == 3);
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  std::set<std::string> indexes;
  SQLite::Statement q(db, "SELECT name FROM sqlite_master WHERE type = 'index'");
  while (q.executeStep()) indexes.insert(q.getColumn(0).getString());
  CHECK(indexes.count("metrics_run_name") == 1);
  CHECK(indexes.count("evals_run") == 1);
}

TEST_CASE("runs are recorded, finished, failed and reopened", "[store]") {
  swav::test::TempDir dir;
  Store s(dir.str("results.db"));
  const int64_t a = s.begin_run(info());
  auto r = s.run(a);
  REQUIRE(r);
  CHECK(r->id == a);
  CHECK(r->experiment == "exp");
  CHECK(r->trial == "main");
  CHECK(r->config_hash == "0123456789abcdef");
  CHECK(r->config_toml == "name = \"exp\"\n");
  CHECK(r->git_revision == "abc123");
  CHECK(r->versions == "torch 2.11.0");
  CHECK(r->seed == 31);
  CHECK(r->device == "cpu");
  CHECK(r->world_size == 2);
  CHECK(r->status == "running");
  CHECK(std::regex_match(r->started, kIsoUtc));
  CHECK(r->finished.empty());
  CHECK(r->error.empty());

  s.finish_run(a, true);
  r = s.run(a);
  CHECK(r->status == "done");
  CHECK(std::regex_match(r->finished, kIsoUtc));
  CHECK(r->finished >= r->started);
  CHECK(r->error.empty());

  const int64_t b = s.begin_run(info());
  CHECK(b > a);
  s.finish_run(b, false, "data.root: no such folder '/x'");
  r = s.run(b);
  CHECK(r->status == "failed");
  CHECK(r->error == "data.root: no such folder '/x'");
  CHECK_FALSE(r->finished.empty());

  s.reopen_run(b);
  r = s.run(b);
  CHECK(r->status == "running");
  CHECK(r->finished.empty());
  CHECK(r->error.empty());

  CHECK_FALSE(s.run(b + 100));
  CHECK_THROWS_AS(s.finish_run(b + 100, true), swav::UserError);
}

TEST_CASE("latest_run and runs select by experiment and hash", "[store]") {
  swav::test::TempDir dir;
  Store s(dir.str("results.db"));
  const int64_t a1 = s.begin_run(info("a", "h1"));
  const int64_t b1 = s.begin_run(info("b", "h1"));
  const int64_t a2 = s.begin_run(info("a", "h1"));
  const int64_t a3 = s.begin_run(info("a", "h2"));
  CHECK(s.latest_run("a", "h1")->id == a2);
  CHECK(s.latest_run("a", "h2")->id == a3);
  CHECK(s.latest_run("b", "h1")->id == b1);
  CHECK_FALSE(s.latest_run("b", "h2"));
  CHECK_FALSE(s.latest_run("c", "h1"));
  const auto all = s.runs();
  REQUIRE(all.size() == 4);
  CHECK(all[0].id == a1);
  const auto of_a = s.runs("a");
  REQUIRE(of_a.size() == 3);
  CHECK((of_a[0].id == a1 && of_a[1].id == a2 && of_a[2].id == a3));
}

TEST_CASE("metrics and evals round-trip, NaN included", "[store]") {
  swav::test::TempDir dir;
  Store s(dir.str("results.db"));
  const int64_t run = s.begin_run(info());
  const int64_t other = s.begin_run(info());
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    s.log_metrics(run, epoch, epoch * 10, {{"loss", 8.0 - epoch}, {"lr", 0.1 * (epoch + 1)}});
  }
  s.log_metric(run, 3, 30, "loss", std::nan(""));
  s.log_metric(other, 0, 0, "loss", 1.0);
  const auto loss = s.metrics(run, "loss");
  REQUIRE(loss.size() == 4);
  CHECK(loss[0].run_id == run);
  CHECK(loss[1].epoch == 1);
  CHECK(loss[1].step == 10);
  CHECK(loss[1].name == "loss");
  CHECK(loss[1].value == 7.0);
  CHECK(std::isnan(loss[3].value));
  CHECK(s.metrics(run).size() == 7);
  CHECK(s.metrics(run, "lr")[2].value == Approx(0.3));
  CHECK(s.metrics(other).size() == 1);

  s.log_eval(run, "knn", "fashion_mnist", "top1", 81.25);
  s.log_eval(run, "linear", "fashion_mnist", "top1", 85.5);
  const auto evals = s.evals(run);
  REQUIRE(evals.size() == 2);
  CHECK(evals[0].protocol == "knn");
  CHECK(evals[0].dataset == "fashion_mnist");
  CHECK(evals[0].metric == "top1");
  CHECK(evals[0].value == 81.25);
  CHECK(evals[1].protocol == "linear");
  CHECK(s.evals(other).empty());

  // A metric for a run that does not exist breaks the foreign key.
  CHECK_THROWS_AS(s.log_metric(other + 100, 0, 0, "loss", 1.0), swav::UserError);
}

TEST_CASE("drop_metrics_after removes only later epochs of that run", "[store]") {
  swav::test::TempDir dir;
  Store s(dir.str("results.db"));
  const int64_t run = s.begin_run(info());
  const int64_t other = s.begin_run(info());
  for (int64_t epoch = 0; epoch < 5; ++epoch) {
    s.log_metric(run, epoch, epoch, "loss", 1.0);
    s.log_metric(other, epoch, epoch, "loss", 1.0);
  }
  s.drop_metrics_after(run, 2);
  const auto rows = s.metrics(run);
  REQUIRE(rows.size() == 3);
  CHECK(rows.back().epoch == 2);
  CHECK(s.metrics(other).size() == 5);
}

TEST_CASE("a reopened store keeps its rows", "[store]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("results.db");
  int64_t run = 0;
  {
    Store s(path);
    run = s.begin_run(info());
    s.log_metric(run, 0, 0, "loss", 2.5);
    s.finish_run(run, true);
  }
  Store s(path);
  CHECK(s.run(run)->status == "done");
  CHECK(s.metrics(run).at(0).value == 2.5);
  CHECK(s.begin_run(info()) == run + 1);
}

TEST_CASE("a store that cannot be opened names the path", "[store]") {
  swav::test::TempDir dir;
  const std::string missing = dir.str("no/such/folder/results.db");
  CHECK_THAT(open_error(missing), Contains(missing) && Contains("results store"));
  const std::string garbage = dir.str("garbage.db");
  std::ofstream(garbage) << std::string(4096, 'x');
  CHECK_THAT(open_error(garbage), Contains(garbage) && Contains("not a database"));
  CHECK_THAT(open_error(dir.str()), Contains(dir.str()));
  // A file from a newer schema is refused rather than misread.
  const std::string newer = dir.str("newer.db");
  {
    SQLite::Database(newer, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE)
        .exec("PRAGMA user_version = 99");
  }
  CHECK_THAT(open_error(newer), Contains(newer) && Contains("schema version 99"));
}

TEST_CASE("a store opened read-only is read and never written", "[store]") {
  constexpr auto kReadOnly = Store::Access::kReadOnly;
  swav::test::TempDir dir;
  const std::string path = dir.str("results.db");
  int64_t run = 0;
  {
    Store s(path);
    run = s.begin_run(info());
    s.log_metric(run, 0, 0, "loss", 2.5);
    s.finish_run(run, true);
  }
  // As results/*.db are committed: one file, no write-ahead log.
  SQLite::Database(path, SQLite::OPEN_READWRITE).exec("PRAGMA journal_mode = DELETE");
  const std::string before = swav::test::file_bytes(path);
  {
    const Store s(path, Store::Access::kReadOnly);
    CHECK(s.run(run)->status == "done");
    CHECK(s.metrics(run).at(0).value == 2.5);
  }
  // Byte for byte the same file, and nothing beside it (a read-write open changes the header).
  CHECK(swav::test::file_bytes(path) == before);
  CHECK_FALSE(std::filesystem::exists(path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(path + "-shm"));
  { Store writer(path); }
  CHECK(swav::test::file_bytes(path) != before);

  // A missing file is not created; a file with no schema, an older or a newer one is refused.
  const std::string missing = dir.str("missing.db");
  CHECK_THAT(open_error(missing, kReadOnly), Contains(missing) && Contains("for reading"));
  CHECK_FALSE(std::filesystem::exists(missing));
  const std::string empty = dir.str("empty.db");
  { SQLite::Database(empty, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE).exec("CREATE TABLE t(x)"); }
  CHECK_THAT(open_error(empty, kReadOnly), Contains(empty) && Contains("no swav-bench results"));
  const std::string older = dir.str("older.db");
  { SQLite::Database(older, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE).exec("PRAGMA user_version = 1"); }
  CHECK_THAT(open_error(older, kReadOnly), Contains(older) && Contains("schema version 1, older"));
  const std::string garbage = dir.str("garbage.db");
  std::ofstream(garbage) << std::string(4096, 'x');
  CHECK_THAT(open_error(garbage, kReadOnly), Contains(garbage) && Contains("not a database"));
}

TEST_CASE("a store whose disk fills up names the file and loses no stored row", "[store][faults]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("results.db");
  int64_t run = 0;
  {
    Store s(path);
    run = s.begin_run(info());
    s.log_metric(run, 0, 0, "loss", 2.5);
  }
  // Files may not grow past 64 KiB more than the store is now (RLIMIT_FSIZE, SIGXFSZ ignored so
  // writes fail with EFBIG): a long burst of metrics fills the "disk".
  std::string error;
  int64_t written = 0;
  {
    Store s(path);
    swav::test::with_file_size_limit(std::filesystem::file_size(path) + 65536, [&] {
      try {
        for (; written < 100000; ++written) s.log_metric(run, 1, written, "lr", 0.1);
      } catch (const swav::UserError& e) {
        error = e.what();
      }
    });
  }
  INFO(error);
  CHECK_THAT(error, Contains(path) && Contains("every row stored before is kept"));
  CHECK(written < 100000);
  // Every row written before the failure is there, and the store takes rows again.
  Store s(path);
  CHECK(s.metrics(run, "loss").size() == 1);
  CHECK(static_cast<int64_t>(s.metrics(run, "lr").size()) == written);
  s.finish_run(run, true);
  CHECK(s.run(run)->status == "done");
}

TEST_CASE("default_db_path honours SWAV_BENCH_DB", "[store]") {
  const char* saved = std::getenv("SWAV_BENCH_DB");
  const std::string before = saved ? saved : "";
  unsetenv("SWAV_BENCH_DB");
  CHECK(swav::default_db_path() == "swav_bench.db");
  setenv("SWAV_BENCH_DB", "/tmp/elsewhere.db", 1);
  CHECK(swav::default_db_path() == "/tmp/elsewhere.db");
  if (saved) {
    setenv("SWAV_BENCH_DB", before.c_str(), 1);
  } else {
    unsetenv("SWAV_BENCH_DB");
  }
}

namespace {

/// Writer `w` logs 200 metrics, one transaction each, with its own Store on `path`.
void write_rows(const std::string& path, int64_t run, int w) {
  Store s(path);
  for (int i = 0; i < 200; ++i) s.log_metric(run, w, i, "loss", w * 1000 + i);
}

void check_rows(const std::string& path, int64_t run) {
  Store s(path);
  const auto rows = s.metrics(run);
  CHECK(rows.size() == 800);
  std::set<int> values;
  for (const auto& r : rows) values.insert(static_cast<int>(r.value));
  CHECK(values.size() == 800);  // no duplicates
  for (int w = 0; w < 4; ++w) {
    CHECK(values.count(w * 1000) == 1);
    CHECK(values.count(w * 1000 + 199) == 1);
  }
}

}  // namespace

TEST_CASE("four threads with their own connections lose and duplicate no rows", "[store]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("results.db");
  const int64_t run = Store(path).begin_run(info());
  std::vector<std::thread> threads;
  std::vector<std::string> errors(4);
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&, w] {
      try {
        write_rows(path, run, w);
      } catch (const std::exception& e) {
        errors[w] = e.what();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK(e.empty());
  check_rows(path, run);
}

TEST_CASE("four processes writing one file lose and duplicate no rows", "[store]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("results.db");
  const int64_t run = Store(path).begin_run(info());
  std::vector<pid_t> children;
  for (int w = 0; w < 4; ++w) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      alarm(120);  // never leave a hung child behind
      int code = 0;
      try {
        Store(path).begin_run(info("child"));  // schema set-up and run ids race too
        write_rows(path, run, w);
      } catch (...) {
        code = 1;
      }
      _exit(code);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
  check_rows(path, run);
  const auto child_runs = Store(path).runs("child");
  std::set<int64_t> ids;
  for (const auto& r : child_runs) ids.insert(r.id);
  CHECK(ids.size() == 4);
}
