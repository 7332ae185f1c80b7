#include "swav/core/sinkhorn.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace swav {

namespace {

void check_arguments(const torch::Tensor& scores, double epsilon, int64_t iterations) {
  TORCH_CHECK(scores.dim() == 2, "sinkhorn: scores must be [B, K], got ", scores.sizes());
  TORCH_CHECK(scores.numel() > 0, "sinkhorn: scores must not be empty, got ", scores.sizes());
  TORCH_CHECK(scores.is_floating_point(), "sinkhorn: scores must be floating point, got ", scores.dtype());
  TORCH_CHECK(epsilon > 0, "sinkhorn: epsilon must be positive, got ", epsilon);
  TORCH_CHECK(iterations >= 0, "sinkhorn: iterations must be >= 0, got ", iterations);
}

// The maximum over every process's scores: with a per-process max the processes' blocks of Q would
// be scaled differently before the all-reduced row sums mix them, which does not cancel.
torch::Tensor global_max(const torch::Tensor& scores, Collective& collective) {
  auto local = scores.max().reshape({1});
  if (collective.world_size() == 1) return local[0];
  return collective.all_gather_cat(local).max();
}

// sum_k q[k] * a[k] with eight independent accumulators, so the compiler can vectorise it (a
// single float accumulator is a serial dependency chain that it may not reorder).
float scaled_row_sum(const float* q, const float* a, int64_t K) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += q[k + j] * a[k + j];
  }
  float tail = 0;
  for (; k < K; ++k) tail += q[k] * a[k];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail;
}

// Rows are processed in blocks whose number depends only on B, never on the thread count, so the
// partial per-prototype sums (and hence the codes) are the same on any machine.
int64_t row_blocks(int64_t rows) { return std::clamp<int64_t>((rows + 15) / 16, 1, 64); }

// Sums the per-block partial sums [blocks, K] in block order into a float64 K-vector.
torch::Tensor reduce_partials(const std::vector<float>& partial, int64_t blocks, int64_t K) {
  auto sums = torch::empty({K}, torch::kFloat64);
  double* out = sums.data_ptr<double>();
  at::parallel_for(0, K, 2048, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      double s = 0;
      for (int64_t blk = 0; blk < blocks; ++blk) s += partial[blk * K + k];
      out[k] = s;
    }
  });
  return sums;
}

}  // namespace

torch::Tensor sinkhorn(const torch::Tensor& scores, double epsilon, int64_t iterations,
                       Collective& collective) {
  check_arguments(scores, epsilon, iterations);
  torch::NoGradGuard no_grad;
  auto S = scores.detach().to(torch::kFloat32);
  const int64_t K = S.size(1);
  const int64_t B = S.size(0) * collective.world_size();

  auto Q = ((S - global_max(S, collective)) / epsilon).exp().t();  // [K, B_local], a view
  auto total = Q.sum();
  collective.all_reduce_sum(total);
  Q.div_(total);
  for (int64_t it = 0; it < iterations; ++it) {
    auto row_sums = Q.sum(1, /*keepdim=*/true);
    collective.all_reduce_sum(row_sums);
    Q.div_(row_sums).div_(K);
    auto col_sums = Q.sum(0, /*keepdim=*/true);
    Q.div_(col_sums).div_(B);
  }
  return Q.mul_(B).t().contiguous();
}

