#include "swav/core/sinkhorn.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "swav/util/fault_injection.h"

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

// 2^t for t <= 0 in a form that vectorises (std::exp is a scalar libm call, and the exp pass is
// most of the fused run time). The scores are scaled by log2(e) / eps once, so the reduction is
// exact: t = n + f with n = round(t) and f = t - n in [-1/2, 1/2]; 2^f by its degree-7 Taylor
// polynomial (truncation error < 6e-9 relative, below float rounding); 2^n applied as 2^(n + 64)
// times 2^-64, both normal, so results in the subnormal range round once, like libm's, instead of
// flushing to zero. The caller guarantees t <= 0 (t = (s - max) * c, c > 0) and no NaN.
inline float exp2_nonpositive(float t) {
  // Clamp to [-150, 0] (2^-150 rounds to 0 in float). Done on the bit pattern, where among
  // negative floats a larger int32 is a more negative float, with a mask rather than a select:
  // GCC turns a float comparison or a ternary into a branch here, which blocks vectorisation.
  const int32_t bits = __builtin_bit_cast(int32_t, t), low = __builtin_bit_cast(int32_t, -150.0f);
  const int32_t clamp = -static_cast<int32_t>((bits > low) & (bits < 0));  // all ones: clamp
  t = __builtin_bit_cast(float, (bits & ~clamp) | (low & clamp));
  // Adding 1.5 * 2^23 rounds t to an integer n, which the low mantissa bits of the sum then hold.
  const float shifted = t + 12582912.0f;
  const float f = t - (shifted - 12582912.0f);  // exact
  float p = 1.5252733804059841e-05f;            // ln(2)^k / k!, k = 7 .. 0
  p = p * f + 1.5403530393381606e-04f;
  p = p * f + 1.3333558146428441e-03f;
  p = p * f + 9.6181291076284772e-03f;
  p = p * f + 5.5504108664821580e-02f;
  p = p * f + 2.4022650695910072e-01f;
  p = p * f + 6.9314718055994531e-01f;
  p = p * f + 1.0f;
  // (n + 64 + 127) << 23 with n = bits(shifted) - bits(1.5 * 2^23); the shift drops high bits.
  const uint32_t n_bits =
      static_cast<uint32_t>(__builtin_bit_cast(int32_t, shifted)) - 0x4B400000u + (64u + 127u);
  const float scale = __builtin_bit_cast(float, n_bits << 23);
  return p * scale * 0x1p-64f;
}

// Eight floats as one value (GCC/Clang vector extension): one AVX register, or two SSE registers in
// the default clone. Loads are unaligned (and written to a reference: returning a vector type by
// value from a function built without AVX would change its ABI).
typedef float Float8 __attribute__((vector_size(32)));
inline void load8(Float8& v, const float* p) {
  __builtin_memcpy(&v, p, sizeof v);
}

// max_k s[k], NaN when the row holds a NaN.
inline float row_max(const float* __restrict__ s, int64_t K) {
  typedef int32_t Int8 __attribute__((vector_size(32)));
  constexpr float kNegInf = -std::numeric_limits<float>::infinity();
  Float8 acc = {kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf, kNegInf}, x;
  Int8 nan = {};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    load8(x, s + k);
    acc = x > acc ? x : acc;
    nan |= x != x;
  }
  float m = kNegInf;
  bool has_nan = false;
  for (int j = 0; j < 8; ++j) {
    m = std::max(m, acc[j]);
    has_nan |= nan[j] != 0;
  }
  for (; k < K; ++k) {
    m = std::max(m, s[k]);
    has_nan |= std::isnan(s[k]);
  }
  return has_nan ? std::numeric_limits<float>::quiet_NaN() : m;
}

// Rows are taken kGroup at a time in the passes below, so each load of u and each update of the
// partial sums serves kGroup rows; the grouping depends only on the row count, so the results do
// not depend on the thread count.
constexpr int64_t kGroup = 4;
static_assert(kGroup == 4, "exp_rows and accumulate_rows spell out the four rows of a group");

