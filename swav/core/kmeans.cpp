#include "swav/core/kmeans.h"

#include <limits>
#include <vector>

namespace swav {

namespace F = torch::nn::functional;

std::pair<torch::Tensor, torch::Tensor> kmeans_assign(const torch::Tensor& x,
                                                      const torch::Tensor& centroids,
                                                      KMeansMetric metric, int64_t chunk_rows) {
  TORCH_CHECK(x.dim() == 2 && centroids.dim() == 2 && x.size(1) == centroids.size(1),
              "kmeans_assign: x [N, D] and centroids [K, D] must agree in D, got ", x.sizes(),
              " and ", centroids.sizes());
  TORCH_CHECK(chunk_rows >= 1, "kmeans_assign: chunk_rows must be >= 1");
  torch::NoGradGuard no_grad;
  const int64_t N = x.size(0);
  auto assignments = torch::empty({N}, x.options().dtype(torch::kLong));
  auto distances = torch::empty({N}, x.options());
  const auto c_t = centroids.t();
  torch::Tensor c_sq;
  if (metric == KMeansMetric::kEuclidean) c_sq = centroids.square().sum(1);
  for (int64_t begin = 0; begin < N; begin += chunk_rows) {
    const int64_t rows = std::min(chunk_rows, N - begin);
    auto xs = x.narrow(0, begin, rows);
    auto dot = torch::mm(xs, c_t);  // [rows, K]
    torch::Tensor d;
    if (metric == KMeansMetric::kCosine) {
      d = 1 - dot;
    } else {
      d = (xs.square().sum(1, /*keepdim=*/true) - 2 * dot + c_sq.unsqueeze(0)).clamp_min_(0);
    }
    auto [best, index] = d.min(1);
    assignments.narrow(0, begin, rows).copy_(index);
    distances.narrow(0, begin, rows).copy_(best);
  }
  return {assignments, distances};
}

namespace {

/// Where this process's rows sit in the one global matrix that the processes' rows make in rank
/// order. Every draw below is made over global row numbers, so the centroids do not depend on
/// how the rows are split across processes.
struct Partition {
  std::vector<int64_t> rows;  // rows of every process
  int64_t offset = 0;         // global number of this process's first row
  int64_t total = 0;
};

Partition partition_of(const torch::Tensor& x, Collective& collective) {
  Partition p;
  auto sizes = collective.all_gather_cat(
      torch::tensor({x.size(0)}, torch::TensorOptions().dtype(torch::kLong)));
  for (int64_t r = 0; r < sizes.size(0); ++r) {
    const int64_t n = sizes[r].item<int64_t>();
    if (r < collective.rank()) p.offset += n;
    p.total += n;
    p.rows.push_back(n);
  }
  return p;
}

/// Rows `global` (int64, CPU) of the global matrix, on every process: each process copies the
/// ones it holds into zeros and a sum over processes fills in the rest (exact: x + 0 = x).
torch::Tensor global_rows(const torch::Tensor& x, const Partition& p, const torch::Tensor& global,
                          Collective& collective) {
  auto out = torch::zeros({global.size(0), x.size(1)}, x.options());
  auto local = global - p.offset;
  auto held = local.ge(0).logical_and(local.lt(x.size(0)));
  auto slots = torch::nonzero(held).flatten();
  if (slots.numel() > 0) {
    out.index_copy_(0, slots.to(x.device()),
                    x.index_select(0, local.index_select(0, slots).to(x.device())));
  }
  collective.all_reduce_sum(out);
  return out;
}

/// A per-row vector of every process, in global order, on the CPU.
torch::Tensor global_vector(const torch::Tensor& local, const Partition& p,
                            Collective& collective) {
  return gather_blocks(local.cpu(), p.rows, collective);
}

// Initial centroids, drawn over global row numbers (the same on every process).
torch::Tensor initial_centroids(const torch::Tensor& x, const Partition& part,
                                const KMeansOptions& o, uint64_t seed, Collective& collective) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t N = part.total;
  const auto as_long = torch::TensorOptions().dtype(torch::kLong);
  if (o.init == KMeansInit::kRandom) {
    auto pick = torch::randperm(N, gen, as_long).narrow(0, 0, o.k);
    return global_rows(x, part, pick, collective);
  }
  // k-means++: first centroid uniform, then each next one with probability proportional to the
  // distance to the nearest chosen centroid (squared Euclidean, or 1 - cos, which is half of it for
  // unit rows).
  auto centroids = torch::empty({o.k, x.size(1)}, x.options());
  const int64_t first = torch::randint(N, {1}, gen, as_long).item<int64_t>();
  centroids[0].copy_(global_rows(x, part, torch::tensor({first}, as_long), collective)[0]);
  auto nearest = kmeans_assign(x, centroids.narrow(0, 0, 1), o.metric, o.chunk_rows).second;
  for (int64_t j = 1; j < o.k; ++j) {
    auto weights =
        global_vector(nearest.to(torch::kFloat64), part, collective).clamp_min(0);
    int64_t next;
    if (weights.sum().item<double>() <= 0) {
      // Every point coincides with a chosen centroid: any point will do.
      next = torch::randint(N, {1}, gen, as_long).item<int64_t>();
    } else {
      next = torch::multinomial(weights, 1, /*replacement=*/false, gen).item<int64_t>();
    }
    centroids[j].copy_(global_rows(x, part, torch::tensor({next}, as_long), collective)[0]);
    auto d = kmeans_assign(x, centroids.narrow(0, j, 1), o.metric, o.chunk_rows).second;
    nearest = torch::minimum(nearest, d);
  }
  return centroids;
}

double mean_objective(const torch::Tensor& distances, int64_t n_global, Collective& collective) {
  auto total = distances.to(torch::kFloat64).sum().reshape({1});
  collective.all_reduce_sum(total);
  return total.item<double>() / static_cast<double>(n_global);
}

/// KMeansEmpty::kFarthest: moves each empty cluster onto the point farthest from its centroid
/// among clusters with more than one member, over the global rows (the same choice on every
/// process).
void refill_empty(torch::Tensor& centroids, const torch::Tensor& x, const Partition& part,
                  const torch::Tensor& counts, const torch::Tensor& assign,
                  const torch::Tensor& dist, Collective& collective) {
  auto empty = torch::nonzero(counts.eq(0)).flatten().cpu();
  if (empty.numel() == 0) return;
  auto counts_cpu = counts.cpu().clone();
  auto assign_cpu = global_vector(assign, part, collective);
  auto candidate = global_vector(dist.to(torch::kFloat64), part, collective).clone();
  auto count_acc = counts_cpu.accessor<int64_t, 1>();
  auto assign_acc = assign_cpu.accessor<int64_t, 1>();
  auto cand_acc = candidate.accessor<double, 1>();
  // Points alone in their cluster are not taken (that would empty another cluster).
  for (int64_t n = 0; n < candidate.size(0); ++n)
    if (count_acc[assign_acc[n]] <= 1) cand_acc[n] = -1;
  std::vector<int64_t> clusters, points;
  for (int64_t e = 0; e < empty.size(0); ++e) {
    const int64_t n = candidate.argmax().item<int64_t>();
    if (cand_acc[n] <= 0) break;  // nothing left that is away from its centroid
    clusters.push_back(empty[e].item<int64_t>());
    points.push_back(n);
    const int64_t from = assign_acc[n];
    cand_acc[n] = -1;
    if (--count_acc[from] <= 1) {
      for (int64_t m = 0; m < candidate.size(0); ++m)
        if (assign_acc[m] == from) cand_acc[m] = -1;
    }
  }
  if (points.empty()) return;
  const auto as_long = torch::TensorOptions().dtype(torch::kLong);
  auto rows = global_rows(x, part, torch::tensor(points, as_long), collective);
  centroids.index_copy_(0, torch::tensor(clusters, as_long).to(centroids.device()), rows);
}

KMeansResult run_once(const torch::Tensor& x, const Partition& part, const KMeansOptions& o,
                      uint64_t seed, Collective& collective) {
  const int64_t K = o.k;
  const int64_t N = part.total;
  torch::Tensor centroids = initial_centroids(x, part, o, seed, collective);

  KMeansResult result;
  for (int64_t it = 0;; ++it) {
    auto [assign, dist] = kmeans_assign(x, centroids, o.metric, o.chunk_rows);
    result.objective.push_back(mean_objective(dist, N, collective));
    auto counts = torch::zeros({K}, x.options().dtype(torch::kLong));
    counts.index_add_(0, assign, torch::ones_like(assign));
    collective.all_reduce_sum(counts);
    if (it == o.iterations) {
      result.assignments = assign;
      result.distances = dist;
      result.counts = counts;
      break;
    }
    // M-step: per-cluster sums and counts over every process.
    auto sums = torch::zeros_like(centroids);
    sums.index_add_(0, assign, x);
    collective.all_reduce_sum(sums);
    auto filled = counts.gt(0);
    auto means = sums / counts.clamp_min(1).unsqueeze(1).to(x.scalar_type());
    if (o.metric == KMeansMetric::kCosine) means = F::normalize(means, F::NormalizeFuncOptions().dim(1));
    centroids = torch::where(filled.unsqueeze(1), means, centroids);
    if (o.empty == KMeansEmpty::kFarthest)
      refill_empty(centroids, x, part, counts, assign, dist, collective);
  }
  result.centroids = centroids;
  return result;
}

}  // namespace

