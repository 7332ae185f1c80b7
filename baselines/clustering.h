// What the clustering baselines (DeepCluster, DeepCluster-v2, SeLa, SeLa-v2, PCL) share beyond
// swav/core's k-means and Sinkhorn: the guard on cluster counts and the k-means of an epoch.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "swav/core/kmeans.h"

namespace swav {

/// Throws UserError when a cluster count is larger than the number of training images:
/// "<key>[i]: K clusters asked for, but the training set has only N images" (`key` alone when
/// there is one count), so a run stops before its first epoch instead of failing in k-means.
void require_clusters_fit(const std::vector<int64_t>& clusters, int64_t images,
                          const std::string& key);

/// The seed of the clustering of one epoch for one head or hierarchy level (`index`): a fresh
/// draw for every (run seed, epoch, index), the same again after a resume. DeepCluster also draws
/// its new classifier from it. Distinct for every epoch below 991 and index below 1009 of a seed.
uint64_t clustering_seed(int64_t run_seed, int64_t epoch, int64_t index);

/// The k-means a clustering baseline runs at the start of an epoch: `clusters` centroids,
/// `iterations` Lloyd steps from `clusters` distinct random points, seeded by clustering_seed.
/// The metric and the handling of empty clusters are the method's (see swav/core/kmeans.h).
KMeansOptions epoch_kmeans(int64_t clusters, int64_t iterations, KMeansMetric metric,
                           KMeansEmpty empty, int64_t run_seed, int64_t epoch, int64_t index);

}  // namespace swav
