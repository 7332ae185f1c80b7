// Projection head and prototype heads shared by SwAV and the clustering baselines.
#pragma once
#include <torch/torch.h>

#include <vector>

namespace swav {

/// Linear(in -> hidden) -> BN1d -> ReLU -> Linear(hidden -> out), or Linear(in -> out) when
/// hidden == 0. Output is not normalised (callers L2-normalise where the method says so).
class ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in, int64_t hidden, int64_t out);
  torch::Tensor forward(torch::Tensor x);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(ProjectionHead);

/// One or several prototype matrices C_h: Linear(dim -> K_h, no bias). scores_h = z C_h^T.
class PrototypesImpl : public torch::nn::Module {
 public:
  PrototypesImpl(int64_t dim, const std::vector<int64_t>& counts);
  /// Scores of every head: one [B, K_h] tensor per head.
  std::vector<torch::Tensor> forward(const torch::Tensor& z);
  /// L2-normalises every prototype row in place, without autograd.
  void normalize();
  int64_t num_heads() const { return static_cast<int64_t>(heads_.size()); }
  torch::Tensor& weight(int64_t head) { return heads_[head]->weight; }

 private:
  std::vector<torch::nn::Linear> heads_;
};
TORCH_MODULE(Prototypes);

}  // namespace swav
