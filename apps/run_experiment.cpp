// run_experiment experiments/<name>.toml [key=value ...] [--db PATH] [--force] [--quiet]
//                [--dry-run] [--only PATTERN] [--nproc N] [--eval-only --weights FILE]
// run_experiment --keys [PREFIX]
// Trains and evaluates every trial of an experiment (its [sweep], or the one config), records
// everything in the SQLite store and prints the results.
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "swav/config/config.h"
#include "swav/dist/launch.h"
#include "swav/dist/spawn.h"
#include "swav/report/run_report.h"
#include "swav/run/runner.h"
#include "swav/store/store.h"
#include "swav/train/trainer.h"

namespace {

constexpr const char* kUsage =
    R"(usage: run_experiment EXPERIMENT.toml [key.path=VALUE ...] [options]

Trains the experiment's method for every trial of its [sweep] (or the one config), evaluates the
encoder (kNN, linear probe) on the test split, records runs, per-epoch metrics and evaluations in the
SQLite store, and prints the results. Each trial works in runs/<experiment>/<trial>/ (config.toml,
log.txt, checkpoint.pt). Re-running skips finished trials and resumes interrupted ones from their
last checkpoint; several processes may run the same sweep at once (each trial is claimed in the
store). Exits 1 if any trial failed. See docs/EXPERIMENTS.md.

  key.path=VALUE   override a config value in every trial (TOML syntax): swav.epsilon=0.03,
                   model.prototypes=[100], data.root=/data/cifar10
  --db PATH        results store (default: the config's `db`, else $SWAV_BENCH_DB, else swav_bench.db)
  --dry-run        list the trials with their folders, config hashes and resolved configs; run nothing
  --only PATTERN   run only trials whose name matches PATTERN (a glob with * ? [..], else a substring)
  --force          run again even if a finished run with the same config exists
  --eval-only --weights FILE
                   train nothing: evaluate the PyTorch checkpoint FILE (torch.save of a state
                   dict, torchvision's names or ours, a `module.` prefix or a `state_dict` wrapper
                   as the official SwAV releases have) in the experiment's network with its [eval]
                   protocols; clusters only when FILE also holds the head and prototypes. Stored as
                   a run of its own (tables show it as method "external"; the row holds FILE's
                   path and SHA-256); the same bytes again are skipped unless --force
  --keys [PREFIX]  list every config key (or those starting with PREFIX, e.g. swav) with its type,
                   default and meaning, and exit
  --quiet          no progress lines
  -h, --help       this text

Several processes (Gloo on CPU; train.batch_size is per process, the global batch is
batch_size x processes; rank 0 writes the store, logs and checkpoints; see docs/DISTRIBUTED.md):
  --nproc N        start N processes of this run on this machine (no orphans: if one dies, the
                   others are stopped and the trial is marked failed)
  under torchrun (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, ...) or SLURM's srun (SLURM_PROCID,
  SLURM_NTASKS, SLURM_JOB_NODELIST) the processes join each other by themselves.
  --rendezvous-timeout S   seconds to wait for every process to join (default 300)
  --collective-timeout S   seconds a process waits in one collective, e.g. for rank 0 to finish
                           evaluating a trial (default 86400)
)";

/// --keys: the reference of every key, from the field lists (swav/config/fields.h).
int print_keys(const std::string& prefix) {
  size_t shown = 0;
  for (const auto& k : swav::key_docs()) {
    const std::string bare = k.path.substr(k.path.find_first_not_of('['));
    if (!prefix.empty() && bare.rfind(prefix, 0) != 0) continue;
    ++shown;
    if (k.type == "section") {
      fmt::print("\n{}  {}\n", k.path, k.doc);
      continue;
    }
    if (k.path.rfind("[[", 0) == 0) {  // [[table]] arrays: no value of their own
      fmt::print("{}  ({})\n", k.path, k.type);
    } else {
      fmt::print("{} = {}  ({}{})\n", k.path, k.default_value, k.type,
                 k.hashed ? "" : ", not in the config hash");
    }
    // The meaning, wrapped at 100 columns under the key.
    std::string line = "    ";
    size_t start = 0;
    const std::string& doc = k.doc;
    while (start < doc.size()) {
      size_t end = doc.find(' ', start);
      if (end == std::string::npos) end = doc.size();
      const std::string word = doc.substr(start, end - start);
      if (line.size() > 4 && line.size() + 1 + word.size() > 100) {
        fmt::print("{}\n", line);
        line = "    ";
      }
      line += (line.size() > 4 ? " " : "") + word;
      start = end + 1;
    }
    if (line.size() > 4) fmt::print("{}\n", line);
  }
  if (shown == 0) {
    fmt::print(stderr, "run_experiment: no config key starts with '{}'\n", prefix);
    return 1;
  }
  return 0;
}

