// Sinkhorn: the fused implementations beside the op-by-op reference, in the same run. The counters
// give both times per call and speedup = reference / fused (a ratio survives a noisy machine).
// On CUDA, the fused path's achieved bandwidth is also given as a share of the measured copy
// bandwidth. build/bin/bench_sinkhorn [--benchmark_filter=Cpu|Cuda] [--benchmark_min_time=0.5]
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>
#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "swav/core/sinkhorn.h"

#ifdef SWAV_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#endif

namespace {

constexpr double kEpsilon = 0.05;
constexpr int64_t kIterations = 3;

torch::Tensor cosine_scores(int64_t B, int64_t K, torch::Device device, uint64_t seed = 1234) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  namespace F = torch::nn::functional;
  auto z = F::normalize(at::randn({B, 128}, gen), F::NormalizeFuncOptions().dim(1));
  auto c = F::normalize(at::randn({K, 128}, gen), F::NormalizeFuncOptions().dim(1));
  return torch::mm(z, c.t()).to(device);
}

// Both paths' times per call and speedup = reference / fused, from their totals over n calls.
void time_counters(benchmark::State& state, double reference_s, double fused_s, double n) {
  state.counters["reference_ms"] = 1e3 * reference_s / n;
  state.counters["fused_ms"] = 1e3 * fused_s / n;
  state.counters["speedup"] = reference_s / fused_s;
}

// The fused path's achieved bandwidth, `moved` bytes per call over its time per call (fused_ms),
// and its share of the device's copy bandwidth `copy` (bytes read + written per second).
void bandwidth_counters(benchmark::State& state, double moved, double copy) {
  const double per_call_s = state.counters["fused_ms"] * 1e-3;
  state.counters["fused_GBps"] = moved / per_call_s * 1e-9;
  state.counters["copy_GBps"] = copy * 1e-9;
  state.counters["of_copy_bw"] = moved / per_call_s / copy;
}

// Times `reference` and `fused` alternately, one call each per benchmark iteration; the benchmark's
// own time is the fused call's (manual time).
void compare(benchmark::State& state, const std::function<torch::Tensor()>& reference,
             const std::function<torch::Tensor()>& fused, const std::function<void()>& sync) {
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  benchmark::DoNotOptimize(reference());  // warm-up: allocator, threads, kernels
  benchmark::DoNotOptimize(fused());
  sync();
  double reference_s = 0, fused_s = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    auto r = reference();
    sync();
    auto t1 = Clock::now();
    auto f = fused();
    sync();
    auto t2 = Clock::now();
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(f);
    reference_s += seconds(t1 - t0);
    fused_s += seconds(t2 - t1);
    state.SetIterationTime(seconds(t2 - t1));
  }
  time_counters(state, reference_s, fused_s, static_cast<double>(state.iterations()));
}

// The CPU's copy bandwidth (bytes read + written per second): the best of five copies of a
// 512 MiB tensor on LibTorch's intra-op threads, the roof of the CPU passes.
double cpu_copy_bandwidth() {
  static double measured = 0;
  if (measured > 0) return measured;
  using Clock = std::chrono::steady_clock;
  const int64_t n = int64_t{1} << 27;  // floats: 512 MiB
  auto src = torch::rand({n}), dst = torch::empty_like(src);
  dst.copy_(src);
  double best = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = Clock::now();
    dst.copy_(src);
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  measured = 2.0 * 4.0 * static_cast<double>(n) / best;
  return measured;
}

// CPU: the fused path's passes move iterations + 3 times the scores' bytes (S read and E written,
// iterations - 1 reads of E, E read and the codes written in place); the share of the copy
// bandwidth is meaningful once B x K no longer fits in the caches (B = 65536).
void BM_SinkhornCpu(benchmark::State& state) {
  const int64_t B = state.range(0), K = state.range(1);
  auto scores = cosine_scores(B, K, torch::kCPU);
  compare(
      state, [&] { return swav::sinkhorn(scores, kEpsilon, kIterations); },
      [&] { return swav::sinkhorn_fused_cpu(scores, kEpsilon, kIterations); }, [] {});
  const double moved = 4.0 * static_cast<double>(B * K) * static_cast<double>(kIterations + 3);
  bandwidth_counters(state, moved, cpu_copy_bandwidth());
}

