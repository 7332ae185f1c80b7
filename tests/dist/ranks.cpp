#include "dist/ranks.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <torch/torch.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "helpers.h"
#include "baselines/baseline_fixture.h"
#include "swav/core/kmeans.h"
#include "swav/core/sinkhorn.h"
#include "swav/data/image_set.h"
#include "swav/dist/launch.h"
#include "swav/dist/spawn.h"
#include "swav/run/registry.h"
#include "swav/train/trainer.h"

extern char** environ;

namespace swav::test {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool is_launch_variable(const std::string& entry) {
  static const char* names[] = {
      "RANK=",        "WORLD_SIZE=",  "LOCAL_RANK=",   "LOCAL_WORLD_SIZE=",
      "MASTER_ADDR=", "MASTER_PORT=", "SLURM_PROCID=", "TORCHELASTIC_USE_AGENT_STORE="};
  for (const char* n : names)
    if (entry.rfind(n, 0) == 0) return true;
  return false;
}

}  // namespace

int free_port() {
  return free_local_port();
}

std::vector<RankResult> run_ranks(const std::string& scenario, int world,
                                  const std::vector<int>& ranks, const std::string& dir,
                                  const std::map<std::string, std::string>& env,
                                  std::chrono::seconds deadline) {
  const std::string exe = self_executable();
  const int port = free_port();
  std::vector<pid_t> pids;
  std::vector<std::string> logs;
  for (int rank : ranks) {
    std::vector<std::string> vars;
    for (char** e = environ; *e != nullptr; ++e)
      if (!is_launch_variable(*e)) vars.emplace_back(*e);
    std::map<std::string, std::string> own = {
        {"SWAV_DIST_SCENARIO", scenario},     {"SWAV_DIST_OUT", dir},
        {"RANK", std::to_string(rank)},       {"WORLD_SIZE", std::to_string(world)},
        {"LOCAL_RANK", std::to_string(rank)}, {"LOCAL_WORLD_SIZE", std::to_string(world)},
        {"MASTER_ADDR", "127.0.0.1"},         {"MASTER_PORT", std::to_string(port)}};
    for (const auto& [k, v] : env) own[k] = v;
    for (const auto& [k, v] : own) vars.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& v : vars) envp.push_back(v.data());
    envp.push_back(nullptr);

    const std::string log = dir + "/rank" + std::to_string(rank) + ".log";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string arg0 = exe;
    char* argv[] = {arg0.data(), nullptr};
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error(std::string("posix_spawn: ") + std::strerror(rc));
    pids.push_back(pid);
    logs.push_back(log);
  }

  std::vector<RankResult> results(pids.size());
  std::vector<bool> done(pids.size(), false);
  const auto until = std::chrono::steady_clock::now() + deadline;
  size_t remaining = pids.size();
  while (remaining > 0) {
    for (size_t i = 0; i < pids.size(); ++i) {
      if (done[i]) continue;
      int status = 0;
      if (::waitpid(pids[i], &status, WNOHANG) == pids[i]) {
        done[i] = true;
        --remaining;
        results[i].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
    }
    if (remaining == 0) break;
    if (std::chrono::steady_clock::now() > until) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (done[i]) continue;
        ::kill(pids[i], SIGKILL);
        ::waitpid(pids[i], nullptr, 0);
        results[i].exit_code = -1;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (size_t i = 0; i < pids.size(); ++i) results[i].output = read_file(logs[i]);
  return results;
}

std::vector<RankResult> run_world(const std::string& scenario, int world, const std::string& dir,
                                  const std::map<std::string, std::string>& env) {
  std::vector<int> ranks;
  for (int r = 0; r < world; ++r) ranks.push_back(r);
  return run_ranks(scenario, world, ranks, dir, env);
}

namespace {

/// Failed checks of one rank, printed at the end; the exit code says whether there were any.
struct Checks {
  int64_t rank = 0;
  int failures = 0;
  void expect(bool ok, const std::string& what) {
    if (ok) return;
    ++failures;
    std::cerr << "rank " << rank << ": FAILED " << what << "\n";
  }
};

void write_tensor(const std::string& path, const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(c.data_ptr<double>()),
            static_cast<std::streamsize>(c.numel() * sizeof(double)));
}

/// Every collective on tensors of `device` (CPU: Gloo; CUDA: NCCL), checked against sums known in
/// advance; results are compared on the CPU.
int collectives(Collective& c, Checks& check, torch::Device device) {
  const int64_t r = c.rank(), w = c.world_size();
  const double total = static_cast<double>(w * (w + 1) / 2);  // sum of (rank + 1)
  auto on = [&](const torch::Tensor& t) { return t.to(device); };
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt64}) {
    auto t = on(torch::full({5}, r + 1, torch::TensorOptions().dtype(dtype)));
    c.all_reduce_sum(t);
    check.expect(t.dtype() == dtype && t.device() == device,
                 "all_reduce_sum keeps the dtype and device");
    check.expect(torch::equal(t.cpu(), torch::full({5}, total, t.options().device(torch::kCPU))),
                 std::string("all_reduce_sum of ") + c10::toString(dtype));
  }
  // A non-contiguous view is reduced in place through a contiguous copy.
  auto base = torch::arange(12, torch::kFloat32).reshape({3, 4});
  auto view = on(base * static_cast<double>(r + 1)).t();
  check.expect(!view.is_contiguous(), "the test's view is non-contiguous");
  c.all_reduce_sum(view);
  check.expect(torch::equal(view.cpu(), (base * total).t()), "all_reduce_sum of a transposed view");
  // Gather: rank q contributes q * 100 + [0..5] as [2, 3]; the result is the ranks' blocks in
  // order.
  auto block = [](int64_t q) {
    return (torch::arange(6, torch::kFloat64) + 100.0 * static_cast<double>(q)).reshape({2, 3});
  };
  auto all = c.all_gather_cat(on(block(r)));
  check.expect(all.sizes() == torch::IntArrayRef({2 * w, 3}) && all.device() == device,
               "all_gather_cat's shape and device");
  for (int64_t q = 0; q < w && all.size(0) == 2 * w; ++q) {
    check.expect(torch::equal(all.narrow(0, 2 * q, 2).cpu(), block(q)),
                 "all_gather_cat block of rank " + std::to_string(q));
  }
  auto gathered_int = c.all_gather_cat(on(torch::full({1}, r, torch::kInt64)));
  check.expect(torch::equal(gathered_int.cpu(), torch::arange(w, torch::kInt64)),
               "all_gather_cat of int64");
  // Blocks of different sizes (split_rows of 2w + 1 rows): the whole in rank order.
  const int64_t n = 2 * w + 1;
  const RowBlock mine = split_rows(n, r, w);
  auto rows = gather_rows(on(torch::arange(mine.begin, mine.begin + mine.rows, torch::kInt64)), n, c);
  check.expect(torch::equal(rows.cpu(), torch::arange(n, torch::kInt64)), "gather_rows");
  // Gather with gradient: loss = sum(weights * gathered) on every rank; the gradient reaching
  // rank r's rows is the sum over ranks, w * weights[rows of r].
  auto x = on(torch::full({2, 3}, static_cast<double>(r + 1), torch::kFloat64)).requires_grad_();
  auto weights = on(torch::arange(2 * w * 3, torch::kFloat64).reshape({2 * w, 3}));
  (all_gather_with_grad(x, c) * weights).sum().backward();
  check.expect(x.grad().defined() &&
                   torch::equal(x.grad().cpu(),
                                (weights.narrow(0, 2 * r, 2) * static_cast<double>(w)).cpu()),
               "all_gather_with_grad's gradient");
  // Broadcast: everyone ends with rank 0's values.
  auto b = on(torch::full({4}, static_cast<double>(7 * r + 1), torch::kFloat32));
  c.broadcast(b);
  check.expect(torch::equal(b.cpu(), torch::ones({4}, torch::kFloat32)), "broadcast from rank 0");
  c.barrier();
  return check.failures == 0 ? 0 : 1;
}

