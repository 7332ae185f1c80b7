// NCCL behind the Collective interface, on the GPUs there are: one rank over a real store on one
// GPU, and the multi-process collectives on two GPUs where a machine has them. Tagged [gpu]
// (skipped, visibly, without a device).
#include <catch2/catch.hpp>

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <unistd.h>

#include <filesystem>

#include "dist/ranks.h"
#include "swav/dist/nccl.h"
#include "swav/dist/spawn.h"

namespace {

#define SWAV_REQUIRE_CUDA_DEVICES(n)                                         \
  do {                                                                       \
    if (!torch::cuda::is_available() ||                                      \
        static_cast<int>(torch::cuda::device_count()) < (n)) {               \
      WARN("fewer than " << (n) << " CUDA device(s): skipped");              \
      return;                                                                \
    }                                                                        \
  } while (false)

}  // namespace

TEST_CASE("NCCL collectives of one rank on the GPU", "[gpu][nccl]") {
#ifdef SWAV_WITH_CUDA
  CHECK(swav::nccl_built());  // a CUDA build has NCCL too
#endif
  SWAV_REQUIRE_CUDA_DEVICES(1);
  c10d::TCPStoreOptions options;
  options.port = static_cast<std::uint16_t>(swav::free_local_port());
  options.isServer = true;
  options.numWorkers = 1;
  auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);
  auto c = swav::make_nccl_collective(store, 0, 1, 0, std::chrono::seconds(60));
  REQUIRE(c->world_size() == 1);
  const auto cuda = torch::Device(torch::kCUDA, 0);
  for (auto dtype : {torch::kFloat32, torch::kFloat64, torch::kInt64}) {
    auto t = torch::arange(6, torch::TensorOptions().dtype(dtype).device(cuda));
    const auto before = t.clone();
    c->all_reduce_sum(t);
    CHECK(torch::equal(t, before));
    CHECK(torch::equal(c->all_gather_cat(t), before));
    c->broadcast(t);
    CHECK(torch::equal(t, before));
  }
  // A CPU tensor goes through the GPU and comes back to the CPU.
  auto cpu = torch::ones({3}, torch::kFloat32);
  c->all_reduce_sum(cpu);
  CHECK(cpu.device().is_cpu());
  CHECK(torch::equal(cpu, torch::ones({3}, torch::kFloat32)));
  c->barrier();
}

TEST_CASE("every collective over 2 processes on 2 GPUs through NCCL", "[gpu][nccl]") {
  SWAV_REQUIRE_CUDA_DEVICES(2);
  const auto dir = std::filesystem::temp_directory_path() /
                   ("swav_nccl_collectives_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto results =
      swav::test::run_world("collectives", 2, dir.string(), {{"SWAV_DIST_DEVICE", "cuda"}});
  for (size_t r = 0; r < results.size(); ++r) {
    INFO("rank " << r << " output:\n" << results[r].output);
    CHECK(results[r].exit_code == 0);
  }
  std::filesystem::remove_all(dir);
}