torch::Tensor sinkhorn_fused_cpu(const torch::Tensor& scores, double epsilon, int64_t iterations,
                                 Collective& collective) {
  check_arguments(scores, epsilon, iterations);
  TORCH_CHECK(scores.device().is_cpu(), "sinkhorn_fused_cpu: scores must be on the CPU, got ",
              scores.device());
  torch::NoGradGuard no_grad;
  auto S = scores.detach().to(torch::kFloat32).contiguous();
  const int64_t rows = S.size(0), K = S.size(1);
  const int64_t B = rows * collective.world_size();
  const float max = global_max(S, collective).item<float>();
  const float eps = static_cast<float>(epsilon);

  auto Q = torch::empty({rows, K}, torch::kFloat32);  // the codes, [B_local, K] throughout
  const float* s_data = S.data_ptr<float>();
  float* q_data = Q.data_ptr<float>();
  const int64_t blocks = row_blocks(rows);
  std::vector<float> partial(static_cast<size_t>(blocks * K));
  auto block_rows = [&](int64_t blk) {
    return std::make_pair(blk * rows / blocks, (blk + 1) * rows / blocks);
  };

  // Pass 0: E = exp((S - max) / eps) and its per-prototype partial sums.
  at::parallel_for(0, blocks, 1, [&](int64_t blk0, int64_t blk1) {
    for (int64_t blk = blk0; blk < blk1; ++blk) {
      float* part = partial.data() + blk * K;
      std::fill(part, part + K, 0.0f);
      auto [r0, r1] = block_rows(blk);
      for (int64_t r = r0; r < r1; ++r) {
        const float* s = s_data + r * K;
        float* q = q_data + r * K;
        for (int64_t k = 0; k < K; ++k) {
          q[k] = std::exp((s[k] - max) / eps);
          part[k] += q[k];
        }
      }
    }
  });
  auto proto_sums = reduce_partials(partial, blocks, K);
  collective.all_reduce_sum(proto_sums);

  if (iterations == 0) {  // only the division by the total, then the final * B
    const double total = proto_sums.sum().item<double>();
    return Q.mul_(static_cast<double>(B) / total);
  }

  // Dividing E by its total first is cancelled exactly by the first row normalisation, so the
  // stored matrix stays E until then: a[k] = 1 / (K * rowsum_k) applies to E as to E / total.
  std::vector<float> a(static_cast<size_t>(K));
  for (int64_t it = 0; it < iterations; ++it) {
    const double* sums = proto_sums.data_ptr<double>();
    for (int64_t k = 0; k < K; ++k) a[k] = static_cast<float>(1.0 / (static_cast<double>(K) * sums[k]));
    const bool last = it + 1 == iterations;
    // Q[b, k] <- Q[b, k] * a[k] / (B * c_b) with c_b = sum_k Q[b, k] * a[k]; the last iteration
    // folds in the final * B.
    at::parallel_for(0, blocks, 1, [&](int64_t blk0, int64_t blk1) {
      const float* __restrict__ scale = a.data();
      for (int64_t blk = blk0; blk < blk1; ++blk) {
        float* __restrict__ part = partial.data() + blk * K;
        if (!last) std::fill(part, part + K, 0.0f);
        auto [r0, r1] = block_rows(blk);
        for (int64_t r = r0; r < r1; ++r) {
          float* __restrict__ q = q_data + r * K;
          const float c = scaled_row_sum(q, scale, K);
          const float col = last ? 1.0f / c : 1.0f / (static_cast<float>(B) * c);
          if (last) {
            for (int64_t k = 0; k < K; ++k) q[k] = q[k] * scale[k] * col;
          } else {
            for (int64_t k = 0; k < K; ++k) {
              q[k] = q[k] * scale[k] * col;
              part[k] += q[k];
            }
          }
        }
      }
    });
    if (!last) {
      proto_sums = reduce_partials(partial, blocks, K);
      collective.all_reduce_sum(proto_sums);
    }
  }
  return Q;
}

torch::Tensor sinkhorn_codes(const torch::Tensor& scores, double epsilon, int64_t iterations,
                             SinkhornImpl impl, Collective& collective) {
  if (impl == SinkhornImpl::kFused) {
    if (scores.device().is_cpu()) return sinkhorn_fused_cpu(scores, epsilon, iterations, collective);
#ifdef SWAV_WITH_CUDA
    if (scores.device().is_cuda()) return sinkhorn_fused_cuda(scores, epsilon, iterations, collective);
#endif
  }
  return sinkhorn(scores, epsilon, iterations, collective);
}

}  // namespace swav