int sinkhorn_split(Collective& c, const std::string& out) {
  // The same seeded scores on every rank; each takes its block of rows.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto scores = torch::randn({24, 10}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  const auto local = scores.chunk(c.world_size())[c.rank()].contiguous();
  const auto prefix = out + "/rank" + std::to_string(c.rank());
  write_tensor(prefix + "_reference.bin", sinkhorn(local, 0.05, 3, c));
  write_tensor(prefix + "_fused.bin", sinkhorn_fused_cpu(local, 0.05, 3, c));
  return 0;
}

/// k-means of one seeded [60, 6] float64 matrix (three blobs and scattered points), each rank
/// holding its block of rows (split_rows), for every init and empty-cluster rule; rank r writes
/// its assignments and distances, and rank 0 the centroids and objectives, to
/// SWAV_DIST_OUT/kmeans_<case>_rank<r>.bin.
int kmeans_split(Collective& c, const std::string& out) {
  const auto points = kmeans_test_points();
  const RowBlock mine = split_rows(points.size(0), c.rank(), c.world_size());
  int index = 0;
  for (const auto& [o, unit_rows] : kmeans_test_cases()) {
    const auto x = unit_rows ? torch::nn::functional::normalize(
                                   points, torch::nn::functional::NormalizeFuncOptions().dim(1))
                             : points;
    const auto result = kmeans(x.narrow(0, mine.begin, mine.rows), o, c);
    const auto prefix = out + "/kmeans_" + std::to_string(index++);
    write_tensor(prefix + "_rank" + std::to_string(c.rank()) + ".bin",
                 torch::cat({result.assignments.to(torch::kFloat64), result.distances}));
    write_tensor(prefix + "_centroids_rank" + std::to_string(c.rank()) + ".bin",
                 torch::cat({result.centroids.reshape({-1}),
                             torch::tensor(result.objective, torch::kFloat64),
                             result.counts.to(torch::kFloat64)}));
  }
  return 0;
}

