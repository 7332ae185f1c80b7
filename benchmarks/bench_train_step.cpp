// Training throughput of SwAV, with the real data path beside pre-made tensors, so the data path's
// cost is visible:
//   premade  views already on the device (random tensors): the model step alone
//   cpu-aug  the real path: uint8 images -> multi-crop on CPU threads -> pinned memory ->
//            asynchronous copy -> step (run_experiment with augment.device = "cpu")
//   gpu-aug  the uint8 images on the GPU, multi-crop there (augment.device = "cuda")
// Steps run back to back with no host synchronisation except one at the end of each timed window,
// as in the trainer. GPU utilisation is nvidia-smi's, sampled every 100 ms during the window.
//   build/bin/bench_train_step [--steps N] [--only SUBSTRING] [--device cuda|cpu] [--fp32]
// Prints images/s per setup and path, and each data path's cost = 1 - (its images/s) / premade.
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "swav/data/device_multicrop.h"
#include "swav/data/image_set.h"
#include "swav/data/loader.h"
#include "swav/data/multicrop.h"
#include "swav/optim/larc.h"
#include "swav/run/registry.h"
#include "swav/train/method.h"
#include "swav/train/trainer.h"

#ifdef SWAV_WITH_CUDA
#include <ATen/autocast_mode.h>
#endif

namespace {

using namespace swav;

// One timed configuration. Its name is made from every field that sets the model's cost, so rows
// compare like with like.
struct Setup {
  std::string arch, stem;
  double width;                    // channel width multiplier
  int64_t hidden_dim, output_dim;  // projection head
  int64_t prototypes, channels;
  std::vector<CropGroup> crops;
  int64_t batch, image_size;
  bool cpu_ok;  // small enough to time on a CPU

  // e.g. "convnet w0.5 512-64 K100 1ch 2x28 bs256": arch (and stem unless "imagenet"), width,
  // head hidden-output, prototypes, input channels, crops, batch per step.
  std::string name() const {
    std::vector<std::string> crop_names;
    for (const auto& c : crops) crop_names.push_back(fmt::format("{}x{}", c.count, c.size));
    return fmt::format("{}{} w{} {}-{} K{} {}ch {} bs{}", arch,
                       stem == "imagenet" ? "" : "-" + stem, width, hidden_dim, output_dim,
                       prototypes, channels, fmt::join(crop_names, "+"), batch);
  }
};

std::vector<Setup> setups() {
  return {
      {"resnet18",
       "cifar",
       1.0,
       2048,
       128,
       3000,
       3,
       {{32, 2, 0.14, 1.0}, {16, 6, 0.05, 0.14}},
       512,
       32,
       false},
      {"resnet50",
       "imagenet",
       1.0,
       2048,
       128,
       3000,
       3,
       {{224, 2, 0.14, 1.0}, {96, 6, 0.05, 0.14}},
       64,
       256,
       false},
      {"resnet50",
       "imagenet",
       1.0,
       2048,
       128,
       3000,
       3,
       {{224, 2, 0.14, 1.0}, {96, 6, 0.05, 0.14}},
       256,
       256,
       false},
      // The quickstart's model and crops (experiments/quickstart.toml) on 1-channel 28 px images.
      {"convnet", "imagenet", 0.5, 512, 64, 100, 1, {{28, 2, 0.3, 1.0}}, 256, 28, true},
      // The ConvNet at its default width and head (3-channel input), for comparison.
      {"convnet", "imagenet", 1.0, 2048, 128, 100, 3, {{28, 2, 0.3, 1.0}}, 256, 28, true},
  };
}

ExperimentOptions options_for(const Setup& s, const std::string& device, bool bf16) {
  ExperimentOptions o;
  o.model.arch = s.arch;
  o.model.stem = s.stem;
  o.model.width = s.width;
  o.model.hidden_dim = s.hidden_dim;
  o.model.output_dim = s.output_dim;
  o.model.prototypes = {s.prototypes};
  o.augment.crops = s.crops;
  if (s.channels == 1) {  // the quickstart's Fashion-MNIST statistics; else ImageNet's defaults
    o.augment.mean = {0.2860};
    o.augment.std = {0.3530};
  }
  o.augment.workers = std::max(1u, std::thread::hardware_concurrency());
  o.augment.prefetch = 4;
  o.train.batch_size = s.batch;
  o.train.device = device;
  o.train.precision = bf16 ? "bf16" : "fp32";
  o.train.channels_last = device != "cpu";
  o.swav.freeze_prototypes_niters = 0;
  o.data.format = "synthetic";
  o.data.synthetic_classes = 10;
  o.data.synthetic_size = s.image_size;
  o.data.synthetic_channels = s.channels;
  o.data.synthetic_train_per_class = std::max<int64_t>(2 * s.batch / 10 + 1, 64);
  o.data.synthetic_test_per_class = 1;
  return o;
}

// Mean GPU utilisation (percent) reported by nvidia-smi while it runs; -1 when unavailable.
class UtilisationSampler {
 public:
  UtilisationSampler() {
    pipe_ = popen(
        "nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 "
        "2>/dev/null",
        "r");
    if (pipe_ == nullptr) return;
    reader_ = std::thread([this] {
      char line[64];
      while (fgets(line, sizeof line, pipe_) != nullptr) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!running_) continue;
        sum_ += std::atof(line);
        ++count_;
      }
    });
  }
  void start() {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = true;
  }
  double stop() {
    std::lock_guard<std::mutex> lock(mutex_);
    running_ = false;
    const double mean = count_ > 0 ? sum_ / count_ : -1;
    sum_ = 0;
    count_ = 0;
    return mean;
  }
  ~UtilisationSampler() {
    if (pipe_ == nullptr) return;
    std::system("pkill -f 'nvidia-smi --query-gpu=utilization.gpu' >/dev/null 2>&1");
    pclose(pipe_);
    if (reader_.joinable()) reader_.join();
  }

 private:
  FILE* pipe_ = nullptr;
  std::thread reader_;
  std::mutex mutex_;
  bool running_ = false;
  double sum_ = 0;
  int64_t count_ = 0;
};

