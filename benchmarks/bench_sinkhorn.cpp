// Sinkhorn: the fused implementations beside the op-by-op reference, in the same run. The counters
// give both times per call and speedup = reference / fused (a ratio survives a noisy machine).
//   build/bin/bench_sinkhorn [--benchmark_filter=Cpu] [--benchmark_min_time=0.5s]
#include <ATen/CPUGeneratorImpl.h>
#include <benchmark/benchmark.h>

#include <chrono>
#include <functional>

#include "swav/core/sinkhorn.h"

namespace {

constexpr double kEpsilon = 0.05;
constexpr int64_t kIterations = 3;

torch::Tensor cosine_scores(int64_t B, int64_t K, torch::Device device) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1234);
  namespace F = torch::nn::functional;
  auto z = F::normalize(at::randn({B, 128}, gen), F::NormalizeFuncOptions().dim(1));
  auto c = F::normalize(at::randn({K, 128}, gen), F::NormalizeFuncOptions().dim(1));
  return torch::mm(z, c.t()).to(device);
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
  const double n = static_cast<double>(state.iterations());
  state.counters["reference_ms"] = 1e3 * reference_s / n;
  state.counters["fused_ms"] = 1e3 * fused_s / n;
  state.counters["speedup"] = reference_s / fused_s;
}

void BM_SinkhornCpu(benchmark::State& state) {
  auto scores = cosine_scores(state.range(0), state.range(1), torch::kCPU);
  compare(
      state, [&] { return swav::sinkhorn(scores, kEpsilon, kIterations); },
      [&] { return swav::sinkhorn_fused_cpu(scores, kEpsilon, kIterations); }, [] {});
}

#ifdef SWAV_WITH_CUDA
void BM_SinkhornCuda(benchmark::State& state) {
  if (!torch::cuda::is_available()) {
    state.SkipWithError("no CUDA device");
    return;
  }
  auto scores = cosine_scores(state.range(0), state.range(1), torch::kCUDA);
  compare(
      state, [&] { return swav::sinkhorn(scores, kEpsilon, kIterations); },
      [&] { return swav::sinkhorn_fused_cuda(scores, kEpsilon, kIterations); },
      [] { torch::cuda::synchronize(); });
}
#endif

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "K"})
      ->ArgsProduct({{256, 1024, 4096}, {300, 3000}})
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_SinkhornCpu)->Apply(shapes);
#ifdef SWAV_WITH_CUDA
BENCHMARK(BM_SinkhornCuda)->Apply(shapes);
#endif

BENCHMARK_MAIN();
