#include "baselines/clustering.h"

#include "swav/util/error.h"

namespace swav {

void require_clusters_fit(const std::vector<int64_t>& clusters, int64_t images,
                          const std::string& key) {
  for (size_t i = 0; i < clusters.size(); ++i) {
    if (clusters[i] <= images) continue;
    const std::string name = clusters.size() == 1 ? key : key + "[" + std::to_string(i) + "]";
    fail("{}: {} clusters asked for, but the training set has only {} images", name, clusters[i],
         images);
  }
}

uint64_t clustering_seed(int64_t run_seed, int64_t epoch, int64_t index) {
  return static_cast<uint64_t>(run_seed) * 1000003ULL + static_cast<uint64_t>(epoch) * 1009ULL +
         static_cast<uint64_t>(index);
}

KMeansOptions epoch_kmeans(int64_t clusters, int64_t iterations, KMeansMetric metric,
                           KMeansEmpty empty, int64_t run_seed, int64_t epoch, int64_t index) {
  KMeansOptions o(clusters);
  o.iterations = iterations;
  o.metric = metric;
  o.init = KMeansInit::kRandom;
  o.empty = empty;
  o.seed = clustering_seed(run_seed, epoch, index);
  return o;
}

}  // namespace swav
