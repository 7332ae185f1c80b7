#include "swav/models/swav_network.h"

namespace swav {

SwavNetworkImpl::SwavNetworkImpl(const ModelOptions& options, int64_t in_channels)
    : EmbeddingNetImpl(options, in_channels) {
  prototypes = register_module("prototypes", Prototypes(options.output_dim, options.prototypes));
}

std::pair<torch::Tensor, std::vector<torch::Tensor>> SwavNetworkImpl::forward(
    const std::vector<torch::Tensor>& crops) {
  auto z = embed(crops);
  return {z, prototypes->forward(z)};
}

}  // namespace swav
