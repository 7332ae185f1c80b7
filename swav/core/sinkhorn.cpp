#include "swav/core/sinkhorn.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace swav {

namespace {

void check_arguments(const torch::Tensor& scores, double epsilon, int64_t iterations) {
  TORCH_CHECK(scores.dim() == 2, "sinkhorn: scores must be [B, K], got ", scores.sizes());
  TORCH_CHECK(scores.numel() > 0, "sinkhorn: scores must not be empty, got ", scores.sizes());
  TORCH_CHECK(scores.is_floating_point(), "sinkhorn: scores must be floating point, got ",
              scores.dtype());
  TORCH_CHECK(epsilon > 0, "sinkhorn: epsilon must be positive, got ", epsilon);
  TORCH_CHECK(iterations >= 0, "sinkhorn: iterations must be >= 0, got ", iterations);
}

// The maximum over every process's scores: with a per-process max the processes' blocks of Q would
// be scaled differently before the all-reduced row sums mix them, which does not cancel.
torch::Tensor global_max(const torch::Tensor& scores, Collective& collective) {
  auto local = scores.max().reshape({1});
  if (collective.world_size() == 1) return local[0];
  return collective.all_gather_cat(local).max();
}

// The CPU kernels below are plain loops the compiler vectorises; on x86-64 they are also built for
// x86-64-v3 (AVX2 with FMA) and plain AVX2 and picked at load time (target_clones), since the
// default build targets SSE2 only.
#if defined(__x86_64__) && defined(__GNUC__)
#define SWAV_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v3", "avx2", "default")))
#else
#define SWAV_VECTOR_CLONES
#endif

// exp(x) for x <= 0 in a form that vectorises (std::exp is a scalar libm call, and the exp pass is
// most of the fused run time). x = n ln2 + r with |r| <= ln2 / 2; e^r by its degree-7 Taylor
// polynomial (truncation error < 1e-8 relative, below float rounding); 2^n applied as two normal
// powers of two so results in the subnormal range round like libm's instead of flushing to zero.
inline float exp_nonpositive(float x) {
  // Clamp to [-104, 0] (e^-104 is below the smallest subnormal float: the result is 0). Done on the
  // bit pattern, where a larger int32 is a more negative float, with a mask rather than a select:
  // GCC turns a float comparison or a ternary into a branch here, which blocks vectorisation.
  const int32_t bits = __builtin_bit_cast(int32_t, x), low = __builtin_bit_cast(int32_t, -104.0f);
  const int32_t clamp = -static_cast<int32_t>((bits > low) & (bits < 0));  // all ones: clamp
  x = __builtin_bit_cast(float, (bits & ~clamp) | (low & clamp));
  const float round = 12582912.0f;  // 1.5 * 2^23: adding it rounds to the nearest integer
  const float n = (x * 1.44269504088896341f + round) - round;
  const float r = (x - n * 0.693145751953125f) - n * 1.42860682030941723e-6f;  // ln2 split hi + lo
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const auto ni = static_cast<int32_t>(n);  // in [-150, 0]
  const int32_t half = ni / 2;
  const int32_t bits1 = (half + 127) << 23, bits2 = (ni - half + 127) << 23;
  const float scale1 = __builtin_bit_cast(float, bits1), scale2 = __builtin_bit_cast(float, bits2);
  return p * scale1 * scale2;
}

// Rows [0, rows) of the block: q = exp((s - max) / eps), part[k] += q[b, k].
SWAV_VECTOR_CLONES void exp_rows(const float* __restrict__ s, float* __restrict__ q,
                                 float* __restrict__ part, int64_t rows, int64_t K, float max,
                                 float eps) {
  for (int64_t r = 0; r < rows; ++r, s += K, q += K) {
    for (int64_t k = 0; k < K; ++k) {
      q[k] = exp_nonpositive((s[k] - max) / eps);
      part[k] += q[k];
    }
  }
}

// sum_k q[k] * u[k] with eight accumulators (the compiler may not reorder one float accumulator).
inline float row_dot(const float* __restrict__ q, const float* __restrict__ u, int64_t K) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += q[k + j] * u[k + j];
  }
  float c = 0;
  for (; k < K; ++k) c += q[k] * u[k];
  return c + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));
}

