// Where the processes of one run come from and where they meet: the launcher's environment
// (torchrun, SLURM's srun, or run_experiment --nproc, which sets torchrun's variables for its
// workers) read into one description, checked before anything connects.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "swav/dist/collective.h"

namespace swav {

/// One process's place in a multi-process run.
struct LaunchInfo {
  std::string launcher = "none";  // "none" (one process), "torchrun" or "slurm"
  int64_t rank = 0;               // global rank in [0, world_size)
  int64_t world_size = 1;
  int64_t local_rank = 0;  // rank on this node: the GPU this process uses
  int64_t local_world_size = 1;
  std::string master_addr;  // host of the rendezvous store (rank 0's node)
  int64_t master_port = 0;
  /// torchrun's agent already serves the store (TORCHELASTIC_USE_AGENT_STORE=True): every rank,
  /// rank 0 included, connects to it as a client.
  bool agent_store = false;
  /// "RANK", "SLURM_PROCID", ...: the variable each field was read from, for messages.
  std::string rank_variable = "RANK";
  std::string world_variable = "WORLD_SIZE";
  std::string addr_variable = "MASTER_ADDR";
  std::string port_variable = "MASTER_PORT";

  bool distributed() const { return world_size > 1; }
};

/// Reads the launcher's variables through `getenv` (std::getenv by default):
///  - torchrun: RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (and
///    TORCHELASTIC_USE_AGENT_STORE);
///  - SLURM (when RANK is absent and SLURM_PROCID is set): SLURM_PROCID, SLURM_NTASKS,
///    SLURM_LOCALID, SLURM_NTASKS_PER_NODE or SLURM_TASKS_PER_NODE; the store on the first host of
///    SLURM_JOB_NODELIST (MASTER_ADDR overrides it) at MASTER_PORT (default 29500);
///  - neither: one process.
/// Throws UserError naming the variable for a value that is not a number, a rank outside
/// [0, world size), a local rank outside its node, a missing address or a port outside 1-65535.
LaunchInfo read_launch_environment(const std::function<const char*(const char*)>& getenv = nullptr);

/// The first host of a SLURM node list: "node[03-05,09],gpu1" -> "node03", "a,b" -> "a".
/// Throws UserError for an empty or malformed list.
std::string first_slurm_host(const std::string& nodelist);

/// Joins the run's process group: a TCP store on master_addr:master_port (served by rank 0, or by
/// torchrun's agent), Gloo over it for CPU tensors and NCCL for CUDA tensors (made at the first
/// collective on one, on its device). Waits at most `rendezvous` for every rank;
/// a master that cannot be reached, a port in use or a rank that never arrives is a UserError
/// that names MASTER_ADDR / MASTER_PORT (or their SLURM counterparts) and the timeout. Each
/// collective then waits at most `collectives` for the other ranks (they wait for rank 0 while it
/// evaluates a trial, so this is long). world_size 1: the single-process collective, nothing is
/// connected.
std::unique_ptr<Collective> connect_process_group(const LaunchInfo& launch,
                                                  std::chrono::milliseconds rendezvous,
                                                  std::chrono::milliseconds collectives);

}  // namespace swav
