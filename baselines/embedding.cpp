#include "baselines/embedding.h"

#include "swav/data/multicrop.h"

namespace swav {

namespace F = torch::nn::functional;

EmbeddingNetImpl::EmbeddingNetImpl(const ModelOptions& options, int64_t in_channels) {
  backbone = register_module("backbone", make_backbone(options, in_channels));
  head = register_module(
      "head", ProjectionHead(backbone->feature_dim(), options.hidden_dim, options.output_dim));
}

torch::Tensor EmbeddingNetImpl::forward(const std::vector<torch::Tensor>& crops) {
  std::vector<torch::Tensor> features;
  for (const auto& batch : cat_equal_resolutions(crops))
    features.push_back(backbone->forward(batch));
  return F::normalize(head->forward(torch::cat(features)), F::NormalizeFuncOptions().dim(1).p(2));
}

std::vector<torch::Tensor> crops_on(const std::vector<torch::Tensor>& views, torch::Device device) {
  std::vector<torch::Tensor> crops;
  crops.reserve(views.size());
  for (const auto& v : views) crops.push_back(v.to(device, /*non_blocking=*/true));
  return crops;
}

torch::Tensor embed_dataset(EmbeddingNetImpl& net, const torch::Tensor& images,
                            const std::vector<double>& mean, const std::vector<double>& std,
                            torch::Device device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = net.is_training();
  net.eval();
  std::vector<torch::Tensor> out;
  for (int64_t begin = 0; begin < images.size(0); begin += batch_size) {
    const int64_t rows = std::min(batch_size, images.size(0) - begin);
    auto x = normalize_images(images.narrow(0, begin, rows), mean, std).to(device);
    out.push_back(net.forward({x}));
  }
  net.train(was_training);
  return torch::cat(out);
}

}  // namespace swav
