// What several processes cost and gain on this machine, measured in one run:
//   - SwAV training throughput (images/s) of the quickstart's model and data at one global batch,
//     on 1 process with all T threads and on N processes with T / N threads each (--nproc-style
//     workers, Gloo), and their ratio;
//   - the gradient all-reduce alone (the model's gradients as one flat float32 buffer, Gloo,
//     N processes): milliseconds per call and its share of a training step.
//   build/bin/bench_distributed [--nproc N] [--threads T] [--steps S] [--batch B] [--workers W]
//                               [--no-sync-bn]
// Defaults: N = 2, T = the cores, S = 20 steps of global batch B = 256 (Fashion-MNIST, the
// quickstart's ConvNet, two 28 px crops, no evaluation). Needs the dataset-fashion-mnist package.
#include <torch/torch.h>

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "swav/config/config.h"
#include "swav/data/image_set.h"
#include "swav/dist/launch.h"
#include "swav/dist/spawn.h"
#include "swav/run/registry.h"
#include "swav/train/trainer.h"
#include "swav/util/progress.h"

namespace {

using namespace swav;

struct Args {
  int nproc = 2;
  int threads = static_cast<int>(std::thread::hardware_concurrency());
  int steps = 20;
  int batch = 256;
  bool sync_bn = true;
  int workers = -1;  // augmentation threads per process; -1: the quickstart's
  std::string out;   // worker: where rank 0 writes its numbers
};

ExperimentOptions quickstart(const Args& a, int world) {
  auto o = load_experiment(std::string(SWAV_SOURCE_DIR) + "/experiments/quickstart.toml");
  o.train.batch_size = a.batch / world;
  o.train.epochs = 1;
  o.train.threads = std::max(1, a.threads / world);
  o.train.log_every = 1000000;
  o.train.sync_bn = a.sync_bn;
  if (a.workers > 0) o.augment.workers = a.workers;
  // One epoch of exactly `steps` global batches.
  o.data.train_limit = static_cast<int64_t>(a.steps) * a.batch;
  return o;
}

/// A worker (RANK is set): trains `steps` steps, then times the gradient all-reduce.
int worker(const Args& a) {
  const auto launch = read_launch_environment();
  auto collective = connect_process_group(launch, std::chrono::seconds(120), std::chrono::hours(1));
  const int world = static_cast<int>(collective->world_size());
  auto o = quickstart(a, world);
  at::set_num_threads(static_cast<int>(o.train.threads));
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(static_cast<uint64_t>(o.train.seed));
  auto method = make_method(o, train.channels(), train.size());
  Trainer trainer(o, *method, train, "", *collective);
  trainer.set_progress(false);
  collective->barrier();
  Stopwatch clock;
  const auto summary = trainer.fit();
  collective->barrier();
  const double seconds = clock.seconds();
  const int64_t steps = train.size() / a.batch;
  // The gradient all-reduce alone, on buffers the size of this model's gradients.
  int64_t numel = 0;
  for (const auto& p : method->module().parameters()) numel += p.numel();
  auto buffer = torch::randn({numel});
  for (int i = 0; i < 3; ++i) collective->all_reduce_sum(buffer);  // warm-up
  const int calls = 50;
  collective->barrier();
  Stopwatch reduce_clock;
  for (int i = 0; i < calls; ++i) collective->all_reduce_sum(buffer);
  const double reduce_ms = reduce_clock.seconds() * 1000.0 / calls;
  if (collective->rank() == 0) {
    std::ofstream(a.out) << seconds << " " << steps << " " << numel << " " << reduce_ms << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::vector<std::string> passed;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&](const char* what) {
      if (i + 1 >= argc) {
        fmt::print(stderr, "bench_distributed: {} needs a value\n", what);
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (arg == "--nproc") {
      a.nproc = next("--nproc");
    } else if (arg == "--threads") {
      a.threads = next("--threads");
    } else if (arg == "--steps") {
      a.steps = next("--steps");
    } else if (arg == "--batch") {
      a.batch = next("--batch");
    } else if (arg == "--no-sync-bn") {
      a.sync_bn = false;
    } else if (arg == "--workers") {
      a.workers = next("--workers");
    } else if (arg == "--out") {
      if (i + 1 >= argc) return 2;
      a.out = argv[++i];
    } else {
      fmt::print(stderr,
                 "usage: bench_distributed [--nproc N] [--threads T] [--steps S] [--batch B] "
                 "[--workers W] [--no-sync-bn]\n");
      return 2;
    }
  }
  if (a.nproc < 2 || a.threads < 1 || a.steps < 1 || a.batch % a.nproc != 0) {
    fmt::print(stderr, "bench_distributed: needs --nproc >= 2, and --batch divisible by it\n");
    return 2;
  }
  try {
    if (std::getenv("RANK") != nullptr) return worker(a);

    // The launcher: the same global batch on 1 process, then on N.
    struct Result {
      double seconds = 0;
      long steps = 0, numel = 0;
      double reduce_ms = 0;
    };
    std::map<int, Result> results;
    for (int world : {1, a.nproc}) {
      const std::string out = fmt::format("/tmp/bench_distributed_{}_{}.txt", ::getpid(), world);
      std::vector<std::string> args = {
          "--threads", std::to_string(a.threads), "--steps",   std::to_string(a.steps),
          "--batch",   std::to_string(a.batch),   "--out",     out,
          "--nproc",   std::to_string(a.nproc),   "--workers", std::to_string(a.workers)};
      if (!a.sync_bn) args.push_back("--no-sync-bn");
      SpawnOptions spawn;
      spawn.processes = world;
      if (const int rc = spawn_local_workers(args, spawn); rc != 0) {
        fmt::print(stderr, "bench_distributed: the {}-process run failed ({})\n", world, rc);
        return 1;
      }
      Result r;
      std::ifstream(out) >> r.seconds >> r.steps >> r.numel >> r.reduce_ms;
      std::remove(out.c_str());
      results[world] = r;
    }
    const auto& one = results[1];
    const auto& many = results[a.nproc];
    const double ips_one = static_cast<double>(one.steps * a.batch) / one.seconds;
    const double ips_many = static_cast<double>(many.steps * a.batch) / many.seconds;
    fmt::print(
        "SwAV quickstart (Fashion-MNIST, ConvNet w0.5, 2x28, K 100), global batch {}, {} steps\n\n",
        a.batch, one.steps);
    fmt::print("| processes x threads | images/s | vs 1 process |\n|---|--:|--:|\n");
    fmt::print("| 1 x {} | {:.0f} | 1.00 |\n", a.threads, ips_one);
    fmt::print("| {} x {} | {:.0f} | {:.2f} |\n\n", a.nproc, std::max(1, a.threads / a.nproc),
               ips_many, ips_many / ips_one);
    const double step_ms = many.seconds * 1000.0 / static_cast<double>(many.steps);
    fmt::print(
        "gradient all-reduce, {} processes (Gloo): {} float32 values ({:.2f} MB) in {:.2f} ms per "
        "call, {:.1f}% of a {:.0f} ms step\n",
        a.nproc, many.numel, static_cast<double>(many.numel) * 4 / 1e6, many.reduce_ms,
        100.0 * many.reduce_ms / step_ms, step_ms);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
