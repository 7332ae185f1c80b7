// Sinkhorn-Knopp online codes (SwAV).
#pragma once
#include <torch/torch.h>

#include "swav/dist/collective.h"

namespace swav {

/// Soft equipartitioned codes from prototype scores.
///
/// scores: [B_local, K] (any float dtype, any device; not modified). Computed in float32:
///   Q = exp((S - max(S)) / epsilon)^T                       [K, B]  (global max subtracted: it
///   cancels
///                                                                    and prevents overflow)
///   Q /= sum(Q)                                              (all-reduced)
///   repeat `iterations` times:
///     Q /= rowsum(Q) (all-reduced); Q /= K                   (each prototype gets mass 1/K)
///     Q /= colsum(Q);               Q /= B                   (each sample gets mass 1/B, local)
///   return (Q * B)^T                                         [B_local, K], rows sum to 1
/// where B = B_local * world_size. Runs without autograd. float32 result.
///
/// This is the op-by-op reference implementation (one LibTorch op per line above). The global max
/// is the maximum over every process (gathered through `collective`), so the result equals that of
/// one process holding the whole batch.
torch::Tensor sinkhorn(const torch::Tensor& scores, double epsilon, int64_t iterations,
                       Collective& collective = single_process());

/// Which implementation sinkhorn_codes() runs.
enum class SinkhornImpl {
  kReference,  // sinkhorn(): op by op, any device
  kFused,      // sinkhorn_fused_cpu() on CPU, sinkhorn_fused_cuda() on CUDA, kReference elsewhere
};

/// sinkhorn() computed in fewer passes over memory, on CPU (scores on another device throw).
///
/// Same equations, inputs and result as sinkhorn() (agreement to about 1e-6 relative; only the
/// rounding differs). Works on the [B_local, K] row-major layout directly, never transposing:
///   pass 0:        E = exp((S - max) / epsilon), accumulating the per-prototype sums of E;
///   iterations:    Q = diag(v) E diag(u) is kept as E and two scaling vectors, u = 1 / (K *
///                  per-prototype sums), v = 1 / (B * row sums of E u): every iteration but the
///                  last only reads E (a row's dot product with u, then its share of the next
///                  per-prototype sums), and the last writes Q = E u / (row sum) in place.
/// exp is a vectorised polynomial (within about 2 ulp of libm, subnormals included), and the row
/// kernels are also built for x86-64-v3 (AVX2 + FMA) and AVX2, chosen at load time. The loops are
/// split over LibTorch's intra-op threads (at::parallel_for; this file is compiled with OpenMP).
/// The K-vector of per-prototype sums is all-reduced once per iteration; the total is the sum of
/// the all-reduced K-vector. Rows are split into a fixed number of blocks (at::parallel_for) whose
/// partial sums are added in a fixed order, so the result does not depend on the thread count.
torch::Tensor sinkhorn_fused_cpu(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                 Collective& collective = single_process());

#ifdef SWAV_WITH_CUDA
/// sinkhorn() as a few CUDA kernels (scores must be a CUDA tensor; any float dtype).
///
/// One kernel computes E = exp((S - max) / epsilon) with per-prototype partial sums; each iteration
/// runs a row kernel (one warp per sample: sum over k of Q[b, k] * a[k]) and a column kernel that
/// scales Q in place and writes per-prototype partial sums, reduced in a fixed order
/// (deterministic, no atomics). Everything runs on the current stream; the K-vector is all-reduced
/// with `collective`.
torch::Tensor sinkhorn_fused_cuda(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                  Collective& collective = single_process());
#endif

/// Sinkhorn codes with the chosen implementation (see SinkhornImpl); same contract as sinkhorn().
torch::Tensor sinkhorn_codes(const torch::Tensor& scores, double epsilon, int64_t iterations,
                             SinkhornImpl impl, Collective& collective = single_process());

}  // namespace swav
