// Batched k-means on CPU or CUDA tensors, shared by DeepCluster-v2 and PCL.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "swav/dist/collective.h"

namespace swav {

/// How points are compared with centroids.
enum class KMeansMetric {
  kCosine,     // d(x, c) = 1 - x.c with unit rows x; centroids are re-normalised after every
               // M-step (spherical k-means: DeepCluster-v2's argmax dot product / normalised mean)
  kEuclidean,  // d(x, c) = |x - c|^2; centroids are plain means (faiss IndexFlatL2, as PCL)
};

enum class KMeansInit {
  kRandom,    // k distinct random rows of x (DeepCluster-v2)
  kPlusPlus,  // k-means++: each next centroid drawn with probability proportional to d(x, nearest)
};

/// What happens to a cluster that an E-step leaves empty.
enum class KMeansEmpty {
  kKeep,      // keep its previous centroid (DeepCluster-v2's reference behaviour)
  kFarthest,  // move it onto the point farthest from its own centroid, taken from a cluster with
              // more than one member; that point's distance drops to 0, so the objective still
              // never increases
};

struct KMeansOptions {
  int64_t k = 0;                       // number of clusters (constructor argument: no default)
  int64_t iterations = 10;             // Lloyd iterations (E-step + M-step each)
  KMeansMetric metric = KMeansMetric::kCosine;
  KMeansInit init = KMeansInit::kRandom;
  KMeansEmpty empty = KMeansEmpty::kKeep;
  int64_t restarts = 1;                // independent runs; the lowest final objective wins
  uint64_t seed = 0;                   // all randomness (init) comes from this seed
  int64_t chunk_rows = 16384;          // rows of x scored against the centroids at once, so memory
                                       // is O(chunk_rows * k), not O(N * k)

  explicit KMeansOptions(int64_t k_) : k(k_) {}
};

struct KMeansResult {
  torch::Tensor centroids;    // [k, D], same device and dtype as x (unit rows for kCosine)
  torch::Tensor assignments;  // int64 [N]: index of the nearest centroid (final E-step); this
                              // process's rows when distributed
  torch::Tensor distances;    // [N]: d(x_n, centroid of n) for the final assignment
  torch::Tensor counts;       // int64 [k]: members per cluster (global when distributed)
  std::vector<double> objective;  // mean over points of d(x, assigned centroid), after each
                                  // E-step (iterations + 1 values); never increases
};

/// Lloyd's k-means of x [N, D] (float32 or float64, CPU or CUDA).
///
///   init centroids C (seeded)
///   repeat iterations times:
///     E-step: a_n = argmin_k d(x_n, C_k)          (chunked over rows of x)
///     M-step: C_k = mean of {x_n : a_n = k}        (sums and counts all-reduced; kCosine
///                                                   re-normalises C_k)
///             empty clusters as options.empty says
///   final E-step gives assignments and distances.
///
/// For kCosine the rows of x must be L2-normalised (checked).
///
/// Distributed: each process passes its own rows, and the processes' rows in rank order make one
/// global matrix. Every random draw (initial rows, k-means++, the points that refill empty
/// clusters) is made over global row numbers, and sums, counts and the objective are all-reduced,
/// so every process ends with the same centroids and counts, and these equal one process's on the
/// whole matrix up to the order of float sums. assignments and distances are this process's rows.
/// k must not exceed the global number of rows. Throws c10::Error on a broken precondition.
KMeansResult kmeans(const torch::Tensor& x, const KMeansOptions& options,
                    Collective& collective = single_process());

/// The E-step alone: nearest centroid of every row of x [N, D] under `metric`, chunked. Returns
/// {assignments int64 [N], distances [N]}.
std::pair<torch::Tensor, torch::Tensor> kmeans_assign(const torch::Tensor& x,
                                                      const torch::Tensor& centroids,
                                                      KMeansMetric metric,
                                                      int64_t chunk_rows = 16384);

}  // namespace swav
