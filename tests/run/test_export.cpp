// Weights that travel: a trained run exported and loaded into torchvision's ResNets by the venv's
// PyTorch, a torchvision checkpoint read back here, and the errors of bad files. The Python parts
// skip (with a warning) where there is no Python torch.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "baselines/baseline_fixture.h"
#include "helpers.h"
#include "swav/config/config.h"
#include "swav/data/image_set.h"
#include "swav/models/weights.h"
#include "swav/run/export.h"
#include "swav/run/registry.h"
#include "swav/train/trainer.h"
#include "swav/util/error.h"

using namespace swav;
using Catch::Contains;

namespace {

namespace fs = std::filesystem;

/// A short SwAV run of `arch` at full width on the tiny synthetic set (2 steps: batch-norm
/// statistics are no longer their initial values), written as a trial folder: config.toml and
/// checkpoint.pt.
ExperimentOptions train_run(const std::string& arch, const std::string& stem,
                            const std::string& dir) {
  auto o = test::tiny_experiment();
  o.model.arch = arch;
  o.model.stem = stem;
  o.model.width = 1.0;
  o.data.synthetic_train_per_class = 8;
  o.train.epochs = 1;
  o.augment.crops = {{16, 2, 0.5, 1.0}};
  fs::create_directories(dir);
  std::ofstream(dir + "/config.toml") << to_toml(o);
  const auto train = load_split(o.data, Split::kTrain);
  torch::manual_seed(3);
  auto method = make_method(o, train.channels(), train.size());
  Trainer trainer(o, *method, train, dir + "/checkpoint.pt");
  trainer.set_progress(false);
  trainer.fit();
  return o;
}

torch::Tensor test_images() {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  return torch::randn({4, 3, 32, 32}, gen, torch::TensorOptions().dtype(torch::kFloat32));
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("exported weights load into torchvision's ResNets and compute the same features",
          "[export][python]") {
  if (test::torch_python().empty()) {
    WARN("no Python torch: skipped");
    return;
  }
  for (const auto& [arch, stem] : std::vector<std::pair<std::string, std::string>>{
           {"resnet18", "imagenet"}, {"resnet50", "imagenet"}, {"resnet18", "cifar"}}) {
    INFO(arch << ", " << stem << " stem");
    test::TempDir dir;
    train_run(arch, stem, dir.str("run"));
    auto network = load_trained_network(dir.str("run"));
    save_state_dict(exported_state(network, "torchvision"), dir.str("weights.pt"));
    const auto x = test_images();
    torch::Tensor ours;
    {
      torch::NoGradGuard no_grad;
      network.method->encoder()->eval();
      ours = network.method->encoder()->forward(x);
    }
    c10::Dict<std::string, at::Tensor> inputs;
    inputs.insert("x", x);
    test::save_tensors(dir.str("inputs.pt"), inputs);
    std::ofstream(dir.str("case.json"))
        << nlohmann::json{{"mode", "check"}, {"arch", arch}, {"stem", stem}}.dump();
    REQUIRE(test::run_python("torchvision_weights.py", dir.str()));

    std::ifstream result_file(dir.str("result.json"));
    const auto result = nlohmann::json::parse(result_file);
    INFO(result.dump());
    // Only the classifier is missing, and every exported tensor found its place, unchanged.
    CHECK(result["missing"] == nlohmann::json::array({"fc.weight", "fc.bias"}));
    CHECK(result["unexpected"].empty());
    CHECK(result["max_tensor_diff"].get<double>() == 0.0);
    CHECK(result["type"] == "dict");
    const auto theirs = test::load_tensors(dir.str("outputs.pt")).at("features").toTensor();
    const double diff = (theirs - ours).abs().max().item<double>();
    INFO("max |features difference| " << diff << " of values up to "
                                       << ours.abs().max().item<double>());
    CHECK(diff <= 1e-4 * std::max(1.0, ours.abs().max().item<double>()));
  }
}

TEST_CASE("a torchvision checkpoint loads into our backbone and computes its features",
          "[export][python]") {
  if (test::torch_python().empty()) {
    WARN("no Python torch: skipped");
    return;
  }
  test::TempDir dir;
  const auto x = test_images();
  c10::Dict<std::string, at::Tensor> inputs;
  inputs.insert("x", x);
  test::save_tensors(dir.str("inputs.pt"), inputs);
  std::ofstream(dir.str("case.json"))
      << nlohmann::json{{"mode", "make"}, {"arch", "resnet18"}, {"stem", "imagenet"}}.dump();
  REQUIRE(test::run_python("torchvision_weights.py", dir.str()));

  // {"state_dict": {"module.conv1.weight": ...}, "epoch": 3, "arch": "resnet18"}, as a DDP
  // training script saves it.
  const auto state = load_state_dict(dir.str("tv.pt"));
  CHECK(state.count("conv1.weight") == 1);
  CHECK(state.count("fc.weight") == 1);
  auto o = test::tiny_experiment();
  o.model.arch = "resnet18";
  o.model.width = 1.0;
  auto backbone = make_backbone(o.model, 3);
  const auto report = load_backbone_weights(*backbone, o.model, state, true, dir.str("tv.pt"));
  CHECK(report.complete());
  CHECK(report.unexpected == std::vector<std::string>{"fc.bias", "fc.weight"});
  backbone->eval();
  torch::NoGradGuard no_grad;
  const auto ours = backbone->forward(x);
  const auto theirs = test::load_tensors(dir.str("outputs.pt")).at("features").toTensor();
  const double diff = (theirs - ours).abs().max().item<double>();
  INFO("max |features difference| " << diff);
  CHECK(diff <= 1e-4 * std::max(1.0, ours.abs().max().item<double>()));
}

TEST_CASE("bad weight files and mismatched backbones give errors naming them", "[export]") {
  test::TempDir dir;
  auto o = test::tiny_experiment();
  o.model.arch = "resnet18";
  o.model.width = 0.25;
  torch::manual_seed(1);
  auto backbone = make_backbone(o.model, 3);
  const auto state = backbone_state_dict(*backbone, o.model);
  const std::string good = dir.str("good.pt");
  save_state_dict(state, good);
  const auto loaded = load_state_dict(good);
  REQUIRE(loaded.size() == state.size());
  CHECK(loaded.count("layer1.0.conv1.weight") == 1);
  CHECK(loaded.count("layer2.0.downsample.1.running_var") == 1);

  SECTION("a missing file") {
    CHECK_THAT(error_of([&] { load_state_dict(dir.str("none.pt")); }),
               Contains(dir.str("none.pt")) && Contains("no such file"));
  }
  SECTION("a truncated file") {
    std::ifstream in(good, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(dir.str("cut.pt"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    CHECK_THAT(error_of([&] { load_state_dict(dir.str("cut.pt")); }),
               Contains(dir.str("cut.pt")) && Contains("truncated"));
    std::ofstream(dir.str("text.pt")) << "not a checkpoint at all";
    CHECK_THAT(error_of([&] { load_state_dict(dir.str("text.pt")); }),
               Contains(dir.str("text.pt")));
  }
  SECTION("a missing tensor: an error naming it, or loaded without it when not strict") {
    auto partial = loaded;
    partial.erase("layer3.1.bn2.running_mean");
    auto target = make_backbone(o.model, 3);
    CHECK_THAT(error_of([&] { load_backbone_weights(*target, o.model, partial, true, "p.pt"); }),
               Contains("p.pt") && Contains("missing (1): layer3.1.bn2.running_mean") &&
                   Contains("model.init_strict = false"));
    const auto report = load_backbone_weights(*target, o.model, partial, false, "p.pt");
    CHECK(report.missing == std::vector<std::string>{"layer3.1.bn2.running_mean"});
    CHECK(report.loaded == static_cast<int64_t>(state.size()) - 1);
    // What was loaded equals the source.
    const auto again = backbone_state_dict(*target, o.model);
    for (size_t i = 0; i < again.size(); ++i) {
      if (again[i].first == "layer3.1.bn2.running_mean") continue;
      CHECK(torch::equal(again[i].second, state[i].second));
    }
  }
  SECTION("another architecture") {
    auto wide = o.model;
    wide.width = 0.5;  // same names, other shapes
    auto target = make_backbone(wide, 3);
    CHECK_THAT(error_of([&] { load_backbone_weights(*target, wide, loaded, true, "w.pt"); }),
               Contains("mis-shaped") && Contains("conv1.weight: file [16, 3, 7, 7] vs backbone "
                                                  "[32, 3, 7, 7]"));
    auto convnet = o.model;
    convnet.arch = "convnet";
    auto small = make_backbone(convnet, 3);
    CHECK_THAT(error_of([&] { load_backbone_weights(*small, convnet, loaded, true, "w.pt"); }),
               Contains("w.pt") && Contains("another architecture"));
  }
  SECTION("a whole network's checkpoint: the backbone under a prefix") {
    std::map<std::string, torch::Tensor> prefixed;
    for (const auto& [name, t] : loaded) prefixed["encoder_q." + name] = t;
    prefixed["encoder_q.fc.weight"] = torch::zeros({2, 2});
    auto target = make_backbone(o.model, 3);
    const auto report = load_backbone_weights(*target, o.model, prefixed, true, "q.pt");
    CHECK(report.complete());
    CHECK(report.unexpected == std::vector<std::string>{"encoder_q.fc.weight"});
  }
}

TEST_CASE("export_weights' formats: the backbone alone, or with the head and prototypes",
          "[export]") {
  test::TempDir dir;
  auto o = train_run("resnet18", "cifar", dir.str("run"));
  (void)o;
  auto network = load_trained_network(dir.str("run"));
  const auto backbone = exported_state(network, "torchvision");
  const auto full = exported_state(network, "full");
  CHECK(backbone.front().first == "conv1.weight");
  CHECK(full.size() > backbone.size());
  std::set<std::string> names;
  for (const auto& [name, t] : full) names.insert(name);
  CHECK(names.count("prototypes.head0.weight") == 1);
  CHECK(names.count("head.net.0.weight") == 1);
  CHECK_THAT(error_of([&] { exported_state(network, "onnx"); }), Contains("--format: 'onnx'"));
  CHECK_THAT(error_of([&] { load_trained_network(dir.str("nothing")); }),
             Contains(dir.str("nothing")));
  fs::remove(dir.str("run/config.toml"));
  CHECK_THAT(error_of([&] { load_trained_network(dir.str("run")); }), Contains("config.toml"));
}

TEST_CASE("model.init starts the backbone from a file, and PCL's key network with it", "[export]") {
  test::TempDir dir;
  auto o = test::tiny_baseline("pcl");
  o.model.arch = "resnet18";
  o.model.width = 0.25;
  torch::manual_seed(11);
  auto source = make_backbone(o.model, 3);
  const auto state = backbone_state_dict(*source, o.model);
  o.model.init = dir.str("init.pt");
  save_state_dict(state, o.model.init);

  torch::manual_seed(0);
  auto method = make_method(o, 3, 128);
  const auto report = apply_model_init(*method, o.model);
  CHECK(report.complete());
  CHECK(report.loaded == static_cast<int64_t>(state.size()));
  const auto loaded = backbone_state_dict(*method->encoder(), o.model);
  REQUIRE(loaded.size() == state.size());
  for (size_t i = 0; i < loaded.size(); ++i) CHECK(torch::equal(loaded[i].second, state[i].second));
  // The key network starts as the query network, loaded weights included.
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& p : method->module().named_parameters()) tensors[p.key()] = p.value();
  for (const auto& [name, t] : tensors) {
    if (name.rfind("key.", 0) == 0) CHECK(torch::equal(t, tensors.at("query." + name.substr(4))));
  }
  CHECK_THAT(describe_model_init(report, o.model),
             Contains(std::to_string(state.size()) + " tensors of the backbone from " +
                      o.model.init));

  // A file without one tensor: an error naming it, or (init_strict = false) a log line that does.
  auto partial = state;
  partial.erase(partial.begin() + 3);
  save_state_dict(partial, o.model.init);
  auto strict = make_method(o, 3, 128);
  CHECK_THAT(error_of([&] { apply_model_init(*strict, o.model); }),
             Contains("model.init: " + o.model.init) && Contains(state[3].first));
  o.model.init_strict = false;
  auto lenient = make_method(o, 3, 128);
  const auto partial_report = apply_model_init(*lenient, o.model);
  CHECK(partial_report.missing == std::vector<std::string>{state[3].first});
  CHECK_THAT(describe_model_init(partial_report, o.model), Contains(state[3].first));
}
