// Losses as free functions on tensors.
#pragma once
#include <torch/torch.h>

#include <vector>

#include "swav/dist/collective.h"

namespace swav {

/// SwAV's swapped-prediction loss for one prototype head.
///
/// scores: one tensor per crop, [B, K], the prototype scores z_v . C of crop v (crops in order).
/// codes:  one tensor per entry of crops_for_assign, [B, K], the Sinkhorn codes q_i (no grad).
/// loss = mean over i in crops_for_assign of
///          mean over v != i of  -mean_b sum_k q_i[b,k] * log_softmax(scores_v[b] / temperature)[k]
torch::Tensor swav_loss(const std::vector<torch::Tensor>& scores, const std::vector<torch::Tensor>& codes,
                        const std::vector<int64_t>& crops_for_assign, double temperature);

/// SimCLR's NT-Xent for two views, mean over the 2N anchors.
///
/// view1, view2: [N, D] projections (normalised inside). For each of the 2N embeddings, cross-entropy
/// of softmax over the 2N - 1 others (cosine / temperature) with the other view of the same image as
/// the positive.
torch::Tensor nt_xent(const torch::Tensor& view1, const torch::Tensor& view2, double temperature);

}  // namespace swav