/// A method (SWAV_DIST_METHOD, default swav) on the tiny synthetic set for 2 epochs with a global
/// batch of 16 split over the ranks (multi-crop 2x16 + 2x8; SwAV without a queue, the baselines
/// as tests/baselines configure them); rank 0 writes the epoch losses and every parameter and
/// buffer, flattened, to SWAV_DIST_OUT/<method>_w<world>.bin. SWAV_DIST_SYNC_BN=0 turns SyncBN
/// off.
int method_train(Collective& c, const std::string& out) {
  const char* method_name = std::getenv("SWAV_DIST_METHOD");
  const std::string method_id = method_name ? method_name : "swav";
  auto o = method_id == "swav" ? tiny_experiment() : tiny_baseline(method_id);
  o.train.epochs = 2;
  o.train.batch_size = 16 / c.world_size();
  const char* sync = std::getenv("SWAV_DIST_SYNC_BN");
  o.train.sync_bn = sync == nullptr || std::string(sync) != "0";
  // Optional: a queue (SWAV_DIST_QUEUE rows in all), a checkpoint file, and a stop after some
  // epochs, for the resume test.
  if (const char* queue = std::getenv("SWAV_DIST_QUEUE")) o.swav.queue_length = std::atol(queue);
  const char* checkpoint = std::getenv("SWAV_DIST_CHECKPOINT");
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(static_cast<uint64_t>(o.train.seed));
  auto method = make_method(o, train.channels(), train.size(), c.world_size());
  Trainer trainer(o, *method, train, checkpoint ? checkpoint : "", c);
  trainer.set_progress(false);
  if (const char* stop = std::getenv("SWAV_DIST_STOP_AFTER")) trainer.stop_after(std::atol(stop));
  const auto summary = trainer.fit();
  if (c.rank() != 0) return 0;
  std::vector<torch::Tensor> parts;
  for (const auto& metrics : summary.epoch_metrics) {
    for (const auto& [name, value] : metrics)
      if (name == "loss") parts.push_back(torch::tensor({value}, torch::kFloat64));
  }
  for (const auto& p : method->module().parameters()) parts.push_back(p.detach().reshape({-1}));
  for (const auto& b : method->module().buffers())
    if (b.defined() && b.is_floating_point()) parts.push_back(b.detach().reshape({-1}));
  std::vector<torch::Tensor> as_double;
  for (const auto& t : parts) as_double.push_back(t.to(torch::kFloat64));
  write_tensor(out + "/" + method_id + "_w" + std::to_string(c.world_size()) + ".bin",
               torch::cat(as_double));
  return 0;
}

}  // namespace

