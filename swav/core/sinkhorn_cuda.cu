// Fused CUDA Sinkhorn: the equations of sinkhorn() on the [B_local, K] row-major layout, no
// transposes.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

#include <cooperative_groups.h>

#include <cmath>
#include <limits>

#include "swav/core/sinkhorn.h"

namespace swav {

namespace {

constexpr int kThreads = 256;   // threads per block; column kernels: one prototype per thread
constexpr int kChunkRows = 32;  // rows per block in the column kernels (one partial sum each)
constexpr int kWarp = 32;

// Q = exp((S - *max) / eps); partial[chunk, k] = sum of Q[b, k] over the chunk's rows.
__global__ void exp_with_partials(const float* __restrict__ S, const float* __restrict__ max,
                                  float eps, int64_t rows, int64_t K, float* __restrict__ Q,
                                  float* __restrict__ partial) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= K) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kChunkRows;
  const int64_t r1 = r0 + kChunkRows < rows ? r0 + kChunkRows : rows;
  const float m = *max;
  float sum = 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float e = expf((S[r * K + k] - m) / eps);
    Q[r * K + k] = e;
    sum += e;
  }
  partial[blockIdx.y * K + k] = sum;
}

// sums[k] = sum over chunks of partial[chunk, k], in chunk order (deterministic, float64).
__global__ void reduce_partials(const float* __restrict__ partial, int64_t chunks, int64_t K,
                                double* __restrict__ sums) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= K) return;
  double s = 0.0;
  for (int64_t c = 0; c < chunks; ++c) s += partial[c * K + k];
  sums[k] = s;
}

// a[k] = 1 / (K * sums[k]): dividing a prototype's row by its (all-reduced) sum, then by K.
__global__ void prototype_scales(const double* __restrict__ sums, int64_t K,
                                 float* __restrict__ a) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= K) return;
  a[k] = static_cast<float>(1.0 / (static_cast<double>(K) * sums[k]));
}

// c[b] = sum_k Q[b, k] * a[k]: one warp per row, coalesced along k.
__global__ void row_scaled_sums(const float* __restrict__ Q, const float* __restrict__ a,
                                int64_t rows, int64_t K, float* __restrict__ c) {
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (r >= rows) return;  // the whole warp leaves together
  float acc = 0.0f;
  for (int64_t k = lane; k < K; k += kWarp) acc += Q[r * K + k] * a[k];
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    acc += __shfl_down_sync(0xffffffffu, acc, offset);
  if (lane == 0) c[r] = acc;
}

// Q[b, k] <- Q[b, k] * a[k] / (col_factor * c[b]); partial[chunk, k] = the chunk's new column sums
// (skipped when partial is null, in the last iteration).
__global__ void scale_with_partials(float* __restrict__ Q, const float* __restrict__ a,
                                    const float* __restrict__ c, float col_factor, int64_t rows,
                                    int64_t K, float* __restrict__ partial) {
  const int64_t k = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= K) return;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * kChunkRows;
  const int64_t r1 = r0 + kChunkRows < rows ? r0 + kChunkRows : rows;
  const float ak = a[k];
  float sum = 0.0f;
  for (int64_t r = r0; r < r1; ++r) {
    const float col = 1.0f / (col_factor * c[r]);
    const float q = Q[r * K + k] * ak * col;
    Q[r * K + k] = q;
    sum += q;
  }
  if (partial != nullptr) partial[blockIdx.y * K + k] = sum;
}

unsigned blocks_for(int64_t n, int64_t per_block) {
  return static_cast<unsigned>((n + per_block - 1) / per_block);
}

