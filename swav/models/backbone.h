// Backbones: ResNet-18/50 (ImageNet or CIFAR stem, width multiplier) and a small ConvNet for fast
// runs.
#pragma once
#include <torch/torch.h>

#include <memory>

#include "swav/config/options.h"

namespace swav {

/// A feature extractor: images [B, C, H, W] -> globally average-pooled features [B, feature_dim()].
class BackboneImpl : public torch::nn::Module {
 public:
  virtual torch::Tensor forward(torch::Tensor x) = 0;
  virtual int64_t feature_dim() const = 0;
};

/// Builds the backbone named by options.arch ("resnet18", "resnet50", "convnet") for images with
/// `in_channels` channels. Convolutions use Kaiming-normal (fan_out) initialisation, BN weight 1
/// and bias 0, as the reference ResNets do; the draw uses torch's default generator (seed it
/// first).
std::shared_ptr<BackboneImpl> make_backbone(const ModelOptions& options, int64_t in_channels);

}  // namespace swav
