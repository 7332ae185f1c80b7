#include "eval/features.h"

#include "swav/data/multicrop.h"
#include "swav/models/inference.h"

namespace swav {

torch::Tensor extract_features(BackboneImpl& backbone, const ImageSet& set,
                               const std::vector<double>& mean, const std::vector<double>& std,
                               torch::Device device, int64_t batch_size) {
  return batched_forward(backbone, set, batch_size, [&](const torch::Tensor& images) {
    return backbone.forward(normalize_images(images, mean, std).to(device))
        .to(torch::kCPU, torch::kFloat32);
  });
}

}  // namespace swav
