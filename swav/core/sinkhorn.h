// Sinkhorn-Knopp online codes (SwAV).
#pragma once
#include <torch/torch.h>

#include "swav/dist/collective.h"

namespace swav {

/// Soft equipartitioned codes from prototype scores.
///
/// scores: [B_local, K] (any float dtype, any device; not modified). Computed in float32:
///   Q = exp((S - max(S)) / epsilon)^T                       [K, B]
///                            (the global max is subtracted: it cancels in the normalisations
///                             below and keeps exp from overflowing)
///   Q /= sum(Q)                                              (all-reduced)
///   repeat `iterations` times:
///     Q /= rowsum(Q) (all-reduced); Q /= K                   (each prototype gets mass 1/K)
///     Q /= colsum(Q);               Q /= B                   (each sample gets mass 1/B, local)
///   return (Q * B)^T                                         [B_local, K], rows sum to 1
/// where B is the sum of B_local over the processes (they may differ: SeLa-v2 splits its bank
/// unevenly). Runs without autograd. float32 result.
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
/// rounding differs, and a sample whose every score lies over about 100 epsilon below the global
/// max, whose codes the reference's float32 exp underflows to NaN, gets finite codes here). Works
/// on the [B_local, K] row-major layout directly, never transposing:
///   pass 0:        E = exp((S - m_b) / epsilon) with m_b the sample's own max, accumulating the
///                  per-prototype sums of exp((S - max) / epsilon) (a sample's factor
///                  exp((m_b - max) / epsilon) cancels in everything else), so no pass of its own
///                  finds the global max;
///   iterations:    Q = diag(v) E diag(u) is kept as E and two scaling vectors, u = 1 / (K *
///                  per-prototype sums), v = 1 / (B * row sums of E u): every iteration but the
///                  last only reads E (a row's dot product with u, then its share of the next
///                  per-prototype sums), and the last writes Q = E u / (row sum) in place.
/// exp is a vectorised polynomial (within 1 ulp of the exact value, subnormals included), and the
/// row kernels are also built for x86-64-v3 (AVX2 + FMA) and AVX2, chosen at load time; rows go
/// four at a time, sharing the loads of u and the updates of the partial sums. The loops are split
/// over LibTorch's intra-op threads (at::parallel_for; this file is compiled with OpenMP). The
/// K-vector of per-prototype sums is all-reduced once per iteration; the total is the sum of the
/// all-reduced K-vector. Rows are split into a fixed number of blocks (at::parallel_for) whose
/// partial sums are added in a fixed order, so the result does not depend on the thread count.
torch::Tensor sinkhorn_fused_cpu(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                 Collective& collective = single_process());

#ifdef SWAV_WITH_CUDA
/// sinkhorn() on CUDA in few launches (scores must be a CUDA tensor; any float dtype).
///
/// One process, 1 <= iterations and K <= 8192: one cooperative kernel of iterations + 1 passes
/// over S separated by grid-wide barriers, recomputing exp((S - max) / epsilon) in each pass
/// instead of storing it (it keeps the scaling vectors u and v as sinkhorn_fused_cpu() does), so
/// only the last pass writes; the max is found in the first pass. Otherwise (several processes,
/// no iterations or more prototypes): a few kernels per iteration (an exp pass with partial sums,
/// a row pass, a column pass that scales Q in place), with the K-vector all-reduced with
/// `collective` between them. Partial sums are reduced in a fixed order (deterministic on a given
/// GPU, no atomics); everything runs on the current stream, with no host synchronisation.
torch::Tensor sinkhorn_fused_cuda(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                  Collective& collective = single_process());
#endif

/// Sinkhorn codes with the chosen implementation (see SinkhornImpl); same contract as sinkhorn().
torch::Tensor sinkhorn_codes(const torch::Tensor& scores, double epsilon, int64_t iterations,
                             SinkhornImpl impl, Collective& collective = single_process());

}  // namespace swav
