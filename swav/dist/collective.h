// Collective communication, passed into the math that needs global reductions (Sinkhorn, queues,
// k-means). One process: every reduction is the identity. Multi-process implementations (c10d Gloo
// on CPU, NCCL on GPU) implement the same interface.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

namespace swav {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t world_size() const = 0;
  /// In-place sum of `tensor` over all processes.
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
  /// Concatenation along dim 0 of every process's `tensor` (same shape on every process).
  virtual torch::Tensor all_gather_cat(const torch::Tensor& tensor) = 0;
  /// Copies rank 0's `tensor` into every process's `tensor`.
  virtual void broadcast(torch::Tensor& tensor) = 0;
  virtual void barrier() = 0;
};

/// The single-process collective: world size 1, reductions are no-ops.
class SingleProcess final : public Collective {
 public:
  int64_t rank() const override { return 0; }
  int64_t world_size() const override { return 1; }
  void all_reduce_sum(torch::Tensor&) override {}
  torch::Tensor all_gather_cat(const torch::Tensor& tensor) override { return tensor; }
  void broadcast(torch::Tensor&) override {}
  void barrier() override {}
};

/// A shared single-process collective, for callers that run alone.
Collective& single_process();

/// The sum of `rows` over every process (no communication on one process): a global batch whose
/// processes may hold different numbers of rows.
int64_t total_rows(int64_t rows, Collective& collective);

/// The contiguous block of `n` rows (global order) that `rank` of `world` holds when a pass over
/// a whole data set is split across processes: rank r gets floor(n / world) rows, one more if
/// r < n mod world, after the blocks of ranks 0..r-1. Concatenating the blocks in rank order gives
/// rows 0..n-1.
struct RowBlock {
  int64_t begin = 0;
  int64_t rows = 0;
};
RowBlock split_rows(int64_t n, int64_t rank, int64_t world);

/// Every process's block (split_rows(n, rank, world)) of a tensor, concatenated in rank order:
/// the whole [n, ...] tensor, on every process, on `local`'s device. One all-gather of blocks
/// padded to the largest.
torch::Tensor gather_rows(const torch::Tensor& local, int64_t n, Collective& collective);

/// The same for blocks of any sizes: process r holds rows_per_rank[r] rows of `local`'s shape.
torch::Tensor gather_blocks(const torch::Tensor& local, const std::vector<int64_t>& rows_per_rank,
                            Collective& collective);

/// all_gather_cat that autograd sees through: the result is [world * B, ...] (every process's
/// `tensor`, rank order), and the gradient reaching this process's input is the sum over every
/// process of the gradient of its loss with respect to this process's rows (one all-reduce in
/// backward). With the trainer's gradient averaging this gives the gradient of the mean of the
/// processes' losses, as one process with the whole batch would (SimCLR's negatives).
torch::Tensor all_gather_with_grad(const torch::Tensor& tensor, Collective& collective);

}  // namespace swav
