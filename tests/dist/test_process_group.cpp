// The c10d Gloo collective with 2 and 3 real processes on this machine, Sinkhorn split over ranks
// against the whole batch, and the launcher environment: what every multi-process run stands on.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include "dist/ranks.h"
#include "swav/core/sinkhorn.h"
#include "swav/dist/launch.h"
#include "swav/util/error.h"

using Catch::Contains;

namespace {

namespace fs = std::filesystem;

std::string fresh_dir(const std::string& name) {
  const auto dir =
      fs::temp_directory_path() / ("swav_dist_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir.string();
}

torch::Tensor read_doubles(const std::string& path, std::vector<int64_t> shape) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  auto t = torch::empty(shape, torch::kFloat64);
  in.read(reinterpret_cast<char*>(t.data_ptr<double>()),
          static_cast<std::streamsize>(t.numel() * sizeof(double)));
  REQUIRE(in.gcount() == static_cast<std::streamsize>(t.numel() * sizeof(double)));
  return t;
}

torch::Tensor read_all_doubles(const std::string& path) {
  const auto bytes = static_cast<int64_t>(fs::file_size(path));
  return read_doubles(path, {bytes / static_cast<int64_t>(sizeof(double))});
}

void require_all_passed(const std::vector<swav::test::RankResult>& results) {
  for (size_t r = 0; r < results.size(); ++r) {
    INFO("rank " << r << " output:\n" << results[r].output);
    REQUIRE(results[r].exit_code == 0);
  }
}

/// A getenv over a fixed map.
std::function<const char*(const char*)> env_of(const std::map<std::string, std::string>& vars) {
  auto copy = std::make_shared<std::map<std::string, std::string>>(vars);
  return [copy](const char* name) -> const char* {
    auto it = copy->find(name);
    return it == copy->end() ? nullptr : it->second.c_str();
  };
}

std::string launch_error(const std::map<std::string, std::string>& vars) {
  try {
    swav::read_launch_environment(env_of(vars));
  } catch (const swav::UserError& e) {
    return e.what();
  }
  return "no error";
}

/// Trains `method` (the scenario's SWAV_DIST_METHOD) for 2 epochs on 1 process of batch 16 and
/// on 2 processes of batch 8, and checks they train alike: epoch losses within 1e-4, every
/// parameter and buffer within 2e-3 (float rounding grown through 16 steps). Returns the one
/// process's parameters and buffers and the largest difference.
std::pair<torch::Tensor, double> check_two_as_one(const std::string& dir,
                                                  const std::string& method) {
  const std::map<std::string, std::string> env = {{"SWAV_DIST_METHOD", method}};
  require_all_passed(swav::test::run_world("method_train", 1, dir, env));
  require_all_passed(swav::test::run_world("method_train", 2, dir, env));
  const auto one = read_all_doubles(dir + "/" + method + "_w1.bin");
  const auto two = read_all_doubles(dir + "/" + method + "_w2.bin");
  REQUIRE(one.numel() == two.numel());
  const auto losses_one = one.narrow(0, 0, 2), losses_two = two.narrow(0, 0, 2);
  INFO("epoch losses, 1 process: " << losses_one << ", 2 processes: " << losses_two);
  CHECK((losses_one - losses_two).abs().max().item<double>() <= 1e-4);
  const auto state_one = one.narrow(0, 2, one.numel() - 2),
             state_two = two.narrow(0, 2, two.numel() - 2);
  const double max_diff = (state_one - state_two).abs().max().item<double>();
  INFO("max |difference| of parameters and buffers: "
       << max_diff << " (largest value " << state_one.abs().max().item<double>() << ")");
  CHECK(max_diff <= 2e-3);
  return {state_one, max_diff};
}

/// Trains `env`'s method on 2 ranks straight through, then again stopped after one epoch and
/// resumed from the checkpoint `dir`/checkpoint.pt; checks the resumed run ends with the same bits
/// (the second epoch's loss, every parameter and buffer). Returns `env` with the checkpoint set.
std::map<std::string, std::string> check_exact_resume(const std::string& dir,
                                                      std::map<std::string, std::string> env) {
  const auto it = env.find("SWAV_DIST_METHOD");
  const auto out = dir + "/" + (it == env.end() ? "swav" : it->second) + "_w2.bin";
  require_all_passed(swav::test::run_world("method_train", 2, dir, env));
  const auto straight = read_all_doubles(out);
  fs::remove(out);
  env["SWAV_DIST_CHECKPOINT"] = dir + "/checkpoint.pt";
  auto first = env;
  first["SWAV_DIST_STOP_AFTER"] = "1";
  require_all_passed(swav::test::run_world("method_train", 2, dir, first));
  REQUIRE(fs::exists(dir + "/checkpoint.pt"));
  REQUIRE(fs::exists(dir + "/checkpoint.pt.rank1.epoch1"));
  require_all_passed(swav::test::run_world("method_train", 2, dir, env));
  // The resumed call trained (and wrote the loss of) the second epoch only.
  const auto resumed = read_all_doubles(out);
  REQUIRE(resumed.numel() == straight.numel() - 1);
  // The same processes, kernels and reduction order: the same bits.
  CHECK(resumed[0].item<double>() == straight[1].item<double>());
  CHECK(torch::equal(resumed.narrow(0, 1, resumed.numel() - 1),
                     straight.narrow(0, 2, straight.numel() - 2)));
  return env;
}

}  // namespace

