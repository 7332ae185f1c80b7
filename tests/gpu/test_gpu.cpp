// CUDA against CPU: the loss, Sinkhorn on large shapes, and whole training steps (fp32,
// channels-last, bf16 autocast). Every test here is tagged [gpu]: without a device ctest shows it
// as skipped (tests/main.cpp); run alone with `ctest --preset gpu` or `swav_tests "[gpu]"`.
#include <catch2/catch.hpp>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>

#include "helpers.h"
#include "swav/core/losses.h"
#include "swav/core/sinkhorn.h"
#include "swav/data/image_set.h"
#include "swav/data/loader.h"
#include "swav/data/multicrop.h"
#include "swav/method/swav.h"
#include "swav/optim/larc.h"
#include "swav/train/trainer.h"

using namespace swav;
using swav::test::rel_error;

#define SWAV_REQUIRE_CUDA()             \
  do {                                  \
    if (!torch::cuda::is_available()) { \
      WARN("no CUDA device: skipped");  \
      return;                           \
    }                                   \
  } while (false)

namespace {

// Exact float32 arithmetic on the GPU for the duration of a test (TF32 off), restored afterwards.
struct NoTf32 {
  bool cudnn = at::globalContext().allowTF32CuDNN();
  bool cublas = at::globalContext().allowTF32CuBLAS();
  NoTf32() {
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
  }
  ~NoTf32() {
    at::globalContext().setAllowTF32CuDNN(cudnn);
    at::globalContext().setAllowTF32CuBLAS(cublas);
  }
};

torch::Tensor cosine_scores(int64_t B, int64_t K, int64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed));
  namespace F = torch::nn::functional;
  auto z = F::normalize(at::randn({B, 64}, gen), F::NormalizeFuncOptions().dim(1));
  auto c = F::normalize(at::randn({K, 64}, gen), F::NormalizeFuncOptions().dim(1));
  return torch::mm(z, c.t());
}

}  // namespace

TEST_CASE("fused CUDA sinkhorn on large and boundary shapes", "[gpu][core][sinkhorn]") {
  SWAV_REQUIRE_CUDA();
#ifndef SWAV_WITH_CUDA
  FAIL("CUDA is available but this build has no CUDA kernels (SWAV_WITH_CUDA=OFF)");
#else
  struct Shape {
    int64_t B, K;
  };
  // K = 8192 is the largest single-launch size, 8193 takes the multi-kernel path; B = 20001 spreads
  // many row groups over every block, with an odd tail row.
  for (const auto shape :
       {Shape{20001, 3000}, Shape{65536, 300}, Shape{512, 8192}, Shape{512, 8193}, Shape{3, 1}}) {
    for (const double eps : {0.05, 0.02}) {
      auto scores = cosine_scores(shape.B, shape.K, shape.B + shape.K);
      auto expected = swav::sinkhorn(scores.to(torch::kFloat64), eps, 3);
      auto fused = swav::sinkhorn_fused_cuda(scores.to(torch::kCUDA), eps, 3);
      INFO("B=" << shape.B << " K=" << shape.K << " eps=" << eps);
      CHECK(rel_error(fused, expected) <= 1e-5);
      // Every sample's codes sum to one.
      CHECK(rel_error(fused.sum(1), torch::ones({shape.B})) <= 1e-5);
    }
  }
#endif
}

TEST_CASE("SwAV loss on CUDA equals the CPU loss", "[gpu][core][loss]") {
  SWAV_REQUIRE_CUDA();
  const int64_t B = 64, K = 50, crops = 4;
  std::vector<torch::Tensor> scores, codes;
  for (int64_t v = 0; v < crops; ++v) scores.push_back(cosine_scores(B, K, 10 + v) / 1.0);
  for (int64_t v = 0; v < 2; ++v) codes.push_back(swav::sinkhorn(scores[v], 0.05, 3));
  auto to_cuda = [](std::vector<torch::Tensor> xs) {
    for (auto& x : xs) x = x.to(torch::kCUDA);
    return xs;
  };
  auto cpu = swav_loss(scores, codes, {0, 1}, 0.1);
  auto gpu = swav_loss(to_cuda(scores), to_cuda(codes), {0, 1}, 0.1);
  CHECK(gpu.is_cuda());
  CHECK(rel_error(gpu, cpu) <= 1e-6);
}

