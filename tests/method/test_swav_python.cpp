// SwAV's training steps against an independent PyTorch implementation written from the paper and
// the official training script (tests/python/swav_reference_step.py), run by the venv's Python:
// the same initial weights and the same batches (the views this project's loader made), then the
// loss of every step and every parameter and buffer after the last step are compared.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "helpers.h"
#include "swav/data/image_set.h"
#include "swav/method/swav.h"
#include "swav/train/observed_method.h"
#include "swav/train/trainer.h"

using namespace swav;

namespace {

struct Case {
  std::string name;
  ExperimentOptions options;
  double loss_tolerance = 1e-5;    // relative, per step
  double tensor_tolerance = 1e-4;  // relative (norm of the difference / norm), after the last step
};

std::vector<Case> cases() {
  std::vector<Case> out;
  auto base = test::tiny_experiment();
  base.data.synthetic_train_per_class = 16;  // 64 images: 4 steps of 16 per epoch
  base.train.epochs = 2;
  base.augment.crops = {{16, 2, 0.3, 1.0}};
  base.optim.base_lr = 0.6;
  base.optim.final_lr = 0.0006;
  base.swav.epsilon = 0.05;
  out.push_back({"convnet, 2x16", base});

  auto multicrop = base;
  multicrop.augment.crops = {{16, 2, 0.3, 1.0}, {8, 2, 0.1, 0.3}};
  multicrop.swav.freeze_prototypes_niters = 3;
  multicrop.swav.queue_length = 32;  // two batches: full after two steps, used from the third
  multicrop.swav.epoch_queue_starts = 0;
  out.push_back({"convnet, 2x16+2x8, frozen prototypes, queue", multicrop});

  auto warmup = base;
  warmup.optim.warmup_epochs = 1;
  warmup.optim.start_warmup = 0.01;
  warmup.train.epochs = 3;
  out.push_back({"convnet, warm-up", warmup});

  auto resnet = base;
  resnet.model.arch = "resnet18";
  resnet.model.stem = "cifar";
  resnet.model.width = 0.125;
  // Deeper, so rounding differences grow faster from step to step (measured: 4e-7 at step 2,
  // 3e-4 at step 6, then back to 7e-6); a real difference, such as the warmup's lr, moves the
  // losses by 1e-2 and more.
  out.push_back({"resnet18 (CIFAR stem, width 1/8), 2x16", resnet, 1e-3, 1e-3});
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> state(torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module.named_parameters())
    out.emplace_back(p.key(), p.value().detach().clone());
  for (const auto& b : module.named_buffers())
    out.emplace_back(b.key(), b.value().detach().clone());
  return out;
}

double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const auto x = a.to(torch::kFloat64), y = b.to(torch::kFloat64);
  const double scale = y.norm().item<double>();
  return (x - y).norm().item<double>() / (scale > 0 ? scale : 1.0);
}

}  // namespace

TEST_CASE("SwAV steps equal an independent PyTorch implementation", "[method][swav][python]") {
  if (test::torch_python().empty()) {
    WARN("no Python with torch found next to LibTorch: skipped");
    return;
  }
  for (const auto& c : cases()) {
    INFO(c.name);
    const auto& o = c.options;
    const ImageSet train = load_split(o.data, Split::kTrain);
    at::set_num_threads(1);
    torch::manual_seed(5);
    SwavMethod method(MethodSetup::from(o, train.channels(), train.size()), o.swav);
    c10::Dict<std::string, at::Tensor> inputs;
    for (const auto& [name, t] : state(method.module())) inputs.insert("init/" + name, t);

    std::vector<double> losses;
    ObservedMethod recorder(
        method, [&](const Batch& batch, const StepContext&, const StepOutput& out) {
          for (size_t v = 0; v < batch.views.size(); ++v)
            inputs.insert(fmt::format("batch/{}/{}", losses.size(), v), batch.views[v].clone());
          losses.push_back(out.loss.item<double>());
        });
    Trainer trainer(o, recorder, train, "");
    trainer.set_progress(false);
    trainer.fit();
    const int64_t iters = train.size() / o.train.batch_size;
    REQUIRE(static_cast<int64_t>(losses.size()) == iters * o.train.epochs);

    test::TempDir dir;
    test::save_tensors(dir.str("inputs.pt"), inputs);
    nlohmann::json j = {{"arch", o.model.arch},
                        {"stem", o.model.stem},
                        {"width", o.model.width},
                        {"in_channels", train.channels()},
                        {"hidden_dim", o.model.hidden_dim},
                        {"output_dim", o.model.output_dim},
                        {"prototypes", o.model.prototypes},
                        {"epsilon", o.swav.epsilon},
                        {"temperature", o.swav.temperature},
                        {"sinkhorn_iterations", o.swav.sinkhorn_iterations},
                        {"crops_for_assign", o.swav.crops_for_assign},
                        {"freeze_prototypes_niters", o.swav.freeze_prototypes_niters},
                        {"queue_length", o.swav.queue_length},
                        {"epoch_queue_starts", o.swav.epoch_queue_starts},
                        {"base_lr", o.optim.base_lr},
                        {"final_lr", o.optim.final_lr},
                        {"start_warmup", o.optim.start_warmup},
                        {"warmup_epochs", o.optim.warmup_epochs},
                        {"epochs", o.train.epochs},
                        {"iters_per_epoch", iters},
                        {"momentum", o.optim.momentum},
                        {"weight_decay", o.optim.weight_decay},
                        {"larc_trust", o.optim.larc_trust},
                        {"larc_eps", o.optim.larc_eps},
                        {"larc_clip", o.optim.larc_clip},
                        {"batch_size", o.train.batch_size},
                        {"steps", losses.size()}};
    std::ofstream(dir.str("case.json")) << j.dump(1);
    REQUIRE(test::run_python("swav_reference_step.py", dir.str("")));
    auto outputs = test::load_tensors(dir.str("outputs.pt"));

    const auto reference_losses = outputs.at("loss").toTensor();
    REQUIRE(reference_losses.numel() == static_cast<int64_t>(losses.size()));
    double worst_loss = 0;
    std::string report;
    for (size_t i = 0; i < losses.size(); ++i) {
      const double ref = reference_losses[static_cast<int64_t>(i)].item<double>();
      const double rel = std::abs(losses[i] - ref) / std::abs(ref);
      report += fmt::format("step {}: loss {:.7f}, PyTorch {:.7f}, rel. diff {:.1e}\n", i + 1,
                            losses[i], ref, rel);
      worst_loss = std::max(worst_loss, rel);
    }
    double worst_tensor = 0;
    std::string worst_name;
    for (const auto& [name, t] : state(method.module())) {
      REQUIRE(outputs.contains("final/" + name));
      // The bias of the head's first linear layer feeds a batch norm, which removes it: its exact
      // gradient is zero, so what it gets is rounding noise, which LARC scales up to a full step
      // (lr x trust x its norm) in a direction that differs between any two implementations.
      // Harmless (the network's output does not depend on it), so it is left out, and so is the
      // batch norm's running mean, which follows it.
      if (name == "head.net.0.bias" || name == "head.net.1.running_mean") continue;
      const double rel = relative_difference(t, outputs.at("final/" + name).toTensor());
      if (rel > worst_tensor) {
        worst_tensor = rel;
        worst_name = name;
      }
    }
    INFO(report << "largest loss difference " << worst_loss << "; largest tensor difference "
                << worst_tensor << " (" << worst_name << ")");
    CHECK(worst_loss <= c.loss_tolerance);
    CHECK(worst_tensor <= c.tensor_tolerance);
  }
}
