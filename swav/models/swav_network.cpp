#include "swav/models/swav_network.h"

#include "swav/data/multicrop.h"

namespace swav {

namespace F = torch::nn::functional;

SwavNetworkImpl::SwavNetworkImpl(const ModelOptions& options, int64_t in_channels) {
  backbone = register_module("backbone", make_backbone(options, in_channels));
  head = register_module(
      "head", ProjectionHead(backbone->feature_dim(), options.hidden_dim, options.output_dim));
  prototypes = register_module("prototypes", Prototypes(options.output_dim, options.prototypes));
}

std::pair<torch::Tensor, std::vector<torch::Tensor>> SwavNetworkImpl::forward(
    const std::vector<torch::Tensor>& crops) {
  std::vector<torch::Tensor> features;
  for (const auto& batch : cat_equal_resolutions(crops))
    features.push_back(backbone->forward(batch));
  auto z = F::normalize(head->forward(torch::cat(features)), F::NormalizeFuncOptions().dim(1).p(2));
  return {z, prototypes->forward(z)};
}

}  // namespace swav