/// A positive number of seconds after `flag`, or -1 (message printed).
double seconds_arg(int argc, char** argv, int& i, const char* flag) {
  if (i + 1 >= argc) {
    fmt::print(stderr, "run_experiment: {} needs a number of seconds\n", flag);
    return -1;
  }
  char* end = nullptr;
  const double v = std::strtod(argv[++i], &end);
  if (end == argv[i] || *end != '\0' || !(v > 0)) {
    fmt::print(stderr, "run_experiment: {} {}: expected a positive number of seconds\n", flag,
               argv[i]);
    return -1;
  }
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  swav::RunRequest request;
  bool dry_run = false, eval_only = false;
  int nproc = 0;
  double rendezvous_s = 300, collective_s = 86400;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--nproc") {
      char* end = nullptr;
      const long n = i + 1 < argc ? std::strtol(argv[i + 1], &end, 10) : 0;
      if (i + 1 >= argc || end == argv[i + 1] || *end != '\0' || n < 1 || n > 4096) {
        fmt::print(stderr, "run_experiment: --nproc needs a number of processes (1 or more)\n");
        return 2;
      }
      nproc = static_cast<int>(n);
      ++i;
      continue;
    }
    if (arg == "--rendezvous-timeout" || arg == "--collective-timeout") {
      const double v = seconds_arg(argc, argv, i, arg.c_str());
      if (v < 0) return 2;
      (arg == "--rendezvous-timeout" ? rendezvous_s : collective_s) = v;
      continue;
    }
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--db") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "run_experiment: --db needs a path\n");
        return 2;
      }
      request.db = argv[++i];
    } else if (arg == "--only") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "run_experiment: --only needs a pattern\n");
        return 2;
      }
      request.only = argv[++i];
    } else if (arg == "--keys") {
      return print_keys(i + 1 < argc ? argv[i + 1] : "");
    } else if (arg == "--weights") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "run_experiment: --weights needs a file (a PyTorch checkpoint)\n");
        return 2;
      }
      request.weights = argv[++i];
    } else if (arg == "--eval-only") {
      eval_only = true;
    } else if (arg == "--dry-run") {
      dry_run = true;
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
  if (eval_only && request.weights.empty()) {
    fmt::print(stderr,
               "run_experiment: --eval-only needs --weights FILE, the checkpoint to evaluate\n");
    return 2;
  }
  if (!eval_only && !request.weights.empty()) {
    fmt::print(stderr,
               "run_experiment: --weights {} goes with --eval-only (to start training from a "
               "checkpoint, set model.init={} instead)\n",
               request.weights, request.weights);
    return 2;
  }
  if (eval_only && nproc > 0) {
    fmt::print(stderr, "run_experiment: --eval-only runs on one process; drop --nproc {}\n", nproc);
    return 2;
  }

  if (dry_run) {
    try {
      const swav::ExperimentPlan plan = swav::load_plan(request.config_path, request.overrides);
      fmt::print("{}", swav::format_plan(plan, request.only));
      bool any = false, invalid = false;
      for (const auto& t : plan.trials) {
        if (!request.only.empty() && !swav::trial_matches(t.name, request.only)) continue;
        any = true;
        invalid |= !t.error.empty();
      }
      if (invalid) {
        fmt::print(stderr, "run_experiment: some trials are invalid (see INVALID above)\n");
        return 1;
      }
      if (!any) {
        fmt::print(stderr, "run_experiment: --only '{}' matches none of the {} trials\n",
                   request.only, plan.trials.size());
        return 1;
      }
      return 0;
    } catch (const std::exception& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return 1;
    }
  }

  // Several processes: started here (--nproc), or by torchrun / srun (their variables).
  swav::LaunchInfo launch;
  try {
    launch = swav::read_launch_environment();
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 2;
  }
  if (nproc > 0) {
    if (launch.launcher != "none") {
      fmt::print(stderr,
                 "error: --nproc {} under a launcher that already started {} processes ({}); "
                 "use one or the other\n",
                 nproc, launch.world_size, launch.launcher);
      return 2;
    }
    // The workers get this command line without --nproc N.
    std::vector<std::string> worker_args;
    for (int i = 1; i < argc; ++i) {
      if (std::string(argv[i]) == "--nproc") {
        ++i;
        continue;
      }
      worker_args.emplace_back(argv[i]);
    }
    try {
      swav::SpawnOptions spawn;
      spawn.processes = nproc;
      return swav::spawn_local_workers(worker_args, spawn);
    } catch (const std::exception& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return 1;
    }
  }
  std::unique_ptr<swav::Collective> collective;
  if (launch.distributed()) {
    try {
      using ms = std::chrono::milliseconds;
      collective =
          swav::connect_process_group(launch, ms(static_cast<int64_t>(rendezvous_s * 1000)),
                                      ms(static_cast<int64_t>(collective_s * 1000)));
    } catch (const std::exception& e) {
      fmt::print(stderr, "error: {}\n", e.what());
      return 1;
    }
    request.collective = collective.get();
    if (launch.rank != 0) request.progress = false;  // rank 0 speaks for the run
    swav::set_local_cuda_index(launch.local_rank);  // train.device = "cuda": GPU LOCAL_RANK
  }

  try {
    const swav::SweepOutcome sweep = swav::run_sweep(request);
    if (launch.rank != 0) {
      // The other ranks: no store of their own; rank 0 reports and records everything.
      for (const auto& t : sweep.trials)
        if (!t.outcome.ok) return 1;
      return sweep.error.empty() ? 0 : 1;
    }
    if (!sweep.error.empty()) {
      fmt::print(stderr, "\nerror: {}\n", sweep.error);
      if (sweep.error_run_id > 0) {
        fmt::print(stderr, "run {} is marked failed in {}\n", sweep.error_run_id, sweep.db_path);
      }
      return 1;
    }
    swav::Store store(sweep.db_path);
    if (sweep.trials.size() == 1) {
      const auto& outcome = sweep.trials.front().outcome;
      if (outcome.skipped) {
        fmt::print(
            "a finished run with this config exists (run {}); showing it (--force runs again)\n",
            outcome.run_id);
      }
      if (outcome.ok && !outcome.busy) {
        fmt::print("{}\nstored in {} (run {})\n", swav::format_run_results(store, outcome.run_id),
                   sweep.db_path, outcome.run_id);
        return 0;
      }
      if (outcome.busy) {
        fmt::print("{}; not run here\n", outcome.error);
        return 0;
      }
      fmt::print(stderr, "\nerror: {}\n", outcome.error);
      if (outcome.run_id > 0) {
        fmt::print(stderr, "run {} is marked failed in {}\n", outcome.run_id, sweep.db_path);
      }
      return 1;
    }
    fmt::print("{}\nstored in {}\n", swav::format_sweep_summary(sweep), sweep.db_path);
    if (!sweep.ok()) {
      size_t failed = 0;
      for (const auto& t : sweep.trials) failed += t.outcome.ok ? 0 : 1;
      fmt::print(stderr, "{} of {} trials failed (marked failed in {})\n", failed,
                 sweep.trials.size(), sweep.db_path);
      return 1;
    }
    return 0;
  } catch (const std::exception& e) {
    // Only failures of the store itself reach here (e.g. an unwritable --db path).
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
