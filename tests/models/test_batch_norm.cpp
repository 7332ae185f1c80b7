// Synchronised batch norm on one process must be torch's BatchNorm: output, running statistics and
// every gradient (the multi-process equivalence is tests/dist's SwAV test).
#include <catch2/catch.hpp>

#include <functional>

#include "swav/models/batch_norm.h"

namespace {

/// Forward + backward of a fixed loss through `bn` on `x`; returns output and the gradients.
std::vector<torch::Tensor> run(torch::nn::Module& bn,
                               const std::function<torch::Tensor(torch::Tensor)>& f,
                               const torch::Tensor& input) {
  auto x = input.clone().requires_grad_(true);
  auto y = f(x);
  // A loss whose gradient differs per element, so every term of the backward matters.
  auto w = torch::linspace(-1, 2, y.numel(), torch::kFloat32).view_as(y);
  (y * w).sum().backward();
  auto params = bn.parameters();
  return {y.detach(), x.grad(), params[0].grad(), params[1].grad()};
}

}  // namespace

TEST_CASE("synchronised batch norm on one process equals torch's BatchNorm",
          "[models][batchnorm]") {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(3);
  for (int dims : {2, 4}) {
    INFO(dims << "-D input");
    const auto x =
        dims == 2 ? torch::randn({12, 5}, gen) * 3 + 1 : torch::randn({6, 5, 4, 3}, gen) * 3 + 1;
    using torch::nn::AnyModule;
    auto plain =
        dims == 2 ? AnyModule(torch::nn::BatchNorm1d(5)) : AnyModule(torch::nn::BatchNorm2d(5));
    auto synced =
        dims == 2 ? AnyModule(swav::SyncBatchNorm1d(5)) : AnyModule(swav::SyncBatchNorm2d(5));
    const auto a = plain.ptr(), b = synced.ptr();
    {
      torch::NoGradGuard no_grad;
      for (auto* m : {a.get(), b.get()}) {
        m->parameters()[0].copy_(torch::linspace(0.5, 1.5, 5));
        m->parameters()[1].copy_(torch::linspace(-0.2, 0.3, 5));
      }
    }
    REQUIRE(swav::sync_batch_norm(*b, &swav::single_process()) == 1);
    const auto r_plain = run(
        *a, [&](torch::Tensor t) { return plain.forward(t); }, x);
    const auto r_sync = run(
        *b, [&](torch::Tensor t) { return synced.forward(t); }, x);
    for (size_t i = 0; i < r_plain.size(); ++i) {
      INFO("output, input grad, weight grad, bias grad: " << i);
      CHECK(torch::allclose(r_sync[i], r_plain[i], 1e-5, 1e-5));
    }
    // Running statistics (momentum 0.1, unbiased variance) and the batch counter.
    const auto buffers_plain = a->buffers(), buffers_sync = b->buffers();
    REQUIRE(buffers_plain.size() == buffers_sync.size());
    for (size_t i = 0; i < buffers_plain.size(); ++i) {
      INFO("buffer " << i);
      CHECK(torch::allclose(buffers_sync[i].to(torch::kFloat64),
                            buffers_plain[i].to(torch::kFloat64), 1e-6, 1e-6));
    }
    // In eval mode it normalises with the running statistics, as torch's module does.
    b->eval();
    a->eval();
    CHECK(torch::allclose(synced.forward(x), plain.forward(x), 1e-5, 1e-5));
    REQUIRE(swav::sync_batch_norm(*b, nullptr) == 1);
  }
}