struct Timing {
  double images_per_sec = 0;
  double utilisation = -1;
};

enum class Path { kPremade, kCpuData, kDeviceData };

Timing run(const Setup& s, const std::string& device_name, bool bf16, Path path, int64_t steps,
           UtilisationSampler* sampler) {
  const bool premade = path == Path::kPremade;
  const auto options = options_for(s, device_name, bf16);
  const torch::Device device(device_name);
  const ImageSet train = load_split(options.data, Split::kTrain);
  torch::manual_seed(0);
  auto method = make_method(options, train.channels(), train.size());
  method->module().to(device);
  if (options.train.channels_last) to_channels_last(method->module());
  method->module().train();
  LarcSgd optimizer(method->parameters(), options.optim);
  optimizer.set_lr(0.1);
  StepContext ctx;
  ctx.device = device;
  ctx.global_batch = s.batch;
  ctx.iters_per_epoch = 1000;
  ctx.channels_last = options.train.channels_last;
  method->on_epoch_start(ctx);

  MultiCrop crops(options.augment, 1);
  crops.set_pinned_output(device.is_cuda());
  Batch fixed;
  if (premade) {
    for (int64_t size : crops.crop_sizes())
      fixed.views.push_back(torch::randn({s.batch, train.channels(), size, size},
                                         torch::TensorOptions().device(device)));
    fixed.indices = torch::arange(s.batch);
    fixed.labels = torch::zeros({s.batch}, torch::kInt64);
  }
  auto sync = [&] {
#ifdef SWAV_WITH_CUDA
    if (device.is_cuda()) torch::cuda::synchronize();
#endif
  };
  int64_t epoch = 0;
  std::unique_ptr<DeviceMultiCrop> device_crops;
  if (path == Path::kDeviceData)
    device_crops = std::make_unique<DeviceMultiCrop>(crops, train, device);
  const bool render = device_crops == nullptr;
  std::unique_ptr<EpochLoader> loader;
  if (!premade)
    loader = std::make_unique<EpochLoader>(train, crops, s.batch, 1, epoch,
                                           options.augment.prefetch, 0, 1, render);
  auto next_batch = [&]() -> Batch {
    if (premade) return fixed;
    auto b = loader->next();
    if (!b) {
      loader = std::make_unique<EpochLoader>(train, crops, s.batch, 1, ++epoch,
                                             options.augment.prefetch, 0, 1, render);
      b = loader->next();
    }
    if (device_crops) {
      const auto* idx = b->indices.data_ptr<int64_t>();
      b->views =
          device_crops->make_views(std::vector<int64_t>(idx, idx + b->indices.numel()), epoch);
    }
    return *b;
  };
  auto one_step = [&](int64_t i) {
    ctx.iteration = i;
    const Batch batch = next_batch();
    StepOutput out;
#ifdef SWAV_WITH_CUDA
    if (bf16) {
      at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
      at::autocast::set_autocast_enabled(at::kCUDA, true);
    }
#endif
    out = method->step(batch, ctx);
#ifdef SWAV_WITH_CUDA
    if (bf16) {
      at::autocast::set_autocast_enabled(at::kCUDA, false);
      at::autocast::clear_cache();
    }
#endif
    optimizer.zero_grad();
    out.loss.backward();
    method->after_backward(ctx);
    optimizer.step();
    method->after_step(ctx);
  };
  for (int64_t i = 0; i < 3; ++i) one_step(i);  // warm-up: cuDNN autotuning, allocator, queue
  sync();
  if (sampler) sampler->start();
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) one_step(3 + i);
  sync();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  Timing t;
  t.images_per_sec = static_cast<double>(steps * s.batch) / seconds;
  if (sampler) t.utilisation = sampler->stop();
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t steps = 20;
  std::string only, device = torch::cuda::is_available() ? "cuda" : "cpu";
  bool bf16 = true;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--steps" && i + 1 < argc)
      steps = std::stoll(argv[++i]);
    else if (a == "--only" && i + 1 < argc)
      only = argv[++i];
    else if (a == "--device" && i + 1 < argc)
      device = argv[++i];
    else if (a == "--fp32")
      bf16 = false;
    else {
      std::cerr << "usage: bench_train_step [--steps N] [--only SUBSTRING] [--device cuda|cpu] "
                   "[--fp32]\n";
      return 2;
    }
  }
  if (device == "cpu") bf16 = false;
  at::globalContext().setBenchmarkCuDNN(true);
  std::unique_ptr<UtilisationSampler> sampler;
  if (device != "cpu") sampler = std::make_unique<UtilisationSampler>();
  fmt::print("device {}, {}, channels-last {}, {} timed steps, {} augmentation threads\n", device,
             bf16 ? "bf16 autocast" : "fp32", device != "cpu", steps,
             std::max(1u, std::thread::hardware_concurrency()));
  fmt::print("{:<42} {:>10} {:>10} {:>9} {:>10} {:>9} {:>14}\n", "setup", "premade", "cpu-aug",
             "cost", "gpu-aug", "cost", "GPU util p/c/g");
  for (const auto& s : setups()) {
    if (!only.empty() && s.name().find(only) == std::string::npos) continue;
    if (device == "cpu" && !s.cpu_ok) continue;
    try {
      const Timing premade = run(s, device, bf16, Path::kPremade, steps, sampler.get());
      const Timing cpu = run(s, device, bf16, Path::kCpuData, steps, sampler.get());
      const Timing gpu = run(s, device, bf16, Path::kDeviceData, steps, sampler.get());
      auto cost = [&](const Timing& t) {
        return fmt::format("{:.1f}%", 100.0 * (1.0 - t.images_per_sec / premade.images_per_sec));
      };
      fmt::print("{:<42} {:>10.0f} {:>10.0f} {:>9} {:>10.0f} {:>9} {:>14}\n", s.name(),
                 premade.images_per_sec, cpu.images_per_sec, cost(cpu), gpu.images_per_sec,
                 cost(gpu),
                 premade.utilisation < 0 ? std::string("n/a")
                                         : fmt::format("{:.0f}/{:.0f}/{:.0f}%", premade.utilisation,
                                                       cpu.utilisation, gpu.utilisation));
    } catch (const std::exception& e) {
      fmt::print("{:<42} failed: {}\n", s.name(), e.what());
    }
    std::fflush(stdout);
  }
  return 0;
}