torch::Tensor kmeans_test_points() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  std::vector<torch::Tensor> parts;
  for (int b = 0; b < 3; ++b) {
    auto centre = torch::randn({1, 6}, gen, f64) * 4;
    parts.push_back(centre + 0.3 * torch::randn({15, 6}, gen, f64));
  }
  parts.push_back(torch::randn({5, 6}, gen, f64) * 3);
  parts.push_back(torch::randn({1, 6}, gen, f64).expand({10, 6}));
  // Interleaved so that every rank's block holds some of each.
  auto x = torch::cat(parts);
  return x.index_select(0, torch::randperm(x.size(0), gen, f64.dtype(torch::kLong))).contiguous();
}

std::vector<KMeansCase> kmeans_test_cases() {
  std::vector<KMeansCase> cases;
  auto add = [&](int64_t k, KMeansMetric metric, KMeansInit init, KMeansEmpty empty,
                 int64_t restarts, bool unit_rows) {
    KMeansOptions o(k);
    o.iterations = 6;
    o.metric = metric;
    o.init = init;
    o.empty = empty;
    o.restarts = restarts;
    o.seed = 100 + cases.size();
    o.chunk_rows = 7;
    cases.push_back({o, unit_rows});
  };
  add(12, KMeansMetric::kEuclidean, KMeansInit::kRandom, KMeansEmpty::kFarthest, 1, false);
  add(6, KMeansMetric::kEuclidean, KMeansInit::kPlusPlus, KMeansEmpty::kFarthest, 3, false);
  add(8, KMeansMetric::kCosine, KMeansInit::kRandom, KMeansEmpty::kKeep, 1, true);
  add(5, KMeansMetric::kCosine, KMeansInit::kPlusPlus, KMeansEmpty::kKeep, 2, true);
  return cases;
}

int run_rank_scenario(const std::string& scenario) {
  try {
    const auto launch = read_launch_environment();
    const char* timeout_ms = std::getenv("SWAV_DIST_TIMEOUT_MS");
    const auto timeout = std::chrono::milliseconds(timeout_ms ? std::atol(timeout_ms) : 30000);
    const char* collective_ms = std::getenv("SWAV_DIST_COLLECTIVE_TIMEOUT_MS");
    const auto collective_timeout =
        std::chrono::milliseconds(collective_ms ? std::atol(collective_ms) : 60000);
    auto collective = connect_process_group(launch, timeout, collective_timeout);
    Checks check{collective->rank()};
    check.expect(collective->rank() == launch.rank, "rank() is RANK");
    check.expect(collective->world_size() == launch.world_size, "world_size() is WORLD_SIZE");
    const char* out = std::getenv("SWAV_DIST_OUT");
    int rc = 0;
    if (scenario == "collectives") {
      // SWAV_DIST_DEVICE=cuda: the same on this rank's GPU (LOCAL_RANK), through NCCL.
      const char* device = std::getenv("SWAV_DIST_DEVICE");
      const bool cuda = device != nullptr && std::string(device) == "cuda";
      rc = collectives(*collective, check,
                       cuda ? torch::Device(torch::kCUDA,
                                            static_cast<c10::DeviceIndex>(launch.local_rank))
                            : torch::Device(torch::kCPU));
    } else if (scenario == "sinkhorn") {
      rc = sinkhorn_split(*collective, out ? out : ".");
    } else if (scenario == "method_train") {
      rc = method_train(*collective, out ? out : ".");
    } else if (scenario == "kmeans") {
      rc = kmeans_split(*collective, out ? out : ".");
    } else if (scenario == "slow_peer") {
      // Rank 1 joins the barrier 4 s late: longer than a short rendezvous timeout, shorter
      // than the collectives' timeout, which is what must apply.
      if (collective->rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(4));
      collective->barrier();
    } else if (scenario == "connect") {
      collective->barrier();
    } else {
      std::cerr << "unknown scenario " << scenario << "\n";
      return 2;
    }
    return check.failures == 0 ? rc : 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace swav::test