KMeansResult kmeans(const torch::Tensor& x, const KMeansOptions& options, Collective& collective) {
  TORCH_CHECK(x.dim() == 2, "kmeans: x must be [N, D], got ", x.sizes());
  TORCH_CHECK(x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64,
              "kmeans: x must be float32 or float64");
  TORCH_CHECK(options.k >= 1, "kmeans: k must be >= 1, got ", options.k);
  TORCH_CHECK(options.iterations >= 0 && options.restarts >= 1,
              "kmeans: iterations must be >= 0 and restarts >= 1");
  torch::NoGradGuard no_grad;
  const Partition part = partition_of(x, collective);
  TORCH_CHECK(options.k <= part.total, "kmeans: k = ", options.k, " is more than the ",
              part.total, " points");
  auto data = x.contiguous();
  if (options.metric == KMeansMetric::kCosine) {
    auto norms = data.norm(2, 1);
    TORCH_CHECK(torch::allclose(norms, torch::ones_like(norms), 1e-3, 1e-3),
                "kmeans: cosine metric needs L2-normalised rows");
  }
  KMeansResult best;
  for (int64_t r = 0; r < options.restarts; ++r) {
    // Restarts draw from seeds derived from the one seed (odd multiplier: distinct per restart).
    auto result = run_once(data, part, options, options.seed + 0x9E3779B97F4A7C15ULL * r, collective);
    if (r == 0 || result.objective.back() < best.objective.back()) best = std::move(result);
  }
  return best;
}

}  // namespace swav