// Pass 0 over the rows [0, rows) of a block, with c = log2(e) / eps:
//   q[b, k] = exp((s[b, k] - m_b) / eps) = 2^((s[b, k] - m_b) c), m_b the row's max (row_max[b]);
//   part[k] += q[b, k] exp((m_b - m) / eps), m the block's running max (part is rescaled when a
//   row raises it), so part holds the block's per-prototype sums of exp((s - m) / eps).
// Returns m. Storing each row relative to its own max needs no separate pass for the global max;
// sinkhorn_fused_cpu explains why the per-row factors cancel.
SWAV_VECTOR_CLONES float exp_rows(const float* __restrict__ s, float* __restrict__ q,
                                  float* __restrict__ part, float* __restrict__ row_maxima,
                                  int64_t rows, int64_t K, float c) {
  float m = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < rows; r += kGroup, s += kGroup * K, q += kGroup * K) {
    const int64_t n = std::min(kGroup, rows - r);
    float mr[kGroup], f[kGroup];
    float group_max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      mr[i] = row_max(s + i * K, K);
      row_maxima[r + i] = mr[i];
      group_max = std::max(group_max, mr[i]);
    }
    if (group_max > m) {
      if (m != -std::numeric_limits<float>::infinity()) {
        const float rescale = std::exp2((m - group_max) * c);
        for (int64_t k = 0; k < K; ++k) part[k] *= rescale;
      }
      m = group_max;
    }
    for (int64_t i = 0; i < n; ++i) f[i] = std::exp2((mr[i] - m) * c);
    if (n == kGroup) {
      const float m0 = mr[0], m1 = mr[1], m2 = mr[2], m3 = mr[3];
      for (int64_t k = 0; k < K; ++k) {
        const float e0 = exp2_nonpositive((s[k] - m0) * c);
        const float e1 = exp2_nonpositive((s[K + k] - m1) * c);
        const float e2 = exp2_nonpositive((s[2 * K + k] - m2) * c);
        const float e3 = exp2_nonpositive((s[3 * K + k] - m3) * c);
        q[k] = e0;
        q[K + k] = e1;
        q[2 * K + k] = e2;
        q[3 * K + k] = e3;
        part[k] += (f[0] * e0 + f[1] * e1) + (f[2] * e2 + f[3] * e3);
      }
    } else {
      for (int64_t i = 0; i < n; ++i) {
        const float* si = s + i * K;
        float* qi = q + i * K;
        for (int64_t k = 0; k < K; ++k) {
          qi[k] = exp2_nonpositive((si[k] - mr[i]) * c);
          part[k] += f[i] * qi[k];
        }
      }
    }
  }
  return m;
}

// d[i] = sum_k e[i K + k] u[k] for R consecutive rows, with eight accumulators per row (lane j sums
// the k = j mod 8): R vector FMA chains sharing the loads of u. A single chain would be bound by
// the FMA latency, and the compiler may not reorder a float sum by itself.
template <int R>
inline void rows_dot(const float* __restrict__ e, const float* __restrict__ u, int64_t K,
                     float (&d)[R]) {
  Float8 acc[R] = {};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    Float8 uk, ek;
    load8(uk, u + k);
    for (int i = 0; i < R; ++i) {
      load8(ek, e + i * K + k);
      acc[i] += ek * uk;
    }
  }
  for (int i = 0; i < R; ++i) {
    float c = 0;
    for (int64_t t = k; t < K; ++t) c += e[i * K + t] * u[t];
    const Float8& a = acc[i];
    d[i] = c + (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
  }
}