// The multi-kernel path: any K, any iteration count, and an all-reduce of the K-vector between
// kernels for multi-process runs.
torch::Tensor sinkhorn_multi_kernel(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                    Collective& collective) {
  TORCH_CHECK(scores.is_cuda(), "sinkhorn_fused_cuda: scores must be a CUDA tensor, got ",
              scores.device());
  TORCH_CHECK(scores.dim() == 2 && scores.numel() > 0,
              "sinkhorn_fused_cuda: scores must be a non-empty [B, K], got ", scores.sizes());
  TORCH_CHECK(scores.is_floating_point(), "sinkhorn_fused_cuda: scores must be floating point");
  TORCH_CHECK(epsilon > 0 && iterations >= 0,
              "sinkhorn_fused_cuda: need epsilon > 0 and iterations >= 0");
  torch::NoGradGuard no_grad;
  const c10::cuda::CUDAGuard device_guard(scores.device());
  auto S = scores.detach().to(torch::kFloat32).contiguous();
  const int64_t rows = S.size(0), K = S.size(1);
  const int64_t B = total_rows(rows, collective);
  const int64_t chunks = (rows + kChunkRows - 1) / kChunkRows;
  TORCH_CHECK(chunks <= 65535, "sinkhorn_fused_cuda: at most ", 65535 * kChunkRows, " rows, got ",
              rows);

  // Global max over every process (see sinkhorn()); stays on the device, no host synchronisation.
  auto max = S.max().reshape({1});
  if (collective.world_size() > 1) max = collective.all_gather_cat(max).max().reshape({1});

  const auto f32 = S.options();
  auto Q = torch::empty({rows, K}, f32);
  auto partial = torch::empty({chunks, K}, f32);
  auto sums = torch::empty({K}, f32.dtype(torch::kFloat64));
  auto a = torch::empty({K}, f32);
  auto c = torch::empty({rows}, f32);
  auto stream = at::cuda::getCurrentCUDAStream();
  const dim3 column_grid(blocks_for(K, kThreads), static_cast<unsigned>(chunks));
  const unsigned k_blocks = blocks_for(K, kThreads);
  const unsigned row_blocks = blocks_for(rows, kThreads / kWarp);

  exp_with_partials<<<column_grid, kThreads, 0, stream>>>(
      S.data_ptr<float>(), max.data_ptr<float>(), static_cast<float>(epsilon), rows, K,
      Q.data_ptr<float>(), partial.data_ptr<float>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  reduce_partials<<<k_blocks, kThreads, 0, stream>>>(partial.data_ptr<float>(), chunks, K,
                                                     sums.data_ptr<double>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  collective.all_reduce_sum(sums);

  if (iterations == 0) return Q.mul_(static_cast<double>(B)).div_(sums.sum());

  // As in sinkhorn_fused_cpu: the division by the total is cancelled by the first row
  // normalisation.
  for (int64_t it = 0; it < iterations; ++it) {
    const bool last = it + 1 == iterations;
    prototype_scales<<<k_blocks, kThreads, 0, stream>>>(sums.data_ptr<double>(), K,
                                                        a.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    row_scaled_sums<<<row_blocks, kThreads, 0, stream>>>(Q.data_ptr<float>(), a.data_ptr<float>(),
                                                         rows, K, c.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    // The last iteration folds the final * B into the column division.
    scale_with_partials<<<column_grid, kThreads, 0, stream>>>(
        Q.data_ptr<float>(), a.data_ptr<float>(), c.data_ptr<float>(),
        last ? 1.0f : static_cast<float>(B), rows, K, last ? nullptr : partial.data_ptr<float>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (!last) {
      reduce_partials<<<k_blocks, kThreads, 0, stream>>>(partial.data_ptr<float>(), chunks, K,
                                                         sums.data_ptr<double>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      collective.all_reduce_sum(sums);
    }
  }
  return Q;
}

// ---------------------------------------------------------------------------------------------
// The single-launch path (one process, 1 <= iterations, K <= kMaxPerThread * kPassThreads).
//
// Writing E = exp((S - M) / eps) (M the global max), every Sinkhorn iterate is
// Q[b, k] = E[b, k] u[k] v[b] for two scale vectors, and the equations of sinkhorn() become
//   u_1[k] = 1 / (K sum_b E[b, k])                                       (the total cancels)
//   v_t[b] = 1 / (B sum_k E[b, k] u_t[k]),   u_{t+1}[k] = 1 / (K sum_b E[b, k] v_t[b])
//   codes[b, k] = B E u_L[k] v_L[b] = E[b, k] u_L[k] / sum_k' E[b, k'] u_L[k'].
// So iterations + 1 passes over S suffice, each reading S once and recomputing E (recomputing exp
// is cheaper than storing and re-reading E), and only the last pass writes: for B = 65536,
// K = 3000 that is 4 reads and 1 write of 786 MB, against about 20 full passes for the op-by-op
// version. Each pass gives every block a strided set of rows; a thread owns the columns
// k = threadIdx.x + j * kPassThreads (j < PerThread) and keeps their u[k] and its per-prototype
// partial sums in registers, so the only cross-thread step per row is one block reduction. The
// passes are separated by grid-wide barriers of one cooperative launch: after each pass, block i
// reduces (in block order, in float64: deterministic on a given GPU) the partial sums of its slice
// of prototypes into u, and a second barrier publishes u.
// The first pass also finds M without an extra read: each block keeps a running max, rescaling
// its partial sums when a row raises it, and the reduction rescales every block's sums to M.

namespace cg = cooperative_groups;

constexpr int kPassThreads = 256;
constexpr int kPassWarps = kPassThreads / kWarp;
constexpr int kRowsPerStep = 2;    // rows a block handles together (memory-level parallelism)
constexpr int kMaxPerThread = 32;  // K <= 8192

struct PassArgs {
  const float* S;
  float* out;
  float* partial;    // [grid, K]
  float* block_max;  // [grid]
  float* u;          // [K]
  float* max;        // [1]: M
  int64_t rows, K;
  float eps;
  float log2e_over_eps;
  double B;
  int iterations;
};

// Sums (or maxes) kRowsPerStep values over the block; every thread gets the results. Two shared
// buffers used alternately make one barrier per reduction enough.
template <bool Max>
__device__ void block_reduce(float (&v)[kRowsPerStep], float (*buffer)[kRowsPerStep][kPassWarps],
                             int& parity) {
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
#pragma unroll
  for (int r = 0; r < kRowsPerStep; ++r) {
#pragma unroll
    for (int offset = kWarp / 2; offset > 0; offset /= 2) {
      const float other = __shfl_xor_sync(0xffffffffu, v[r], offset);
      v[r] = Max ? fmaxf(v[r], other) : v[r] + other;
    }
    if (lane == 0) buffer[parity][r][warp] = v[r];
  }
  __syncthreads();
#pragma unroll
  for (int r = 0; r < kRowsPerStep; ++r) {
    float acc = buffer[parity][r][0];
    for (int w = 1; w < kPassWarps; ++w)
      acc = Max ? fmaxf(acc, buffer[parity][r][w]) : acc + buffer[parity][r][w];
    v[r] = acc;
  }
  parity ^= 1;
}

// Two resident blocks per SM where the registers allow it (more loads in flight per SM).
template <int PerThread>
__global__ void __launch_bounds__(kPassThreads, PerThread <= 12 ? 2 : 1)
    sinkhorn_cooperative(PassArgs a) {
  __shared__ float buffer[2][kRowsPerStep][kPassWarps];
  __shared__ float shared_max;
  cg::grid_group grid = cg::this_grid();
  const int64_t K = a.K, rows = a.rows;
  const int64_t groups = (rows + kRowsPerStep - 1) / kRowsPerStep;
  const float neg_inf = -std::numeric_limits<float>::infinity();
  int parity = 0;
  float acc[PerThread];
  float u[PerThread];

  // Pass 1: per-prototype sums of exp((s - m) / eps) with a running block max m.
  float m = neg_inf;
#pragma unroll
  for (int j = 0; j < PerThread; ++j) acc[j] = 0.0f;
  for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
    float s[kRowsPerStep][PerThread];
    float row_max[kRowsPerStep];
#pragma unroll
    for (int r = 0; r < kRowsPerStep; ++r) {
      const int64_t b = g * kRowsPerStep + r;
      row_max[r] = neg_inf;
#pragma unroll
      for (int j = 0; j < PerThread; ++j) {
        const int64_t k = threadIdx.x + static_cast<int64_t>(j) * kPassThreads;
        s[r][j] = (b < rows && k < K) ? __ldg(a.S + b * K + k) : neg_inf;
        row_max[r] = fmaxf(row_max[r], s[r][j]);
      }
    }
    block_reduce<true>(row_max, buffer, parity);
#pragma unroll
    for (int r = 0; r < kRowsPerStep; ++r) {
      if (row_max[r] > m) {  // uniform over the block
        if (m != neg_inf) {
          const float scale = exp2f((m - row_max[r]) * a.log2e_over_eps);
#pragma unroll
          for (int j = 0; j < PerThread; ++j) acc[j] *= scale;
        }
        m = row_max[r];
      }
#pragma unroll
      for (int j = 0; j < PerThread; ++j) acc[j] += exp2f((s[r][j] - m) * a.log2e_over_eps);
    }
  }
#pragma unroll
  for (int j = 0; j < PerThread; ++j) {
    const int64_t k = threadIdx.x + static_cast<int64_t>(j) * kPassThreads;
    if (k < K) a.partial[blockIdx.x * K + k] = acc[j];
  }
  if (threadIdx.x == 0) a.block_max[blockIdx.x] = m;
  grid.sync();

  // M, then u_1 for this block's slice of prototypes.
  if (threadIdx.x == 0) {
    float mm = neg_inf;
    for (unsigned i = 0; i < gridDim.x; ++i) mm = fmaxf(mm, a.block_max[i]);
    shared_max = mm;
    if (blockIdx.x == 0) *a.max = mm;
  }
  __syncthreads();
  const float M = shared_max;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(kPassThreads) + threadIdx.x; k < K;
       k += static_cast<int64_t>(gridDim.x) * kPassThreads) {
    double sum = 0.0;
    for (unsigned i = 0; i < gridDim.x; ++i) {
      const float bm = a.block_max[i];
      if (bm == neg_inf) continue;  // a block without rows
      sum += static_cast<double>(a.partial[i * K + k]) *
             static_cast<double>(exp2f((bm - M) * a.log2e_over_eps));
    }
    a.u[k] = static_cast<float>(1.0 / (static_cast<double>(K) * sum));
  }
  grid.sync();

  // Passes 2 .. iterations + 1: column sums with u_t give v_t; all but the last accumulate the
  // sums of E v_t for u_{t+1}; the last writes the codes.
  for (int t = 1; t <= a.iterations; ++t) {
    const bool last = t == a.iterations;
#pragma unroll
    for (int j = 0; j < PerThread; ++j) {
      const int64_t k = threadIdx.x + static_cast<int64_t>(j) * kPassThreads;
      u[j] = k < K ? a.u[k] : 0.0f;
      acc[j] = 0.0f;
    }
    for (int64_t g = blockIdx.x; g < groups; g += gridDim.x) {
      float e[kRowsPerStep][PerThread];
      float c[kRowsPerStep];
#pragma unroll
      for (int r = 0; r < kRowsPerStep; ++r) {
        const int64_t b = g * kRowsPerStep + r;
        c[r] = 0.0f;
#pragma unroll
        for (int j = 0; j < PerThread; ++j) {
          const int64_t k = threadIdx.x + static_cast<int64_t>(j) * kPassThreads;
          const float s = (b < rows && k < K) ? __ldg(a.S + b * K + k) : neg_inf;
          e[r][j] = exp2f((s - M) * a.log2e_over_eps);
          c[r] += e[r][j] * u[j];
        }
      }
      block_reduce<false>(c, buffer, parity);
#pragma unroll
      for (int r = 0; r < kRowsPerStep; ++r) {
        const int64_t b = g * kRowsPerStep + r;
        if (b >= rows) continue;
        if (last) {
          const float inv = 1.0f / c[r];
#pragma unroll
          for (int j = 0; j < PerThread; ++j) {
            const int64_t k = threadIdx.x + static_cast<int64_t>(j) * kPassThreads;
            if (k < K) a.out[b * K + k] = e[r][j] * u[j] * inv;
          }
        } else {
          const float v = static_cast<float>(1.0 / (a.B * static_cast<double>(c[r])));
#pragma unroll
          for (int j = 0; j < PerThread; ++j) acc[j] += e[r][j] * v;
        }
      }
    }
    if (last) break;
#pragma unroll
    for (int j = 0; j < PerThread; ++j) {
      const int64_t k = threadIdx.x + static_cast<int64_t>(j) * kPassThreads;
      if (k < K) a.partial[blockIdx.x * K + k] = acc[j];
    }
    grid.sync();
    for (int64_t k = blockIdx.x * static_cast<int64_t>(kPassThreads) + threadIdx.x; k < K;
         k += static_cast<int64_t>(gridDim.x) * kPassThreads) {
      double sum = 0.0;
      for (unsigned i = 0; i < gridDim.x; ++i) sum += a.partial[i * K + k];
      a.u[k] = static_cast<float>(1.0 / (static_cast<double>(K) * sum));
    }
    grid.sync();
  }
}

template <int PerThread>
torch::Tensor launch_cooperative(const torch::Tensor& S, double epsilon, int64_t iterations) {
  const int64_t rows = S.size(0), K = S.size(1);
  const int device = S.get_device();
  static int max_blocks_per_sm[kMaxPerThread + 1] = {};  // occupancy of each instantiation
  auto kernel = sinkhorn_cooperative<PerThread>;
  if (max_blocks_per_sm[PerThread] == 0) {
    C10_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&max_blocks_per_sm[PerThread],
                                                                 kernel, kPassThreads, 0));
  }
  const int sms = at::cuda::getDeviceProperties(device)->multiProcessorCount;
  const int64_t groups = (rows + kRowsPerStep - 1) / kRowsPerStep;
  const int grid = static_cast<int>(
      std::min<int64_t>(groups, static_cast<int64_t>(max_blocks_per_sm[PerThread]) * sms));
  const auto f32 = S.options();
  auto out = torch::empty({rows, K}, f32);
  auto partial = torch::empty({grid, K}, f32);
  auto block_max = torch::empty({grid}, f32);
  auto u = torch::empty({K}, f32);
  auto max = torch::empty({1}, f32);
  PassArgs args{S.data_ptr<float>(),
                out.data_ptr<float>(),
                partial.data_ptr<float>(),
                block_max.data_ptr<float>(),
                u.data_ptr<float>(),
                max.data_ptr<float>(),
                rows,
                K,
                static_cast<float>(epsilon),
                static_cast<float>(1.4426950408889634 / epsilon),
                static_cast<double>(rows),
                static_cast<int>(iterations)};
  void* params[] = {&args};
  C10_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<const void*>(kernel), dim3(grid),
                                             dim3(kPassThreads), params, 0,
                                             at::cuda::getCurrentCUDAStream()));
  return out;
}

}  // namespace

