// Agreement between a clustering and the labels (NMI, ARI) and how evenly clusters are used.
#pragma once
#include <torch/torch.h>

#include <cstdint>

namespace swav {

/// Normalised mutual information of two labelings a, b (int64 [N], values >= 0), with the
/// arithmetic-mean normalisation: NMI = I(a; b) / ((H(a) + H(b)) / 2), natural logs, where
/// I = sum_ij n_ij/N log(N n_ij / (r_i c_j)) over the contingency table n (row sums r, column sums
/// c). 1 for labelings equal up to renaming; 0 for independent ones. Both single-cluster: 1.
double normalized_mutual_information(const torch::Tensor& a, const torch::Tensor& b);

/// Adjusted Rand index (Hubert and Arabie): (S - E) / ((A + B) / 2 - E) with S = sum_ij C(n_ij, 2),
/// A = sum_i C(r_i, 2), B = sum_j C(c_j, 2), E = A B / C(N, 2). 1 for equal labelings (up to
/// renaming), about 0 for random ones, negative below chance. When the denominator is 0 (both
/// labelings trivial) returns 1.
double adjusted_rand_index(const torch::Tensor& a, const torch::Tensor& b);

/// How a set of assignments (int64 [N] in [0, K)) uses the K clusters.
struct ClusterUsage {
  int64_t used = 0;          // clusters with at least one member
  double used_share = 0;     // used / K
  double entropy = 0;        // of the cluster-size distribution, nats
  double entropy_share = 0;  // entropy / ln K (1 = perfectly even); 0 when K = 1
};
ClusterUsage cluster_usage(const torch::Tensor& assignments, int64_t K);

}  // namespace swav
