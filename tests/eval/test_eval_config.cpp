// The evaluation keys of experiment files: reading, writing back, hashing and bad input.
#include <catch2/catch.hpp>

#include "swav/config/config.h"
#include "swav/util/error.h"

using namespace swav;

namespace {

const char* kTransferFile = R"(
name = "t"
[data]
format = "synthetic"
[eval]
swav_linear = true
swav_linear_epochs = 7
swav_linear_min_scale = 0.2
center_crop = 1.0
semi_supervised = true
semi_fractions = [0.05, 0.5]
semi_epochs = 3
semi_lr = 0.02
semi_head_lr = 1
semi_seed = 12
clusters = false

[[eval.transfer]]
name = "cifar10"
format = "image_folder"
root = "/data/cifar10"
train_split = "train"
test_split = "test"
image_size = 32
test_limit = 1000
mean = [0.49, 0.48, 0.45]
std = [0.25, 0.24, 0.26]

[[eval.transfer]]
name = "fmnist"
format = "fashion_mnist"
root = "/usr/share/datasets/fashion-mnist"
mean = [0.286]
std = [0.353]
)";

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  text.replace(text.find(from), from.size(), to);
  return text;
}

std::string message_of(const std::string& text, std::vector<std::string> overrides = {}) {
  try {
    parse_experiment(text, "x.toml", overrides);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("evaluation keys and [[eval.transfer]] tables are read and written back",
          "[config][eval]") {
  const auto o = parse_experiment(kTransferFile, "x.toml");
  CHECK(o.eval.swav_linear);
  CHECK(o.eval.swav_linear_epochs == 7);
  CHECK(o.eval.swav_linear_min_scale == 0.2);
  CHECK(o.eval.center_crop == 1.0);
  CHECK(o.eval.semi_supervised);
  CHECK(o.eval.semi_fractions == std::vector<double>{0.05, 0.5});
  CHECK(o.eval.semi_epochs == 3);
  CHECK(o.eval.semi_head_lr == 1.0);
  CHECK(o.eval.semi_seed == 12);
  CHECK_FALSE(o.eval.clusters);
  REQUIRE(o.eval.transfer.size() == 2);
  CHECK(o.eval.transfer[0].name == "cifar10");
  CHECK(o.eval.transfer[0].data.format == "image_folder");
  CHECK(o.eval.transfer[0].data.test_split == "test");
  CHECK(o.eval.transfer[0].data.image_size == 32);
  CHECK(o.eval.transfer[0].data.test_limit == 1000);
  CHECK(o.eval.transfer[0].mean == std::vector<double>{0.49, 0.48, 0.45});
  CHECK(o.eval.transfer[1].data.root == "/usr/share/datasets/fashion-mnist");
  CHECK(o.eval.transfer[1].std == std::vector<double>{0.353});

  // to_toml -> parse gives the same options (and the same hash).
  const std::string text = to_toml(o);
  CHECK_THAT(text, Catch::Contains("[[eval.transfer]]"));
  const auto back = parse_experiment(text, "back.toml");
  CHECK(to_toml(back) == text);
  CHECK(config_hash(back) == config_hash(o));
  // Transfer settings are results: changing one changes the hash; its cache folder does not.
  auto other = o;
  other.eval.transfer[0].data.test_limit = 10;
  CHECK(config_hash(other) != config_hash(o));
  other = o;
  other.eval.transfer[0].data.cache_dir = "/elsewhere";
  CHECK(config_hash(other) == config_hash(o));
  // Overrides reach the scalar evaluation keys.
  auto overridden = parse_experiment(kTransferFile, "x.toml", {"eval.semi_fractions=[0.01]"});
  CHECK(overridden.eval.semi_fractions == std::vector<double>{0.01});
}

TEST_CASE("bad evaluation settings are rejected naming the key and the rule", "[config][eval]") {
  const std::string base = kTransferFile;
  CHECK_THAT(message_of(base, {"eval.semi_fractions=[1.5]"}),
             Catch::Contains("eval.semi_fractions[0] = 1.5") && Catch::Contains("(0, 1]"));
  CHECK_THAT(message_of(base, {"eval.center_crop=0.0"}), Catch::Contains("eval.center_crop"));
  CHECK_THAT(message_of(base, {"eval.swav_linear_epochs=0"}),
             Catch::Contains("eval.swav_linear_epochs = 0") && Catch::Contains(">= 1"));
  CHECK_THAT(message_of(replaced(base, "\"fmnist\"", "\"f:mnist\"")),
             Catch::Contains("eval.transfer[1].name") && Catch::Contains("without ':'"));
  CHECK_THAT(message_of(replaced(base, "\"fmnist\"", "\"cifar10\"")),
             Catch::Contains("names another [[eval.transfer]]"));
  CHECK_THAT(message_of(base + "bogus_key = 1\n"), Catch::Contains("bogus_key"));
  CHECK_THAT(message_of(replaced(base, "root = \"/usr/share/datasets/fashion-mnist\"", "")),
             Catch::Contains("eval.transfer[1].root"));
  CHECK_THAT(message_of(replaced(base, "std = [0.353]", "std = [0.3, 0.3]")),
             Catch::Contains("eval.transfer[1].std"));
}