torch::Tensor sinkhorn_fused_cuda(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                  Collective& collective) {
  TORCH_CHECK(scores.is_cuda(), "sinkhorn_fused_cuda: scores must be a CUDA tensor, got ",
              scores.device());
  TORCH_CHECK(scores.dim() == 2 && scores.numel() > 0,
              "sinkhorn_fused_cuda: scores must be a non-empty [B, K], got ", scores.sizes());
  TORCH_CHECK(epsilon > 0 && iterations >= 0,
              "sinkhorn_fused_cuda: need epsilon > 0 and iterations >= 0");
  const int64_t K = scores.size(1);
  const int per_thread = static_cast<int>((K + kPassThreads - 1) / kPassThreads);
  if (collective.world_size() > 1 || iterations == 0 || per_thread > kMaxPerThread)
    return sinkhorn_multi_kernel(scores, epsilon, iterations, collective);
  TORCH_CHECK(scores.is_floating_point(), "sinkhorn_fused_cuda: scores must be floating point");
  torch::NoGradGuard no_grad;
  const c10::cuda::CUDAGuard device_guard(scores.device());
  auto S = scores.detach().to(torch::kFloat32).contiguous();
  // Register arrays need compile-time sizes: one instantiation per size class.
  if (per_thread <= 1) return launch_cooperative<1>(S, epsilon, iterations);
  if (per_thread <= 2) return launch_cooperative<2>(S, epsilon, iterations);
  if (per_thread <= 4) return launch_cooperative<4>(S, epsilon, iterations);
  if (per_thread <= 8) return launch_cooperative<8>(S, epsilon, iterations);
  if (per_thread <= 12) return launch_cooperative<12>(S, epsilon, iterations);
  if (per_thread <= 16) return launch_cooperative<16>(S, epsilon, iterations);
  if (per_thread <= 24) return launch_cooperative<24>(S, epsilon, iterations);
  return launch_cooperative<32>(S, epsilon, iterations);
}

}  // namespace swav