// One read-only Sinkhorn iteration over rows of E: d = sum_k E[k] u[k], v = 1 / (B d), and
// part[k] += v E[k] (the rows' contribution to the next per-prototype sums).
SWAV_VECTOR_CLONES void accumulate_rows(const float* __restrict__ e, const float* __restrict__ u,
                                        float* __restrict__ part, int64_t rows, int64_t K,
                                        float B) {
  int64_t r = 0;
  for (; r + kGroup <= rows; r += kGroup, e += kGroup * K) {
    float d[kGroup];
    rows_dot(e, u, K, d);
    float v[kGroup];
    for (int i = 0; i < kGroup; ++i) v[i] = 1.0f / (B * d[i]);
    const float *e0 = e, *e1 = e + K, *e2 = e + 2 * K, *e3 = e + 3 * K;
    for (int64_t k = 0; k < K; ++k)
      part[k] += (v[0] * e0[k] + v[1] * e1[k]) + (v[2] * e2[k] + v[3] * e3[k]);
  }
  for (; r < rows; ++r, e += K) {
    float d[1];
    rows_dot(e, u, K, d);
    const float v = 1.0f / (B * d[0]);
    for (int64_t k = 0; k < K; ++k) part[k] += v * e[k];
  }
}

// The last iteration, in place: q[k] <- q[k] u[k] / sum_j q[j] u[j] (each row sums to 1).
SWAV_VECTOR_CLONES void finish_rows(float* __restrict__ q, const float* __restrict__ u,
                                    int64_t rows, int64_t K) {
  auto scale = [&](float* row, float inv) {
    for (int64_t k = 0; k < K; ++k) row[k] = row[k] * u[k] * inv;
  };
  int64_t r = 0;
  for (; r + kGroup <= rows; r += kGroup, q += kGroup * K) {
    float d[kGroup];
    rows_dot(q, u, K, d);
    for (int i = 0; i < kGroup; ++i) scale(q + i * K, 1.0f / d[i]);
  }
  for (; r < rows; ++r, q += K) {
    float d[1];
    rows_dot(q, u, K, d);
    scale(q, 1.0f / d[0]);
  }
}

// Rows are processed in blocks whose number depends only on B, never on the thread count, so the
// partial per-prototype sums (and hence the codes) are the same on any machine.
int64_t row_blocks(int64_t rows) {
  return std::clamp<int64_t>((rows + 15) / 16, 1, 64);
}

