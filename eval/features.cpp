#include "eval/features.h"

#include "swav/data/multicrop.h"

namespace swav {

torch::Tensor extract_features(BackboneImpl& backbone, const ImageSet& set,
                               const std::vector<double>& mean, const std::vector<double>& std,
                               torch::Device device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  const bool was_training = backbone.is_training();
  backbone.eval();
  std::vector<torch::Tensor> chunks;
  for (int64_t begin = 0; begin < set.size(); begin += batch_size) {
    const int64_t n = std::min(batch_size, set.size() - begin);
    auto images = normalize_images(set.images.narrow(0, begin, n), mean, std).to(device);
    chunks.push_back(backbone.forward(images).to(torch::kCPU, torch::kFloat32));
  }
  backbone.train(was_training);
  return torch::cat(chunks);
}

}  // namespace swav
