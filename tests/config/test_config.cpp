#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

#include "config_test_util.h"
#include "swav/config/config.h"
#include "tests/helpers.h"

using swav::ExperimentOptions;
using swav::parse_experiment;

namespace {

const char* kFullFile = R"toml(
# A small CIFAR-like run.
name = "cifar_small"
method = "swav"
db = "results/test.db"

[data]
format = "cifar_binary"
root = "/data/cifar-10-batches-bin"
train_limit = 5000

[[augment.crops]]
size = 32
count = 2
min_scale = 0.3
max_scale = 1       # an integer for a float field

[[augment.crops]]
size = 16
count = 4
min_scale = 0.05
max_scale = 0.3

[augment]
mean = [0.4914, 0.4822, 0.4465]
std = [0.247, 0.243, 0.261]
blur_prob = 0.0

[model]
arch = "resnet18"
stem = "cifar"
prototypes = [100, 100]

[swav]
epsilon = 0.03
queue_length = 3840
epoch_queue_starts = 2
crops_for_assign = [0, 1]

[optim]
base_lr = 0.6
larc = false
warmup_epochs = 1

[train]
epochs = 5
batch_size = 128
device = "cuda:0"

[eval]
knn_k = [20]
)toml";

ExperimentOptions with_root() {
  ExperimentOptions o;
  o.data.root = "/data/imagenet";
  return o;
}

}  // namespace

TEST_CASE("a full experiment file parses into the expected values", "[config]") {
  const auto o = parse_experiment(kFullFile, "full.toml");
  CHECK(o.name == "cifar_small");
  CHECK(o.method == "swav");
  CHECK(o.db == "results/test.db");
  CHECK(o.data.format == "cifar_binary");
  CHECK(o.data.root == "/data/cifar-10-batches-bin");
  CHECK(o.data.train_limit == 5000);
  REQUIRE(o.augment.crops.size() == 2);
  CHECK(o.augment.crops[0].size == 32);
  CHECK(o.augment.crops[0].count == 2);
  CHECK(o.augment.crops[0].min_scale == 0.3);
  CHECK(o.augment.crops[0].max_scale == 1.0);
  CHECK(o.augment.crops[1].size == 16);
  CHECK(o.augment.crops[1].count == 4);
  CHECK(o.augment.crops[1].min_scale == 0.05);
  CHECK(o.augment.crops[1].max_scale == 0.3);
  CHECK(o.augment.mean == std::vector<double>{0.4914, 0.4822, 0.4465});
  CHECK(o.augment.std == std::vector<double>{0.247, 0.243, 0.261});
  CHECK(o.augment.blur_prob == 0.0);
  CHECK(o.model.arch == "resnet18");
  CHECK(o.model.stem == "cifar");
  CHECK(o.model.prototypes == std::vector<int64_t>{100, 100});
  CHECK(o.swav.epsilon == 0.03);
  CHECK(o.swav.queue_length == 3840);
  CHECK(o.optim.base_lr == 0.6);
  CHECK(o.optim.larc == false);
  CHECK(o.train.epochs == 5);
  CHECK(o.train.batch_size == 128);
  CHECK(o.train.device == "cuda:0");
  CHECK(o.eval.knn_k == std::vector<int64_t>{20});

  // Keys the file does not mention keep the defaults of options.h.
  const ExperimentOptions defaults;
  CHECK(o.run_dir == defaults.run_dir);
  CHECK(o.data.train_split == defaults.data.train_split);
  CHECK(o.augment.flip_prob == defaults.augment.flip_prob);
  CHECK(o.augment.hue == defaults.augment.hue);
  CHECK(o.model.output_dim == defaults.model.output_dim);
  CHECK(o.swav.temperature == defaults.swav.temperature);
  CHECK(o.swav.sinkhorn_iterations == defaults.swav.sinkhorn_iterations);
  CHECK(o.optim.final_lr == defaults.optim.final_lr);
  CHECK(o.optim.weight_decay == defaults.optim.weight_decay);
  CHECK(o.train.seed == defaults.train.seed);
  CHECK(o.eval.linear_epochs == defaults.eval.linear_epochs);
}

TEST_CASE("inline crop tables read like [[augment.crops]]", "[config]") {
  const auto o = parse_experiment(R"(
[data]
format = "synthetic"
[augment]
crops = [{size = 28, count = 2, min_scale = 0.3, max_scale = 1.0}, {size = 12, count = 3, min_scale = 0.1, max_scale = 0.3}]
)",
                                  "inline.toml");
  REQUIRE(o.augment.crops.size() == 2);
  CHECK(o.augment.crops[1].size == 12);
  CHECK(o.augment.crops[1].count == 3);
  CHECK(o.augment.crops[1].min_scale == 0.1);
}

TEST_CASE("an empty file gives the defaults", "[config]") {
  const auto o = parse_experiment("[data]\nformat = \"synthetic\"\n", "min.toml");
  ExperimentOptions expected;
  expected.data.format = "synthetic";
  swav::test::check_same_options(o, expected);
}

