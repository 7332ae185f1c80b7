// The one batched no-grad pass over a data set (swav/models/inference.h).
#include <catch2/catch.hpp>

#include <stdexcept>

#include "swav/models/inference.h"

TEST_CASE("batched_forward visits every row once, in order, in eval mode without grad",
          "[models][inference]") {
  torch::nn::Linear net(3, 2);
  net->train();
  const auto items = torch::arange(30, torch::kFloat32).reshape({10, 3});
  std::vector<int64_t> sizes;
  const auto out = swav::batched_forward(*net, items, 4, [&](const torch::Tensor& slice) {
    CHECK_FALSE(net->is_training());
    CHECK_FALSE(torch::GradMode::is_enabled());
    sizes.push_back(slice.size(0));
    return net->forward(slice);
  });
  CHECK(sizes == std::vector<int64_t>{4, 4, 2});
  CHECK(net->is_training());  // restored
  CHECK_FALSE(out.requires_grad());
  torch::NoGradGuard no_grad;
  CHECK(torch::allclose(out, net->forward(items)));
}

TEST_CASE("the module's mode is restored when the pass throws", "[models][inference]") {
  torch::nn::Linear net(3, 2);
  net->train();
  CHECK_THROWS_AS(swav::for_each_batch(*net, 5, 2,
                                       [&](int64_t begin, int64_t) {
                                         if (begin == 2) throw std::runtime_error("bad batch");
                                       }),
                  std::runtime_error);
  CHECK(net->is_training());
  net->eval();
  swav::for_each_batch(*net, 3, 8, [](int64_t, int64_t rows) { CHECK(rows == 3); });
  CHECK_FALSE(net->is_training());  // eval stays eval
}