namespace {

struct StepResult {
  double loss;
  std::vector<torch::Tensor> grads;   // on the CPU, in parameter order
  std::vector<torch::Tensor> params;  // after one optimiser step
};

// One SwAV step (forward, backward, LARC step) of a fresh network built with seed 0.
StepResult one_step(const ExperimentOptions& options, const ImageSet& train, const Batch& batch,
                    torch::Device device, bool channels_last, bool bf16) {
  torch::manual_seed(0);
  SwavMethod method(MethodSetup::from(options, train.channels(), train.size()), options.swav);
  method.module().to(device);
  if (channels_last) to_channels_last(method.module());
  StepContext ctx;
  ctx.device = device;
  ctx.global_batch = options.train.batch_size;
  ctx.channels_last = channels_last;
  method.on_epoch_start(ctx);
  LarcSgd optimizer(method.parameters(), options.optim);
  optimizer.set_lr(0.1);
  StepOutput out;
  if (bf16) {
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    out = method.step(batch, ctx);
    at::autocast::set_autocast_enabled(at::kCUDA, false);
    at::autocast::clear_cache();
  } else {
    out = method.step(batch, ctx);
  }
  optimizer.zero_grad();
  out.loss.backward();
  method.after_backward(ctx);
  StepResult r;
  r.loss = out.loss.item<double>();
  for (const auto& p : method.parameters())
    r.grads.push_back(p.grad().defined() ? p.grad().cpu().clone() : torch::Tensor());
  optimizer.step();
  for (const auto& p : method.parameters()) r.params.push_back(p.detach().cpu().clone());
  return r;
}

}  // namespace

TEST_CASE("one SwAV training step on CUDA matches the CPU step", "[gpu][train]") {
  SWAV_REQUIRE_CUDA();
  NoTf32 exact;
  auto options = test::tiny_experiment();
  options.model.arch = "resnet18";
  options.model.stem = "cifar";
  options.model.width = 0.25;
  const ImageSet train = load_split(options.data, Split::kTrain);
  MultiCrop crops(options.augment, 7);
  EpochLoader loader(train, crops, options.train.batch_size, 7, 0);
  const Batch batch = *loader.next();

  const auto cpu = one_step(options, train, batch, torch::kCPU, false, false);
  for (const bool channels_last : {false, true}) {
    INFO("channels_last=" << channels_last);
    const auto gpu = one_step(options, train, batch, torch::kCUDA, channels_last, false);
    CHECK(std::abs(gpu.loss - cpu.loss) <= 1e-4 * std::abs(cpu.loss));
    REQUIRE(gpu.grads.size() == cpu.grads.size());
    for (size_t i = 0; i < cpu.grads.size(); ++i) {
      INFO("parameter " << i);
      REQUIRE(gpu.grads[i].defined() == cpu.grads[i].defined());
      if (cpu.grads[i].defined() && cpu.grads[i].norm().item<double>() > 0)
        CHECK(rel_error(gpu.grads[i], cpu.grads[i]) <= 1e-3);
      CHECK(rel_error(gpu.params[i], cpu.params[i]) <= 1e-4);
    }
  }
  // bfloat16 autocast: the same step to bf16 accuracy (8 mantissa bits).
  const auto bf16 = one_step(options, train, batch, torch::kCUDA, true, true);
  CHECK(std::abs(bf16.loss - cpu.loss) <= 2e-2 * std::abs(cpu.loss));
  double grad_error = 0;
  int64_t counted = 0;
  for (size_t i = 0; i < cpu.grads.size(); ++i) {
    if (!cpu.grads[i].defined() || cpu.grads[i].norm().item<double>() == 0) continue;
    grad_error += rel_error(bf16.grads[i], cpu.grads[i]);
    ++counted;
  }
  CHECK(grad_error / static_cast<double>(counted) <= 0.1);
}
