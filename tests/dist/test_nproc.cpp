// run_experiment --nproc: the whole path through the store with 2 processes, against 1 process
// of the same global batch, and a worker killed mid-run (no orphans, the trial marked failed).
#include <catch2/catch.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/store/store.h"
#include "test_paths.h"

extern char** environ;

using Catch::Contains;

namespace {

namespace fs = std::filesystem;

struct Space {
  std::string dir;
  Space() {
    dir = (fs::temp_directory_path() / ("swav_nproc_" + std::to_string(::getpid()))).string();
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Space() { fs::remove_all(dir); }
  std::string path(const std::string& name) const { return dir + "/" + name; }
};

/// The tiny synthetic SwAV of the tests, its store and runs in `space`.
std::string write_experiment(const Space& space, int epochs) {
  auto o = swav::test::tiny_experiment();
  o.name = "nproc";
  o.train.epochs = epochs;
  o.train.threads = 1;
  o.eval.linear = false;
  o.eval.untrained_baseline = false;
  o.db = space.path("store.db");
  o.run_dir = space.path("runs");
  const auto file = space.path("nproc.toml");
  std::ofstream(file) << swav::to_toml(o);
  return file;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

/// Starts run_experiment with `args`, output to `log`; returns its pid.
pid_t start(const std::vector<std::string>& args, const std::string& log) {
  std::vector<std::string> text = {std::string(SWAV_BIN_DIR) + "/run_experiment"};
  text.insert(text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : text) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  REQUIRE(posix_spawn(&pid, text[0].c_str(), &actions, nullptr, argv.data(), environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

/// Exit code of `pid`, or -1 if it is still running after `limit` (then it is killed).
int wait_for(pid_t pid, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid)
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  return -1;
}

/// The child processes of `pid` (Linux: /proc/<pid>/task/<pid>/children).
std::vector<pid_t> children_of(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/task/{}/children", pid, pid));
  std::vector<pid_t> out;
  pid_t child = 0;
  while (in >> child) out.push_back(child);
  return out;
}

std::vector<double> losses(swav::Store& store, int64_t run_id) {
  std::vector<double> out;
  for (const auto& m : store.metrics(run_id, "loss")) out.push_back(m.value);
  return out;
}

}  // namespace

TEST_CASE("run_experiment --nproc 2 trains as one process of the same global batch",
          "[dist][distributed][cli]") {
  Space space;
  const auto file = write_experiment(space, 2);
  const auto two_log = space.path("two.txt"), one_log = space.path("one.txt");
  const int two = wait_for(start({file, "train.batch_size=8", "--nproc", "2"}, two_log),
                           std::chrono::seconds(240));
  INFO("2 processes:\n" << read_all(two_log));
  REQUIRE(two == 0);
  CHECK_THAT(read_all(two_log), Contains("stored in"));
  const int one =
      wait_for(start({file, "train.batch_size=16"}, one_log), std::chrono::seconds(240));
  INFO("1 process:\n" << read_all(one_log));
  REQUIRE(one == 0);

  swav::Store store(space.path("store.db"));
  const auto runs = store.runs("nproc");
  REQUIRE(runs.size() == 2);
  const auto& r2 = runs[0].world_size == 2 ? runs[0] : runs[1];
  const auto& r1 = runs[0].world_size == 2 ? runs[1] : runs[0];
  CHECK(r2.world_size == 2);
  CHECK(r1.world_size == 1);
  CHECK(r2.status == "done");
  CHECK(r1.status == "done");
  const auto l2 = losses(store, r2.id), l1 = losses(store, r1.id);
  REQUIRE(l2.size() == 2);
  REQUIRE(l1.size() == 2);
  for (size_t e = 0; e < 2; ++e) {
    INFO("epoch " << e << ": " << l2[e] << " (2 x 8) vs " << l1[e] << " (1 x 16)");
    CHECK(std::abs(l2[e] - l1[e]) <= 1e-4);  // as tests/dist's SwAV equivalence
  }
  // Rank 0 alone wrote the trial folder and the evaluation.
  bool has_knn = false;
  for (const auto& e : store.evals(r2.id)) has_knn |= e.protocol == "knn";
  CHECK(has_knn);
}

TEST_CASE(
    "run_experiment --nproc: a killed worker stops the run, leaves no process, fails the trial",
    "[dist][distributed][cli]") {
  Space space;
  const auto file = write_experiment(space, 20);  // about 15 s: longer than the kill takes
  const auto log = space.path("log.txt");
  const pid_t launcher = start({file, "train.batch_size=8", "--nproc", "2"}, log);
  // Wait until both workers train (the store has the run and the first epoch's metrics).
  std::vector<pid_t> workers;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  bool training = false;
  while (!training && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    workers = children_of(launcher);
    if (workers.size() != 2 || !fs::exists(space.path("store.db"))) continue;
    swav::Store store(space.path("store.db"));
    const auto runs = store.runs("nproc");
    training = !runs.empty() && !store.metrics(runs[0].id, "loss").empty();
  }
  INFO(read_all(log));
  REQUIRE(training);
  REQUIRE(workers.size() == 2);
  const auto killed_at = std::chrono::steady_clock::now();
  ::kill(workers[1], SIGKILL);  // rank 1 (started second)
  const int code = wait_for(launcher, std::chrono::seconds(60));
  INFO("launcher output:\n" << read_all(log));
  CHECK(code != 0);
  CHECK(code != -1);  // it ended by itself
  CHECK(std::chrono::steady_clock::now() - killed_at < std::chrono::seconds(30));
  for (pid_t w : workers) CHECK(::kill(w, 0) == -1);  // no orphan (and no zombie) left
  CHECK_THAT(read_all(log), Contains("rank 1 was killed by signal 9"));
  swav::Store store(space.path("store.db"));
  const auto runs = store.runs("nproc");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "failed");
  CHECK(runs[0].world_size == 2);
  CHECK_THAT(runs[0].error, Contains("another process stopped"));

  // The same command again resumes the failed run from its checkpoint and finishes it.
  const auto again = space.path("again.txt");
  const int rerun = wait_for(start({file, "train.batch_size=8", "--nproc", "2"}, again),
                             std::chrono::seconds(240));
  INFO("re-run output:\n" << read_all(again));
  CHECK(rerun == 0);
  CHECK_THAT(read_all(again), Contains("resuming from its checkpoint"));
  const auto after = store.runs("nproc");
  REQUIRE(after.size() == 1);
  CHECK(after[0].id == runs[0].id);
  CHECK(after[0].status == "done");
  CHECK(losses(store, after[0].id).size() == 20);
}

TEST_CASE("run_experiment under torchrun joins torchrun's store and trains on its ranks",
          "[dist][distributed][cli][python]") {
  // torchrun comes with the venv's PyTorch (the one LibTorch came from).
  const std::string python = SWAV_TORCH_PYTHON;
  const std::string torchrun =
      python.empty() ? "" : (fs::path(python).parent_path() / "torchrun").string();
  if (torchrun.empty() || !fs::exists(torchrun)) {
    WARN("torchrun not found next to the venv's python: skipped");
    return;
  }
  Space space;
  const auto file = write_experiment(space, 2);
  const auto log = space.path("torchrun.txt");
  const std::string command = fmt::format(
      "{} --standalone --nproc-per-node 2 --no-python {}/run_experiment {} train.batch_size=8 > "
      "{} 2>&1",
      torchrun, SWAV_BIN_DIR, file, log);
  const int status = std::system(command.c_str());
  INFO(read_all(log));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK_THAT(read_all(log), Contains("batch 8 x 2 processes = 16"));
  swav::Store store(space.path("store.db"));
  const auto runs = store.runs("nproc");
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].status == "done");
  CHECK(runs[0].world_size == 2);
}