// One read-only Sinkhorn iteration over rows of E: d = sum_k E[k] u[k], v = 1 / (B d), and
// part[k] += v E[k] (the rows' contribution to the next per-prototype sums).
SWAV_VECTOR_CLONES void accumulate_rows(const float* __restrict__ e, const float* __restrict__ u,
                                        float* __restrict__ part, int64_t rows, int64_t K,
                                        float B) {
  for (int64_t r = 0; r < rows; ++r, e += K) {
    const float v = 1.0f / (B * row_dot(e, u, K));
    for (int64_t k = 0; k < K; ++k) part[k] += v * e[k];
  }
}

// The last iteration, in place: q[k] <- q[k] u[k] / sum_j q[j] u[j] (each row sums to 1).
SWAV_VECTOR_CLONES void finish_rows(float* __restrict__ q, const float* __restrict__ u,
                                    int64_t rows, int64_t K) {
  for (int64_t r = 0; r < rows; ++r, q += K) {
    const float inv = 1.0f / row_dot(q, u, K);
    for (int64_t k = 0; k < K; ++k) q[k] = q[k] * u[k] * inv;
  }
}

// Rows are processed in blocks whose number depends only on B, never on the thread count, so the
// partial per-prototype sums (and hence the codes) are the same on any machine.
int64_t row_blocks(int64_t rows) {
  return std::clamp<int64_t>((rows + 15) / 16, 1, 64);
}

// Sums the per-block partial sums [blocks, K] in block order into a float64 K-vector.
torch::Tensor reduce_partials(const std::vector<float>& partial, int64_t blocks, int64_t K) {
  auto sums = torch::empty({K}, torch::kFloat64);
  double* out = sums.data_ptr<double>();
  at::parallel_for(0, K, 2048, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double s = 0;
      for (int64_t blk = 0; blk < blocks; ++blk) s += partial[blk * K + k];
      out[k] = s;
    }
  });
  return sums;
}

}  // namespace

torch::Tensor sinkhorn(const torch::Tensor& scores, double epsilon, int64_t iterations,
                       Collective& collective) {
  check_arguments(scores, epsilon, iterations);
  torch::NoGradGuard no_grad;
  auto S = scores.detach().to(torch::kFloat32);
  const int64_t K = S.size(1);
  const int64_t B = S.size(0) * collective.world_size();

  auto Q = ((S - global_max(S, collective)) / epsilon).exp().t();  // [K, B_local], a view
  auto total = Q.sum();
  collective.all_reduce_sum(total);
  Q.div_(total);
  for (int64_t it = 0; it < iterations; ++it) {
    auto row_sums = Q.sum(1, /*keepdim=*/true);
    collective.all_reduce_sum(row_sums);
    Q.div_(row_sums).div_(K);
    auto col_sums = Q.sum(0, /*keepdim=*/true);
    Q.div_(col_sums).div_(B);
  }
  return Q.mul_(B).t().contiguous();
}

