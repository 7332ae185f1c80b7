#include "swav/models/embedding_net.h"

#include "swav/data/multicrop.h"
#include "swav/models/inference.h"

namespace swav {

namespace F = torch::nn::functional;

EmbeddingNetImpl::EmbeddingNetImpl(const ModelOptions& options, int64_t in_channels) {
  backbone = register_module("backbone", make_backbone(options, in_channels));
  head = register_module(
      "head", ProjectionHead(backbone->feature_dim(), options.hidden_dim, options.output_dim));
}

torch::Tensor EmbeddingNetImpl::embed(const std::vector<torch::Tensor>& crops) {
  std::vector<torch::Tensor> features;
  for (const auto& batch : cat_equal_resolutions(crops))
    features.push_back(backbone->forward(batch));
  return F::normalize(head->forward(torch::cat(features)), F::NormalizeFuncOptions().dim(1).p(2));
}

torch::Tensor embed_dataset(EmbeddingNetImpl& net, const torch::Tensor& images,
                            const std::vector<double>& mean, const std::vector<double>& std,
                            torch::Device device, int64_t batch_size) {
  return batched_forward(net, images, batch_size, [&](const torch::Tensor& slice) {
    return net.embed({normalize_images(slice, mean, std).to(device)});
  });
}

}  // namespace swav