TEST_CASE("every Gloo collective over 2 and 3 processes", "[dist][distributed]") {
  for (int world : {2, 3}) {
    INFO("world size " << world);
    const auto dir = fresh_dir("collectives" + std::to_string(world));
    require_all_passed(swav::test::run_world("collectives", world, dir));
    fs::remove_all(dir);
  }
}

TEST_CASE("Sinkhorn over a batch split across 2 and 3 processes equals the whole batch",
          "[dist][distributed][sinkhorn]") {
  // The scenario's scores: the same seeded [24, 10] matrix; rank r holds rows chunk r.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(7);
  const auto scores = torch::randn({24, 10}, gen, torch::TensorOptions().dtype(torch::kFloat32));
  const auto whole_reference = swav::sinkhorn(scores, 0.05, 3).to(torch::kFloat64);
  const auto whole_fused = swav::sinkhorn_fused_cpu(scores, 0.05, 3).to(torch::kFloat64);
  for (int world : {2, 3}) {
    INFO("world size " << world);
    const auto dir = fresh_dir("sinkhorn" + std::to_string(world));
    require_all_passed(swav::test::run_world("sinkhorn", world, dir));
    const int64_t rows = 24 / world;
    for (int r = 0; r < world; ++r) {
      INFO("rank " << r);
      const auto prefix = dir + "/rank" + std::to_string(r);
      const auto reference = read_doubles(prefix + "_reference.bin", {rows, 10});
      const auto fused = read_doubles(prefix + "_fused.bin", {rows, 10});
      // Each rank's codes are its rows of the whole batch's; only float32 rounding of the
      // reductions, which are summed in another order, differs.
      const auto rel = [](const torch::Tensor& a, const torch::Tensor& b) {
        return ((a - b).abs().max() / b.abs().max()).item<double>();
      };
      CHECK(rel(reference, whole_reference.narrow(0, r * rows, rows)) <= 1e-5);
      CHECK(rel(fused, whole_fused.narrow(0, r * rows, rows)) <= 1e-5);
      // Rows still sum to 1 (each sample's codes are a distribution).
      CHECK(torch::allclose(reference.sum(1), torch::ones({rows}, torch::kFloat64), 0, 1e-5));
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("k-means over rows split across 2 and 3 processes equals k-means of all the rows",
          "[dist][distributed][kmeans]") {
  // Every init (random rows, k-means++) and empty-cluster rule (keep, farthest point), restarts
  // included: the draws are over global row numbers, so only the order of float64 sums differs.
  const auto points = swav::test::kmeans_test_points();
  const auto cases = swav::test::kmeans_test_cases();
  for (int world : {2, 3}) {
    INFO("world size " << world);
    const auto dir = fresh_dir("kmeans" + std::to_string(world));
    require_all_passed(swav::test::run_world("kmeans", world, dir));
    for (size_t i = 0; i < cases.size(); ++i) {
      INFO("case " << i);
      const auto& [o, unit_rows] = cases[i];
      const auto x = unit_rows ? torch::nn::functional::normalize(
                                     points, torch::nn::functional::NormalizeFuncOptions().dim(1))
                               : points;
      const auto whole = swav::kmeans(x, o);
      const auto prefix = dir + "/kmeans_" + std::to_string(i);
      std::vector<torch::Tensor> assignments, distances;
      for (int r = 0; r < world; ++r) {
        const int64_t rows = swav::split_rows(x.size(0), r, world).rows;
        const auto mine = read_doubles(prefix + "_rank" + std::to_string(r) + ".bin", {2 * rows});
        assignments.push_back(mine.narrow(0, 0, rows));
        distances.push_back(mine.narrow(0, rows, rows));
        // Every rank ends with the same centroids, objectives and counts.
        const auto summary = read_all_doubles(prefix + "_centroids_rank" + std::to_string(r) + ".bin");
        const auto expected = torch::cat({whole.centroids.reshape({-1}),
                                          torch::tensor(whole.objective, torch::kFloat64),
                                          whole.counts.to(torch::kFloat64)});
        REQUIRE(summary.numel() == expected.numel());
        CHECK((summary - expected).abs().max().item<double>() <= 1e-12);
      }
      CHECK(torch::equal(torch::cat(assignments), whole.assignments.to(torch::kFloat64)));
      CHECK((torch::cat(distances) - whole.distances).abs().max().item<double>() <= 1e-12);
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("SwAV on 2 processes of batch 8 trains as 1 process of batch 16",
          "[dist][distributed][swav]") {
  // Two epochs of 8 steps, multi-crop, synchronised batch norm: the same global batches (the
  // ranks interleave the epoch order), Sinkhorn over both ranks, gradients averaged. Only float
  // rounding differs: batch-norm statistics summed in float64 over both ranks against torch's
  // float32 kernel on one, and sums in another order.
  // Measured: largest difference 4.6e-4 on this CPU's kernels, 2.2e-4 with AVX2 and 2.1e-4 with
  // the default ones forced (ATEN_CPU_CAPABILITY), values up to about 1; differences of about
  // 1e-7 in the first step grow through 16 LARC steps. Without SyncBN the difference is 0.36
  // (below).
  const auto dir = fresh_dir("swav_train");
  const auto [state_one, max_diff] = check_two_as_one(dir, "swav");

  // Without synchronised batch norm each rank normalises its own 8 images: not the same training.
  require_all_passed(swav::test::run_world("method_train", 2, dir, {{"SWAV_DIST_SYNC_BN", "0"}}));
  const auto unsynced = read_all_doubles(dir + "/swav_w2.bin");
  CHECK((unsynced.narrow(0, 2, unsynced.numel() - 2) - state_one).abs().max().item<double>() >
        10 * max_diff);
  fs::remove_all(dir);
}

TEST_CASE("every baseline on 2 processes of batch 8 trains as 1 process of batch 16",
          "[dist][distributed][baselines]") {
  // tests/baselines' tiny configurations for 2 epochs: clustering at every epoch start (PCL from
  // epoch 1), banks and queues filled from every process, SimCLR's negatives gathered with their
  // gradient. Tolerances as for SwAV above: float rounding grown through 16 steps.
  for (const std::string method :
       {"simclr", "deepcluster_v2", "sela_v2", "sela", "deepcluster_v1", "pcl"}) {
    INFO(method);
    const auto dir = fresh_dir("train_" + method);
    check_two_as_one(dir, method);
    fs::remove_all(dir);
  }
}

TEST_CASE("2 processes resumed from their checkpoint end as if never stopped",
          "[dist][distributed][swav][resume]") {
  // With a queue, whose rows are each rank's own: rank 1's part of the checkpoint must carry it.
  const auto dir = fresh_dir("swav_resume");
  const std::string checkpoint = dir + "/checkpoint.pt";
  const auto env = check_exact_resume(dir, {{"SWAV_DIST_QUEUE", "32"}});
  // Only the last epoch's part is kept.
  CHECK(fs::exists(checkpoint + ".rank1.epoch2"));
  CHECK_FALSE(fs::exists(checkpoint + ".rank1.epoch1"));

  // Another number of processes is refused, naming both.
  const auto three = swav::test::run_world("method_train", 3, dir, env);
  INFO(three[0].output);
  CHECK(three[0].exit_code != 0);
  CHECK_THAT(three[0].output, Contains("written by a run of 2 process(es), this run has 3"));
  fs::remove_all(dir);
}

TEST_CASE("baselines with banks and queues on 2 processes resume as if never stopped",
          "[dist][distributed][baselines][resume]") {
  // DeepCluster-v2's bank is split by sample over the ranks (rank 1's block lives in its part of
  // the checkpoint); PCL's queue and its random negatives must carry over on every rank.
  for (const std::string method : {"deepcluster_v2", "pcl"}) {
    INFO(method);
    const auto dir = fresh_dir("resume_" + method);
    check_exact_resume(dir, {{"SWAV_DIST_METHOD", method}});
    fs::remove_all(dir);
  }
}

TEST_CASE("collectives wait for the collective timeout, not the rendezvous timeout",
          "[dist][distributed]") {
  const auto dir = fresh_dir("slow_peer");
  require_all_passed(swav::test::run_world(
      "slow_peer", 2, dir,
      {{"SWAV_DIST_TIMEOUT_MS", "2000"}, {"SWAV_DIST_COLLECTIVE_TIMEOUT_MS", "20000"}}));
  // And with a collective timeout shorter than the delay, rank 0 gives up.
  const auto results = swav::test::run_world(
      "slow_peer", 2, dir,
      {{"SWAV_DIST_TIMEOUT_MS", "2000"}, {"SWAV_DIST_COLLECTIVE_TIMEOUT_MS", "1000"}});
  INFO(results[0].output);
  CHECK(results[0].exit_code == 3);
  fs::remove_all(dir);
}

TEST_CASE("a rank whose master never answers fails in time and names the address",
          "[dist][distributed]") {
  // Rank 1 of 2 alone: nobody serves the store.
  const auto dir = fresh_dir("no_master");
  // Rendezvous timeout 2 s; the collectives' 60 s must not stretch the rendezvous.
  const auto start = std::chrono::steady_clock::now();
  const auto results = swav::test::run_ranks(
      "connect", 2, {1}, dir, {{"SWAV_DIST_TIMEOUT_MS", "2000"}}, std::chrono::seconds(30));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  REQUIRE(results.size() == 1);
  INFO(results[0].output);
  CHECK(results[0].exit_code == 3);
  CHECK_THAT(results[0].output,
             Contains("MASTER_ADDR=127.0.0.1") && Contains("MASTER_PORT=") && Contains("rank 1"));
  fs::remove_all(dir);
}

TEST_CASE("a rank that never arrives stops the others in time", "[dist][distributed]") {
  // Rank 0 of 2 alone: it serves the store, but rank 1 never joins.
  const auto dir = fresh_dir("missing_rank");
  // Rendezvous timeout 2 s; the collectives' 60 s must not stretch the rendezvous.
  const auto start = std::chrono::steady_clock::now();
  const auto results = swav::test::run_ranks(
      "connect", 2, {0}, dir, {{"SWAV_DIST_TIMEOUT_MS", "2000"}}, std::chrono::seconds(30));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(20));
  REQUIRE(results.size() == 1);
  INFO(results[0].output);
  CHECK(results[0].exit_code == 3);
  CHECK_THAT(results[0].output, Contains("WORLD_SIZE=2") && Contains("MASTER_PORT="));
  fs::remove_all(dir);
}

TEST_CASE("the launcher's environment is read and checked", "[dist][launch]") {
  SECTION("no launcher: one process") {
    const auto info = swav::read_launch_environment(env_of({}));
    CHECK(info.launcher == "none");
    CHECK(info.world_size == 1);
    CHECK_FALSE(info.distributed());
  }
  SECTION("torchrun") {
    const auto info =
        swav::read_launch_environment(env_of({{"RANK", "5"},
                                              {"WORLD_SIZE", "8"},
                                              {"LOCAL_RANK", "1"},
                                              {"LOCAL_WORLD_SIZE", "4"},
                                              {"MASTER_ADDR", "node7"},
                                              {"MASTER_PORT", "29400"},
                                              {"TORCHELASTIC_USE_AGENT_STORE", "True"}}));
    CHECK(info.launcher == "torchrun");
    CHECK(info.rank == 5);
    CHECK(info.world_size == 8);
    CHECK(info.local_rank == 1);
    CHECK(info.local_world_size == 4);
    CHECK(info.master_addr == "node7");
    CHECK(info.master_port == 29400);
    CHECK(info.agent_store);
  }
  SECTION("SLURM") {
    const auto info = swav::read_launch_environment(env_of({{"SLURM_PROCID", "6"},
                                                            {"SLURM_NTASKS", "8"},
                                                            {"SLURM_LOCALID", "2"},
                                                            {"SLURM_TASKS_PER_NODE", "4(x2)"},
                                                            {"SLURM_JOB_NODELIST", "gpu[03-04]"}}));
    CHECK(info.launcher == "slurm");
    CHECK(info.rank == 6);
    CHECK(info.world_size == 8);
    CHECK(info.local_rank == 2);
    CHECK(info.local_world_size == 4);
    CHECK(info.master_addr == "gpu03");
    CHECK(info.master_port == 29500);
    CHECK_FALSE(info.agent_store);
  }
  SECTION("SLURM node lists") {
    CHECK(swav::first_slurm_host("node[03-05,09],gpu1") == "node03");
    CHECK(swav::first_slurm_host("a,b") == "a");
    CHECK(swav::first_slurm_host("host") == "host");
    CHECK(swav::first_slurm_host("rack1-n[7,9]-ib") == "rack1-n7-ib");
    CHECK_THROWS_AS(swav::first_slurm_host("node[03"), swav::UserError);
    CHECK_THROWS_AS(swav::first_slurm_host(""), swav::UserError);
  }
  SECTION("bad values name their variable") {
    const std::map<std::string, std::string> ok = {
        {"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
    auto with = [&](const std::string& k, const std::string& v) {
      auto m = ok;
      if (v.empty())
        m.erase(k);
      else
        m[k] = v;
      return launch_error(m);
    };
    CHECK(launch_error(ok) == "no error");
    CHECK_THAT(with("RANK", "2"), Contains("RANK=2") && Contains("[0, 2)"));
    CHECK_THAT(with("RANK", "-1"), Contains("RANK=-1"));
    CHECK_THAT(with("RANK", "one"), Contains("RANK=one") && Contains("expected"));
    CHECK_THAT(with("WORLD_SIZE", "0"), Contains("WORLD_SIZE=0"));
    CHECK_THAT(with("WORLD_SIZE", ""), Contains("WORLD_SIZE is not set"));
    CHECK_THAT(with("MASTER_ADDR", ""), Contains("MASTER_ADDR is not set"));
    CHECK_THAT(with("MASTER_PORT", "70000"), Contains("MASTER_PORT=70000"));
    CHECK_THAT(with("MASTER_PORT", "80a"), Contains("MASTER_PORT=80a"));
    CHECK_THAT(
        launch_error({{"SLURM_PROCID", "3"}, {"SLURM_NTASKS", "2"}, {"SLURM_JOB_NODELIST", "n1"}}),
        Contains("SLURM_PROCID=3") && Contains("SLURM_NTASKS=2"));
    CHECK_THAT(launch_error({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}}),
               Contains("SLURM_JOB_NODELIST is not set"));
  }
}