TEST_CASE("to_toml round-trips every field", "[config]") {
  SECTION("defaults") {
    const auto o = with_root();
    const auto back = parse_experiment(swav::to_toml(o), "canonical.toml");
    swav::test::check_same_options(back, o);
    CHECK(swav::to_toml(back) == swav::to_toml(o));
  }
  SECTION("every field customised") {
    const auto o = swav::test::customised_options();
    const auto back = parse_experiment(swav::to_toml(o), "canonical.toml");
    swav::test::check_same_options(back, o);
    CHECK(swav::to_toml(back) == swav::to_toml(o));
    // The customised set differs from the defaults in every hashed line.
    CHECK(swav::config_hash(o) != swav::config_hash(with_root()));
  }
  SECTION("awkward doubles") {
    auto o = with_root();
    o.optim.weight_decay = 1.0 / 3.0 * 1e-5;
    o.optim.base_lr = 5e-324;  // the smallest subnormal
    o.swav.epsilon = 0.1 + 0.2;
    o.model.width = 3.0;  // integral: must stay a float in the text
    const std::string text = swav::to_toml(o);
    CHECK(text.find("width = 3.0\n") != std::string::npos);
    const auto back = parse_experiment(text, "canonical.toml");
    CHECK(back.optim.weight_decay == o.optim.weight_decay);
    CHECK(back.optim.base_lr == o.optim.base_lr);
    CHECK(back.swav.epsilon == o.swav.epsilon);
    CHECK(back.model.width == 3.0);
  }
}

TEST_CASE("to_toml writes every valid key once, in file order", "[config]") {
  auto o = with_root();
  o.eval.transfer.resize(1);  // an array of tables is written only when it has an element
  o.eval.transfer[0].name = "cifar10";
  o.eval.transfer[0].data.root = "/data/cifar10";
  const std::string text = "\n" + swav::to_toml(o);
  const auto keys = swav::valid_keys();
  // top level, data, augment, model, swav,
  // (simclr, deepcluster, deepcluster_v1, sela, sela_v2, pcl), optim, train, eval
  CHECK(keys.size() == 4 + 15 + 19 + 8 + 7 + (1 + 3 + 2 + 4 + 4 + 8) + 11 + 12 + 24);
  std::string section;
  size_t last = 0;
  for (const auto& key : keys) {
    const auto dot = key.find('.');
    const std::string sec = dot == std::string::npos ? "" : key.substr(0, dot);
    const std::string leaf = dot == std::string::npos ? key : key.substr(dot + 1);
    size_t from = sec.empty() ? 0 : text.find("\n[" + sec + "]\n");
    REQUIRE(from != std::string::npos);
    const size_t at = key == "eval.transfer" ? text.find("\n[[eval.transfer]]\n", from)
                                             : text.find("\n" + leaf + " = ", from);
    INFO(key);
    REQUIRE(at != std::string::npos);
    CHECK(at >= last);
    last = at;
  }
}

TEST_CASE("config_hash ignores spelling and non-result keys, not results", "[config]") {
  const char* a = R"(
name = "x"
[data]
format = "synthetic"
[model]
width = 1
prototypes = [30, 30]
[swav]
epsilon = 0.05
temperature = 0.1
)";
  const char* b = R"(# same values, other order, spacing and comments
[swav]
temperature=0.1      # tau
epsilon   =   5e-2
[model]
prototypes = [ 30,
               30 ]
width = 1.0
[data]
format = 'synthetic'
[train]
log_every = 7
[augment]
workers = 9
prefetch = 4
[[augment.crops]]
size = 224
count = 2
min_scale = 0.14
max_scale = 1.0
[[augment.crops]]
size = 96
count = 6
min_scale = 0.05
max_scale = 0.14
)";
  const auto oa = parse_experiment(a, "a.toml");
  const auto ob = parse_experiment(b, "b.toml");
  const std::string hash = swav::config_hash(oa);
  CHECK(std::regex_match(hash, std::regex("[0-9a-f]{16}")));
  CHECK(swav::config_hash(ob) == hash);
  CHECK(swav::config_hash(oa) == swav::config_hash(parse_experiment(a, "a.toml")));

  SECTION("keys that cannot change results are left out") {
    for (const char* o : {"db=/elsewhere/x.db", "run_dir=/tmp/runs", "train.log_every=1",
                          "train.threads=3", "augment.workers=0", "augment.prefetch=8",
                          "data.cache_dir=/c", "train.checkpoint_every=5", "name=renamed"}) {
      INFO(o);
      CHECK(swav::config_hash(parse_experiment(a, "a.toml", {o})) == hash);
    }
    CHECK(swav::hashed_toml(oa).find("log_every") == std::string::npos);
    CHECK(swav::hashed_toml(oa).find("db =") == std::string::npos);
    CHECK(swav::to_toml(oa).find("log_every") != std::string::npos);
  }
  SECTION("a result-affecting value changes it") {
    for (const char* o : {"swav.epsilon=0.03", "model.prototypes=[30]", "model.prototypes=[30,31]",
                          "train.seed=32", "train.batch_size=65", "data.format=fashion_mnist",
                          "optim.larc=false", "train.device=cuda", "eval.knn_k=[20]"}) {
      INFO(o);
      std::vector<std::string> overrides = {o};
      if (std::string(o) == "data.format=fashion_mnist")
        overrides.insert(overrides.end(),
                         {"data.root=/d", "augment.mean=[0.5]", "augment.std=[0.5]"});
      CHECK(swav::config_hash(parse_experiment(a, "a.toml", overrides)) != hash);
    }
    auto changed = oa;
    changed.augment.crops[1].min_scale = 0.06;
    CHECK(swav::config_hash(changed) != hash);
  }
}

TEST_CASE("load_experiment reads a file and names a missing one", "[config]") {
  swav::test::TempDir dir;
  const std::string path = dir.str("exp.toml");
  std::ofstream(path) << kFullFile;
  const auto o = swav::load_experiment(path, {"swav.epsilon=0.02"});
  CHECK(o.name == "cifar_small");
  CHECK(o.swav.epsilon == 0.02);
  CHECK_THAT(swav::test::user_error([&] { swav::load_experiment(dir.str("nope.toml")); }),
             Catch::Contains(dir.str("nope.toml")) && Catch::Contains("No such file"));
  CHECK_THAT(swav::test::user_error([&] { swav::load_experiment(dir.str()); }),
             Catch::Contains("not a regular file"));
}
