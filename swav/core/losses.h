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
///
/// Distributed: view1 and view2 are this process's rows of the global batch; the candidates are
/// the 2G embeddings of every process (gathered with gradient, all_gather_with_grad) and the loss
/// is the mean over this process's 2N anchors, so the mean over processes is the loss one process
/// would compute on the global batch, and so are the averaged gradients.
torch::Tensor nt_xent(const torch::Tensor& view1, const torch::Tensor& view2, double temperature,
                      Collective& collective = single_process());

/// NT-Xent generalised to any number of crops: the mean of nt_xent over every unordered pair of
/// crops {i, j}, i < j (V crops give V (V - 1) / 2 pairs, each a two-view NT-Xent whose candidates
/// are the 2N embeddings of that pair). With two crops it is exactly nt_xent(views[0], views[1]).
/// views: V >= 2 tensors [N, D].
torch::Tensor nt_xent_crops(const std::vector<torch::Tensor>& views, double temperature,
                            Collective& collective = single_process());

/// PCL's ProtoNCE term for one granularity (no averaging over granularities).
///
/// q [B, D] unit queries; centroids [K, D] unit rows; concentration [K] (phi_k > 0);
/// assignments int64 [B]: the cluster of each query; negatives int64 [r]: clusters used as
/// negatives (none of them may be a query's own cluster). With P = [centroids[assignments];
/// centroids[negatives]] ([B + r, D]) and phi_P their concentrations:
///   loss = cross_entropy(q P^T / phi_P, targets = 0..B-1)
/// so the positive of query b is its own centroid, and the other queries' centroids and the r
/// sampled centroids are its negatives, as the reference does.
/// Several processes: `assignments` may be the clusters of the whole global batch ([G]), of which
/// q's queries are rows [first_query, first_query + B); their targets are those rows.
torch::Tensor proto_nce(const torch::Tensor& q, const torch::Tensor& centroids,
                        const torch::Tensor& concentration, const torch::Tensor& assignments,
                        const torch::Tensor& negatives, int64_t first_query = 0);

}  // namespace swav
