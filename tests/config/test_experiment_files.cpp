// Every file in experiments/ parses, composes and validates (run_experiment --dry-run succeeds),
// and the ImageNet recipes hold the paper's values.
#include <catch2/catch.hpp>

#include <fmt/format.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "swav/config/config.h"
#include "test_paths.h"
#include "tests/helpers.h"

using Catch::Contains;

namespace {

std::vector<std::string> experiment_files() {
  std::vector<std::string> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(SWAV_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

swav::ExperimentOptions recipe(const std::string& name) {
  const auto plan = swav::load_plan(std::string(SWAV_SOURCE_DIR) + "/experiments/" + name);
  REQUIRE(plan.trials.size() == 1);
  return plan.trials[0].options;
}

}  // namespace

TEST_CASE("run_experiment --dry-run accepts every file in experiments/", "[config][experiments]") {
  swav::test::TempDir dir;
  const auto files = experiment_files();
  REQUIRE(files.size() >= 14);
  for (const auto& file : files) {
    INFO(file);
    const std::string out = dir.str("out.txt");
    // From another folder: defaults are found relative to the file, not the working directory.
    const std::string command = fmt::format("cd {} && {}/run_experiment {} --dry-run > {} 2>&1",
                                            dir.str(), SWAV_BIN_DIR, file, out);
    const int status = std::system(command.c_str());
    std::ifstream in(out);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    INFO(text);
    CHECK(WEXITSTATUS(status) == 0);
    CHECK_THAT(text, Contains("config_hash") && Contains("nothing was run"));
    const auto plan = swav::load_plan(file);
    for (const auto& t : plan.trials) CHECK(t.error.empty());
  }
}

TEST_CASE("the CPU ablations are small sweeps; the GPU ablations sweep the same axes",
          "[config][experiments]") {
  for (const std::string name : {"multicrop", "epsilon", "prototypes", "batch"}) {
    INFO(name);
    const std::string dir = std::string(SWAV_SOURCE_DIR) + "/experiments/";
    const auto cpu = swav::load_plan(dir + "ablation_" + name + "_cpu.toml");
    const auto gpu = swav::load_plan(dir + "ablation_" + name + ".toml");
    CHECK(cpu.axes.size() >= 1);
    CHECK(cpu.trials.size() >= 3);
    // The multi-crop ablation crosses 4 methods with 2 crop settings; the others sweep one axis.
    CHECK(cpu.trials.size() <= (name == std::string("multicrop") ? 8u : 4u));
    for (const auto& t : cpu.trials) {
      CHECK(t.options.train.device == "cpu");
      CHECK(t.options.train.epochs <= 2);
      CHECK(t.options.data.format == "fashion_mnist");
      CHECK(t.options.data.train_limit > 0);
      CHECK(t.options.data.train_limit <= 10000);
      CHECK(t.options.model.arch == "convnet");
    }
    for (const auto& t : gpu.trials) CHECK(t.options.train.device == "cuda");
    CHECK(std::includes(gpu.axes.begin(), gpu.axes.end(), cpu.axes.begin(), cpu.axes.end()));
  }
}

TEST_CASE("the ImageNet recipes are the paper's", "[config][experiments]") {
  for (const std::string name : {"imagenet_swav_800ep.toml", "imagenet_swav_bs256.toml"}) {
    INFO(name);
    const auto o = recipe(name);
    CHECK(o.method == "swav");
    CHECK(o.model.arch == "resnet50");
    CHECK(o.model.stem == "imagenet");
    CHECK(o.model.hidden_dim == 2048);
    CHECK(o.model.output_dim == 128);
    CHECK(o.model.prototypes == std::vector<int64_t>{3000});
    REQUIRE(o.augment.crops.size() == 2);
    CHECK(o.augment.crops[0].size == 224);
    CHECK(o.augment.crops[0].count == 2);
    CHECK(o.augment.crops[0].min_scale == 0.14);
    CHECK(o.augment.crops[0].max_scale == 1.0);
    CHECK(o.augment.crops[1].size == 96);
    CHECK(o.augment.crops[1].count == 6);
    CHECK(o.augment.crops[1].min_scale == 0.05);
    CHECK(o.augment.crops[1].max_scale == 0.14);
    CHECK(o.swav.epsilon == 0.05);
    CHECK(o.swav.sinkhorn_iterations == 3);
    CHECK(o.swav.temperature == 0.1);
    CHECK(o.swav.crops_for_assign == std::vector<int64_t>{0, 1});
    CHECK(o.swav.queue_length == 3840);
    CHECK(o.swav.epoch_queue_starts == 15);
    CHECK(o.optim.larc);
    CHECK(o.optim.larc_trust == 0.001);
    CHECK_FALSE(o.optim.larc_clip);
    CHECK(o.optim.momentum == 0.9);
    CHECK(o.optim.weight_decay == 1e-6);
    CHECK(o.train.device == "cuda");
    CHECK(o.data.format == "image_folder");
    CHECK(o.data.test_split == "val");
  }
  const auto big = recipe("imagenet_swav_800ep.toml");
  CHECK(big.train.epochs == 800);
  CHECK(big.train.batch_size == 4096);
  CHECK(big.optim.base_lr == 4.8);
  CHECK(big.optim.final_lr == 0.0048);
  CHECK(big.optim.start_warmup == 0.3);
  CHECK(big.optim.warmup_epochs == 10);
  CHECK(big.swav.freeze_prototypes_niters == 313);

  const auto small = recipe("imagenet_swav_bs256.toml");
  CHECK(small.train.epochs == 200);
  CHECK(small.train.batch_size == 256);
  CHECK(small.swav.queue_length % small.train.batch_size == 0);  // 15 batches
  CHECK(small.optim.base_lr == 0.6);
  CHECK(small.optim.final_lr == 0.0006);
  CHECK(small.optim.warmup_epochs == 0);
  CHECK(small.swav.freeze_prototypes_niters == 5005);
}

TEST_CASE("cifar10_swav matches the CIFAR-10 JPEG folders and the CIFAR stem",
          "[config][experiments]") {
  const auto o = recipe("cifar10_swav.toml");
  CHECK(o.data.format == "image_folder");
  CHECK(o.data.train_split == "train");
  CHECK(o.data.test_split == "test");
  CHECK(o.model.arch == "resnet18");
  CHECK(o.model.stem == "cifar");
  CHECK(o.train.batch_size == 512);
  REQUIRE(o.augment.crops.size() == 2);
  CHECK(o.augment.crops[0].size == 32);
  CHECK(o.augment.crops[0].count == 2);
  CHECK(o.augment.crops[1].size == 16);
  CHECK(o.augment.crops[1].count == 6);
  CHECK(o.swav.queue_length % o.train.batch_size == 0);
  // The root is the user's: an override sets it.
  const auto plan = swav::load_plan(std::string(SWAV_SOURCE_DIR) + "/experiments/cifar10_swav.toml",
                                    {"data.root=/somewhere/cifar10"});
  CHECK(plan.trials[0].options.data.root == "/somewhere/cifar10");
}
