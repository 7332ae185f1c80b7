// Sinkhorn-Knopp online codes (SwAV).
#pragma once
#include <torch/torch.h>

#include "swav/dist/collective.h"

namespace swav {

/// Soft equipartitioned codes from prototype scores.
///
/// scores: [B_local, K] (any float dtype, any device; not modified). Computed in float32:
///   Q = exp((S - max(S)) / epsilon)^T                       [K, B]  (global max subtracted: it cancels
///                                                                    and prevents overflow)
///   Q /= sum(Q)                                              (all-reduced)
///   repeat `iterations` times:
///     Q /= rowsum(Q) (all-reduced); Q /= K                   (each prototype gets mass 1/K)
///     Q /= colsum(Q);               Q /= B                   (each sample gets mass 1/B, local)
///   return (Q * B)^T                                         [B_local, K], rows sum to 1
/// where B = B_local * world_size. Runs without autograd. float32 result.
torch::Tensor sinkhorn(const torch::Tensor& scores, double epsilon, int64_t iterations,
                       Collective& collective = single_process());

}  // namespace swav
