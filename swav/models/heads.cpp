#include "swav/models/heads.h"

#include "swav/models/batch_norm.h"

namespace swav {

namespace nn = torch::nn;

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in, int64_t hidden, int64_t out) {
  nn::Sequential net;
  if (hidden > 0) {
    net->push_back(nn::Linear(in, hidden));
    net->push_back(SyncBatchNorm1d(hidden));
    net->push_back(nn::ReLU(true));
    net->push_back(nn::Linear(hidden, out));
  } else {
    net->push_back(nn::Linear(in, out));
  }
  net_ = register_module("net", net);
}

torch::Tensor ProjectionHeadImpl::forward(torch::Tensor x) {
  return net_->forward(x);
}

PrototypesImpl::PrototypesImpl(int64_t dim, const std::vector<int64_t>& counts) {
  for (size_t h = 0; h < counts.size(); ++h) {
    heads_.push_back(register_module("head" + std::to_string(h),
                                     nn::Linear(nn::LinearOptions(dim, counts[h]).bias(false))));
  }
}

std::vector<torch::Tensor> PrototypesImpl::forward(const torch::Tensor& z) {
  std::vector<torch::Tensor> out;
  out.reserve(heads_.size());
  for (auto& head : heads_) out.push_back(head->forward(z));
  return out;
}

void PrototypesImpl::normalize() {
  torch::NoGradGuard no_grad;
  for (auto& head : heads_) {
    head->weight.copy_(torch::nn::functional::normalize(
        head->weight, torch::nn::functional::NormalizeFuncOptions().dim(1).p(2)));
  }
}

}  // namespace swav