#ifdef SWAV_WITH_CUDA
// Seconds per call of f on the current stream: `calls` back-to-back calls between two CUDA events
// (so the host's launch cost counts when it is the bottleneck, as it is in training).
double cuda_seconds(const std::function<void(int)>& f, int calls) {
  at::cuda::CUDAEvent start(cudaEventDefault), stop(cudaEventDefault);
  start.record();
  for (int i = 0; i < calls; ++i) f(i);
  stop.record();
  stop.synchronize();
  return start.elapsed_time(stop) * 1e-3 / calls;
}

// The device's copy bandwidth (bytes read + written per second) for a 1 GiB device-to-device
// copy: the roof the Sinkhorn passes are compared with.
double copy_bandwidth() {
  static double measured = 0;
  if (measured > 0) return measured;
  const int64_t n = int64_t{1} << 28;  // floats: 1 GiB
  auto src = torch::rand({n}, torch::kCUDA), dst = torch::empty_like(src);
  dst.copy_(src);
  double best = 1e9;
  for (int rep = 0; rep < 10; ++rep)
    best = std::min(best, cuda_seconds([&](int) { dst.copy_(src); }, 1));
  measured = 2.0 * 4.0 * static_cast<double>(n) / best;
  return measured;
}

// GPU: fused vs reference, each timed over the same rotating set of inputs (together over 128 MB,
// more than the L2 cache, so no call reads its input from a warm cache unless it is tiny).
// Counters: both times, speedup, and the fused path's achieved bandwidth (the bytes its passes
// move: iterations + 1 reads of S and one write of the codes) as a share of the copy bandwidth.
void BM_SinkhornCuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  const int64_t B = state.range(0), K = state.range(1);
  const double bytes = 4.0 * static_cast<double>(B * K);
  const int copies = static_cast<int>(std::clamp<double>(128e6 / bytes, 1, 16));
  std::vector<torch::Tensor> inputs;
  for (int i = 0; i < copies; ++i) inputs.push_back(cosine_scores(B, K, torch::kCUDA, 1234 + i));
  const int calls = static_cast<int>(std::clamp<double>(4e9 / bytes, 2, 200));
  auto reference = [&](int i) {
    benchmark::DoNotOptimize(swav::sinkhorn(inputs[i % copies], kEpsilon, kIterations));
  };
  auto fused = [&](int i) {
    benchmark::DoNotOptimize(swav::sinkhorn_fused_cuda(inputs[i % copies], kEpsilon, kIterations));
  };
  cuda_seconds(reference, 2);  // warm-up: allocator, kernels
  cuda_seconds(fused, 2);
  double reference_s = 0, fused_s = 0;
  for (auto _ : state) {
    const double r = cuda_seconds(reference, calls), f = cuda_seconds(fused, calls);
    reference_s += r;
    fused_s += f;
    state.SetIterationTime(f);
  }
  time_counters(state, reference_s, fused_s, static_cast<double>(state.iterations()));
  bandwidth_counters(state, bytes * static_cast<double>(kIterations + 2), copy_bandwidth());
}
#endif

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "K"})
      ->ArgsProduct({{256, 1024, 4096, 65536}, {300, 3000}})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_SinkhornCpu)->Apply(shapes);
#ifdef SWAV_WITH_CUDA
BENCHMARK(BM_SinkhornCuda)->Apply(shapes);
#endif

int main(int argc, char** argv) {
#ifdef M_TRIM_THRESHOLD
  // Whether a freed block goes back to the kernel (so that the next allocation page-faults and
  // zeroes fresh pages) depends on glibc's history of allocations, which made the CPU ratio at
  // B = 256, K = 3000 swing between 2.3x and 4.5x from one run to the next. Freed memory stays in
  // the heap here (blocks up to 32 MiB, glibc's largest heap threshold), so both paths are
  // compared on their arithmetic; larger outputs get fresh pages on both paths.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
