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

}  // namespace swav