torch::Tensor sinkhorn_fused_cpu(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                 Collective& collective) {
  check_arguments(scores, epsilon, iterations);
  TORCH_CHECK(scores.device().is_cpu(), "sinkhorn_fused_cpu: scores must be on the CPU, got ",
              scores.device());
  torch::NoGradGuard no_grad;
  auto S = scores.detach().to(torch::kFloat32).contiguous();
  const int64_t rows = S.size(0), K = S.size(1);
  const int64_t B = rows * collective.world_size();
  const float max = global_max(S, collective).item<float>();
  // NaN or infinite scores (a diverged run): the reference propagates them the same on every rank.
  if (!std::isfinite(max)) return sinkhorn(scores, epsilon, iterations, collective);
  const float eps = static_cast<float>(epsilon);

  auto Q = torch::empty({rows, K}, torch::kFloat32);  // the codes, [B_local, K] throughout
  const float* s_data = S.data_ptr<float>();
  float* q_data = Q.data_ptr<float>();
  const int64_t blocks = row_blocks(rows);
  std::vector<float> partial(static_cast<size_t>(blocks * K));
  auto block_rows = [&](int64_t blk) {
    return std::make_pair(blk * rows / blocks, (blk + 1) * rows / blocks);
  };

  // Pass 0: E = exp((S - max) / eps) and its per-prototype partial sums.
  at::parallel_for(0, blocks, 1, [&](int64_t blk0, int64_t blk1) {
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      float* part = partial.data() + blk * K;
      std::fill(part, part + K, 0.0f);
      auto [r0, r1] = block_rows(blk);
      exp_rows(s_data + r0 * K, q_data + r0 * K, part, r1 - r0, K, max, eps);
    }
  });
  auto proto_sums = reduce_partials(partial, blocks, K);
  collective.all_reduce_sum(proto_sums);

  if (iterations == 0) {  // only the division by the total, then the final * B
    const double total = proto_sums.sum().item<double>();
    return Q.mul_(static_cast<double>(B) / total);
  }

  // The iterations keep E and two scaling vectors instead of rescaling Q in place: Q = diag(v) E
  // diag(u) with u[k] = 1 / (K * colsum[k]) and v[b] = 1 / (B * sum_k E[b, k] u[k]), where colsum
  // is the per-prototype sum of diag(v) E from the previous iteration (of E itself at first; the
  // division by the total is cancelled by the first normalisation). So every iteration but the
  // last only reads E, and the last writes Q[b, k] = E[b, k] u[k] / sum_j E[b, j] u[j] in place
  // (that is B v[b] E[b, k] u[k]: the final * B folded in, each row summing to 1).
  std::vector<float> u(static_cast<size_t>(K));
  for (int64_t it = 0; it < iterations; ++it) {
    const double* sums = proto_sums.data_ptr<double>();
    for (int64_t k = 0; k < K; ++k)
      u[k] = static_cast<float>(1.0 / (static_cast<double>(K) * sums[k]));
    if (it + 1 == iterations) break;
    at::parallel_for(0, blocks, 1, [&](int64_t blk0, int64_t blk1) {
      for (int64_t blk = blk0; blk < blk1; ++blk) {
        float* part = partial.data() + blk * K;
        std::fill(part, part + K, 0.0f);
        auto [r0, r1] = block_rows(blk);
        accumulate_rows(q_data + r0 * K, u.data(), part, r1 - r0, K, static_cast<float>(B));
      }
    });
    proto_sums = reduce_partials(partial, blocks, K);
    collective.all_reduce_sum(proto_sums);
  }
  at::parallel_for(0, blocks, 1, [&](int64_t blk0, int64_t blk1) {
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      auto [r0, r1] = block_rows(blk);
      finish_rows(q_data + r0 * K, u.data(), r1 - r0, K);
    }
  });
  return Q;
}

torch::Tensor sinkhorn_codes(const torch::Tensor& scores, double epsilon, int64_t iterations,
                             SinkhornImpl impl, Collective& collective) {
  if (impl == SinkhornImpl::kFused) {
    if (scores.device().is_cpu())
      return sinkhorn_fused_cpu(scores, epsilon, iterations, collective);
#ifdef SWAV_WITH_CUDA
    if (scores.device().is_cuda())
      return sinkhorn_fused_cuda(scores, epsilon, iterations, collective);
#endif
  }
  return sinkhorn(scores, epsilon, iterations, collective);
}

}  // namespace swav
