// What the clustering baselines (DeepCluster, DeepCluster-v2, SeLa, SeLa-v2, PCL) share beyond
// swav/core's k-means and Sinkhorn.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace swav {

/// Throws UserError when a cluster count is larger than the number of training images:
/// "<key>[i]: K clusters asked for, but the training set has only N images" (`key` alone when
/// there is one count), so a run stops before its first epoch instead of failing in k-means.
void require_clusters_fit(const std::vector<int64_t>& clusters, int64_t images,
                          const std::string& key);

}  // namespace swav
