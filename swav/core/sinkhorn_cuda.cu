// Fused CUDA Sinkhorn: the equations of sinkhorn() on the [B_local, K] row-major layout, no
// transposes.
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

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

}  // namespace

torch::Tensor sinkhorn_fused_cuda(const torch::Tensor& scores, double epsilon, int64_t iterations,
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
  const int64_t B = rows * collective.world_size();
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

}  // namespace swav