// Sums the per-block partial sums [blocks, K], each times its block's weight (1 when null), in
// block order into a float64 K-vector.
torch::Tensor reduce_partials(const std::vector<float>& partial, int64_t blocks, int64_t K,
                              const double* weight = nullptr) {
  auto sums = torch::empty({K}, torch::kFloat64);
  double* out = sums.data_ptr<double>();
  // Blocks in the outer loop: the adds of each k stay in block order, and the inner loop over k
  // vectorises with no dependency chain.
  at::parallel_for(0, K, 2048, [&](int64_t k0, int64_t k1) {
    std::fill(out + k0, out + k1, 0.0);
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const float* part = partial.data() + blk * K;
      const double w = weight != nullptr ? weight[blk] : 1.0;
      for (int64_t k = k0; k < k1; ++k) out[k] += w * part[k];
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
  const int64_t B = total_rows(S.size(0), collective);

  auto Q = ((S - global_max(S, collective)) / epsilon).exp().t();  // [K, B_local], a view
  auto total = Q.sum();
  collective.all_reduce_sum(total);
  Q.div_(total);
  const bool skip_sample_norm = fault_injected(Fault::kSinkhornSkipsSampleNorm);
  for (int64_t it = 0; it < iterations; ++it) {
    auto row_sums = Q.sum(1, /*keepdim=*/true);
    collective.all_reduce_sum(row_sums);
    Q.div_(row_sums).div_(K);
    if (skip_sample_norm) continue;
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
  const int64_t B = total_rows(rows, collective);
  const auto c = static_cast<float>(1.4426950408889634 / epsilon);  // log2(e) / eps

  auto Q = torch::empty({rows, K}, torch::kFloat32);  // the codes, [B_local, K] throughout
  const float* s_data = S.data_ptr<float>();
  float* q_data = Q.data_ptr<float>();
  const int64_t blocks = row_blocks(rows);
  std::vector<float> partial(static_cast<size_t>(blocks * K));
  std::vector<float> row_maxima(static_cast<size_t>(rows)), block_max(static_cast<size_t>(blocks));
  auto block_rows = [&](int64_t blk) {
    return std::make_pair(blk * rows / blocks, (blk + 1) * rows / blocks);
  };

  // Pass 0: E with each row relative to its own max m_b, E[b, k] = exp((S[b, k] - m_b) / eps),
  // and per-block sums of exp((S - m_blk) / eps). With M the global max, the reference's
  // exp((S - M) / eps) is E[b, k] g_b, g_b = exp((m_b - M) / eps): its per-prototype sums are the
  // block sums times exp((m_blk - M) / eps), and the factor g_b of a row cancels everywhere else,
  // since each iteration recomputes a row's scale v[b] from the row itself (below).
  at::parallel_for(0, blocks, 1, [&](int64_t blk0, int64_t blk1) {
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      float* part = partial.data() + blk * K;
      std::fill(part, part + K, 0.0f);
      auto [r0, r1] = block_rows(blk);
      block_max[blk] =
          exp_rows(s_data + r0 * K, q_data + r0 * K, part, row_maxima.data() + r0, r1 - r0, K, c);
    }
  });
  // The max over every process (see global_max). A NaN or infinite score (a diverged run) makes
  // its row's max non-finite, and then the gathered max on every rank alike: the reference
  // propagates such scores, so it runs instead.
  const bool finite =
      std::all_of(row_maxima.begin(), row_maxima.end(), [](float m) { return std::isfinite(m); });
  const float local_max = finite ? *std::max_element(block_max.begin(), block_max.end())
                                 : std::numeric_limits<float>::quiet_NaN();
  const double M = global_max(torch::full({1}, local_max), collective).item<double>();
  if (!std::isfinite(M)) return sinkhorn(scores, epsilon, iterations, collective);
  std::vector<double> weight(static_cast<size_t>(blocks));
  for (int64_t blk = 0; blk < blocks; ++blk) weight[blk] = std::exp((block_max[blk] - M) / epsilon);
  auto proto_sums = reduce_partials(partial, blocks, K, weight.data());
  collective.all_reduce_sum(proto_sums);

  if (iterations == 0) {  // the reference's exp((S - M) / eps) divided by the total, times B
    const double scale = static_cast<double>(B) / proto_sums.sum().item<double>();
    at::parallel_for(0, rows, 16, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const auto g = static_cast<float>(scale * std::exp((row_maxima[b] - M) / epsilon));
        float* q = q_data + b * K;
        for (int64_t k = 0; k < K; ++k) q[k] *= g;
      }
    });
    return Q;
  }

  // The iterations keep E and two scaling vectors instead of rescaling Q in place: Q = diag(v) E
  // diag(u) with u[k] = 1 / (K * colsum[k]) and v[b] = 1 / (B * sum_k E[b, k] u[k]), where colsum
  // is the per-prototype sum of diag(v) E from the previous iteration (pass 0's sums of
  // exp((S - M) / eps) at first; the division by the total is cancelled by the first
  // normalisation). A row's factor g_b multiplies its sum_k E[b, k] u[k], so v[b] E[b, k] is the
  // same as without it. So every iteration but the last only reads E, and the last writes
  // Q[b, k] = E[b, k] u[k] / sum_j E[b, j] u[j] in place (that is B v[b] E[b, k] u[k]: the final
  // * B folded in, each row summing to 1).
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
  if (impl == SinkhornImpl::kFused && !fault_injected(Fault::kSinkhornSkipsSampleNorm)) {
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
