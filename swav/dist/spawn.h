// `run_experiment --nproc N`: this program started N times on this machine as the ranks of one
// run, with torchrun's variables, and watched so that no worker outlives the run.
#pragma once
#include <chrono>
#include <string>
#include <vector>

namespace swav {

struct SpawnOptions {
  int processes = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;  // 0: a free port of this machine
  /// After a worker fails, how long the others get to notice it (their collectives fail, rank 0
  /// marks the trial failed in the store) before they are terminated.
  std::chrono::seconds grace{20};
};

/// A TCP port that was free on 127.0.0.1 a moment ago (bind to port 0, read it, close).
int free_local_port();

/// The path of the running executable (/proc/self/exe).
std::string self_executable();

/// Starts `options.processes` copies of the running executable with `args` (argv without the
/// program name and without --nproc), each with RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
/// MASTER_ADDR and MASTER_PORT set; every worker dies with this process (PR_SET_PDEATHSIG), and
/// SIGINT / SIGTERM are passed on to them. When a worker exits with an error or a signal, the
/// others are given `grace`, then SIGTERM, then SIGKILL 5 s later. Returns 0 when every worker
/// exited 0, else the first failing worker's exit code (128 + signal for a signal). Prints which
/// rank failed and how on stderr.
int spawn_local_workers(const std::vector<std::string>& args, const SpawnOptions& options);

}  // namespace swav
