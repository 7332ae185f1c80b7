// Collective communication, passed into the math that needs global reductions (Sinkhorn, queues,
// k-means). One process: every reduction is the identity. Multi-process implementations (c10d Gloo
// on CPU, NCCL on GPU) implement the same interface.
#pragma once
#include <torch/torch.h>

#include <memory>

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

}  // namespace swav
