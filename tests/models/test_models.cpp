#include <catch2/catch.hpp>

#include "swav/method/swav.h"
#include "swav/models/backbone.h"
#include "swav/models/heads.h"

using namespace swav;

TEST_CASE("backbones give pooled features of the documented size", "[models]") {
  torch::manual_seed(0);
  struct Case {
    std::string arch, stem;
    double width;
    int64_t channels, size, dim;
  };
  for (const auto& c : std::vector<Case>{{"resnet18", "cifar", 0.25, 3, 16, 128},
                                         {"resnet18", "imagenet", 0.25, 1, 32, 128},
                                         {"resnet50", "imagenet", 0.125, 3, 32, 256},
                                         {"convnet", "imagenet", 1.0, 1, 28, 128}}) {
    ModelOptions options;
    options.arch = c.arch;
    options.stem = c.stem;
    options.width = c.width;
    auto net = make_backbone(options, c.channels);
    auto out = net->forward(torch::randn({2, c.channels, c.size, c.size}));
    INFO(c.arch << " " << c.stem);
    CHECK(out.sizes() == torch::IntArrayRef({2, c.dim}));
    CHECK(net->feature_dim() == c.dim);
  }
}

TEST_CASE("prototype normalisation makes unit rows and keeps directions", "[models]") {
  torch::manual_seed(1);
  Prototypes prototypes(8, std::vector<int64_t>{5, 7});
  auto before = prototypes->weight(1).detach().clone();
  prototypes->normalize();
  for (int64_t h = 0; h < 2; ++h) {
    auto norms = prototypes->weight(h).norm(2, 1);
    CHECK(torch::allclose(norms, torch::ones_like(norms), 1e-6, 1e-6));
  }
  auto cosine = (before * prototypes->weight(1)).sum(1) / before.norm(2, 1);
  CHECK(torch::allclose(cosine, torch::ones_like(cosine), 1e-5, 1e-5));
  auto scores = prototypes->forward(torch::randn({3, 8}));
  REQUIRE(scores.size() == 2);
  CHECK(scores[1].sizes() == torch::IntArrayRef({3, 7}));
}

TEST_CASE("the SwAV network runs the head once over all crops, grouped by resolution", "[models]") {
  torch::manual_seed(2);
  ModelOptions options;
  options.arch = "convnet";
  options.width = 0.25;
  options.hidden_dim = 16;
  options.output_dim = 8;
  options.prototypes = {10};
  SwavNetwork net(options, 1);
  std::vector<torch::Tensor> crops = {torch::randn({4, 1, 16, 16}), torch::randn({4, 1, 16, 16}),
                                      torch::randn({4, 1, 8, 8})};
  auto [z, scores] = net->forward(crops);
  CHECK(z.sizes() == torch::IntArrayRef({12, 8}));
  CHECK(torch::allclose(z.norm(2, 1), torch::ones({12}), 1e-5, 1e-5));
  CHECK(scores[0].sizes() == torch::IntArrayRef({12, 10}));
  // In eval mode (BN fixed) a crop's embedding does not depend on the other crops.
  net->eval();
  auto [z_all, s_all] = net->forward(crops);
  auto [z_one, s_one] = net->forward({crops[2]});
  CHECK(torch::allclose(z_all.narrow(0, 8, 4), z_one, 1e-5, 1e-5));
}
