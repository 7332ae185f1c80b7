#include "swav/models/backbone.h"

#include <cmath>

#include "swav/models/batch_norm.h"
#include "swav/util/error.h"

namespace swav {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride) {
  return nn::Conv2d(
      nn::Conv2dOptions(in, out, kernel).stride(stride).padding(kernel / 2).bias(false));
}

// A residual block; `bottleneck` selects 1x1-3x3-1x1 (expansion 4) over 3x3-3x3 (expansion 1).
class BlockImpl : public nn::Module {
 public:
  BlockImpl(int64_t in, int64_t planes, int64_t stride, bool bottleneck) {
    const int64_t out = planes * (bottleneck ? 4 : 1);
    if (bottleneck) {
      // Stride on the 3x3 convolution (ResNet v1.5), as torchvision and the reference do.
      body_ = register_module(
          "body", nn::Sequential(conv(in, planes, 1, 1), SyncBatchNorm2d(planes), nn::ReLU(true),
                                 conv(planes, planes, 3, stride), SyncBatchNorm2d(planes),
                                 nn::ReLU(true), conv(planes, out, 1, 1), SyncBatchNorm2d(out)));
    } else {
      body_ = register_module(
          "body", nn::Sequential(conv(in, planes, 3, stride), SyncBatchNorm2d(planes),
                                 nn::ReLU(true), conv(planes, out, 3, 1), SyncBatchNorm2d(out)));
    }
    if (stride != 1 || in != out) {
      shortcut_ = register_module("shortcut",
                                  nn::Sequential(conv(in, out, 1, stride), SyncBatchNorm2d(out)));
    }
  }
  torch::Tensor forward(torch::Tensor x) {
    auto identity = shortcut_ ? shortcut_->forward(x) : x;
    return torch::relu(body_->forward(x) + identity);
  }

 private:
  nn::Sequential body_{nullptr}, shortcut_{nullptr};
};
TORCH_MODULE(Block);

class ResNetImpl : public BackboneImpl {
 public:
  ResNetImpl(const ModelOptions& options, int64_t in_channels) {
    const bool bottleneck = options.arch == "resnet50";
    const std::vector<int64_t> depths =
        bottleneck ? std::vector<int64_t>{3, 4, 6, 3} : std::vector<int64_t>{2, 2, 2, 2};
    const int64_t base = std::max<int64_t>(1, std::llround(64 * options.width));
    nn::Sequential stem;
    if (options.stem == "cifar") {
      stem->push_back(conv(in_channels, base, 3, 1));
      stem->push_back(SyncBatchNorm2d(base));
      stem->push_back(nn::ReLU(true));
    } else {
      stem->push_back(conv(in_channels, base, 7, 2));
      stem->push_back(SyncBatchNorm2d(base));
      stem->push_back(nn::ReLU(true));
      stem->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
    }
    body_ = register_module("stem", stem);
    int64_t in = base;
    for (size_t stage = 0; stage < depths.size(); ++stage) {
      const int64_t planes = base << stage;
      nn::Sequential layer;
      for (int64_t b = 0; b < depths[stage]; ++b) {
        const int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
        layer->push_back(Block(in, planes, stride, bottleneck));
        in = planes * (bottleneck ? 4 : 1);
      }
      stages_.push_back(register_module("layer" + std::to_string(stage + 1), layer));
    }
    feature_dim_ = in;
    init_weights(*this);
  }

  torch::Tensor forward(torch::Tensor x) override {
    x = body_->forward(x);
    for (auto& s : stages_) x = s->forward(x);
    return x.mean({2, 3});
  }
  int64_t feature_dim() const override { return feature_dim_; }

  static void init_weights(nn::Module& root) {
    torch::NoGradGuard no_grad;
    for (auto& m : root.modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
  }

 private:
  nn::Sequential body_{nullptr};
  std::vector<nn::Sequential> stages_;
  int64_t feature_dim_ = 0;
};

// Three stages of two 3x3 conv-BN-ReLU layers, max-pool between stages; widths 32/64/128 x width.
class ConvNetImpl : public BackboneImpl {
 public:
  ConvNetImpl(const ModelOptions& options, int64_t in_channels) {
    nn::Sequential net;
    int64_t in = in_channels;
    for (int64_t stage = 0; stage < 3; ++stage) {
      const int64_t out = std::max<int64_t>(1, std::llround((32 << stage) * options.width));
      if (stage > 0) net->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
      for (int64_t l = 0; l < 2; ++l) {
        net->push_back(conv(l == 0 ? in : out, out, 3, 1));
        net->push_back(SyncBatchNorm2d(out));
        net->push_back(nn::ReLU(true));
      }
      in = out;
    }
    net_ = register_module("net", net);
    feature_dim_ = in;
    ResNetImpl::init_weights(*this);
  }
  torch::Tensor forward(torch::Tensor x) override { return net_->forward(x).mean({2, 3}); }
  int64_t feature_dim() const override { return feature_dim_; }

 private:
  nn::Sequential net_{nullptr};
  int64_t feature_dim_ = 0;
};

}  // namespace

std::shared_ptr<BackboneImpl> make_backbone(const ModelOptions& options, int64_t in_channels) {
  if (options.arch == "resnet18" || options.arch == "resnet50") {
    return std::make_shared<ResNetImpl>(options, in_channels);
  }
  if (options.arch == "convnet") return std::make_shared<ConvNetImpl>(options, in_channels);
  fail("model.arch: unknown architecture '{}' (expected resnet18, resnet50 or convnet)",
       options.arch);
}

}  // namespace swav
