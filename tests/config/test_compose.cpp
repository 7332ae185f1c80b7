// Composition (`defaults = [...]`), its precedence against the file and the overrides, and where
// errors in composed files point.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "config_test_util.h"
#include "swav/config/config.h"
#include "tests/helpers.h"

using swav::load_experiment;
using swav::test::user_error;

namespace {

void write(const swav::test::TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir.path() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// Three layers: base/a.toml <- base/b.toml (defaults a), base/c.toml; exp.toml uses b then c.
void write_layers(const swav::test::TempDir& dir) {
  write(dir, "base/a.toml", R"(name = "from_a"
[data]
format = "synthetic"
synthetic_classes = 5
[model]
arch = "convnet"
prototypes = [10, 20]
[swav]
epsilon = 0.01
temperature = 0.2
[train]
epochs = 5
batch_size = 32
[optim]
warmup_epochs = 1
)");
  write(dir, "base/b.toml", R"(defaults = ["a.toml"]   # relative to base/
[swav]
epsilon = 0.02
[augment]
crops = [{ size = 16, count = 2, min_scale = 0.5, max_scale = 1.0 },
         { size = 8, count = 4, min_scale = 0.1, max_scale = 0.5 }]
)");
  write(dir, "base/c.toml", R"([model]
prototypes = [30]
[augment]
crops = [{ size = 24, count = 2, min_scale = 0.4, max_scale = 1.0 }]
)");
  write(dir, "exp.toml", R"(defaults = ["base/b.toml", "base/c.toml"]
name = "exp"
[train]
epochs = 7
)");
}

}  // namespace

TEST_CASE("composition merges defaults in order, the file last, overrides last of all",
          "[config][compose]") {
  swav::test::TempDir dir;
  write_layers(dir);
  const auto o = load_experiment(dir.str("exp.toml"), {"swav.epsilon=0.03"});
  CHECK(o.name == "exp");                // the file beats its defaults
  CHECK(o.train.epochs == 7);            // the file
  CHECK(o.train.batch_size == 32);       // tables merge key by key: a's key survives
  CHECK(o.data.synthetic_classes == 5);  // from the deepest layer
  CHECK(o.swav.temperature == 0.2);      // a, not touched by b
  CHECK(o.swav.epsilon == 0.03);         // a 0.01 < b 0.02 < override 0.03
  CHECK(o.model.prototypes == std::vector<int64_t>{30});  // arrays are replaced, not merged
  REQUIRE(o.augment.crops.size() == 1);                   // c replaced b's two groups with one
  CHECK(o.augment.crops[0].size == 24);

  const auto no_override = load_experiment(dir.str("exp.toml"));
  CHECK(no_override.swav.epsilon == 0.02);  // b beats a
}

TEST_CASE("a composed config hashes like the same config written flat", "[config][compose]") {
  swav::test::TempDir dir;
  write_layers(dir);
  const auto composed = load_experiment(dir.str("exp.toml"));
  write(dir, "flat.toml", swav::to_toml(composed));
  const auto flat = load_experiment(dir.str("flat.toml"));
  swav::test::check_same_options(composed, flat);
  CHECK(swav::config_hash(composed) == swav::config_hash(flat));
}

TEST_CASE("errors in composed files name the file and line the value came from",
          "[config][compose]") {
  swav::test::TempDir dir;
  write_layers(dir);

  SECTION("a wrong type in a default file") {
    write(dir, "base/c.toml", "[model]\nprototypes = [30]\n\n[train]\nseed = \"x\"\n");
    const auto message = user_error([&] { load_experiment(dir.str("exp.toml")); });
    CHECK_THAT(message, Catch::Contains(dir.str("base/c.toml") + ":5") &&
                            Catch::Contains("train.seed") && Catch::Contains("integer"));
  }
  SECTION("an unknown key in a default file, with a suggestion") {
    write(dir, "base/c.toml", "[swav]\n\nepsilom = 0.1\n");
    const auto message = user_error([&] { load_experiment(dir.str("exp.toml")); });
    CHECK_THAT(message, Catch::Contains(dir.str("base/c.toml") + ":3") &&
                            Catch::Contains("swav.epsilom") && Catch::Contains("swav.epsilon"));
  }
  SECTION("a range error points at the layer that set the value last") {
    write(dir, "exp.toml", "defaults = [\"base/b.toml\"]\n[swav]\n\n\nepsilon = -1.0\n");
    const auto message = user_error([&] { load_experiment(dir.str("exp.toml")); });
    CHECK_THAT(message, Catch::Contains(dir.str("exp.toml") + ":5") &&
                            Catch::Contains("swav.epsilon = -1.0") &&
                            Catch::Contains("must be > 0"));
  }
  SECTION("a range error in a default file") {
    write(dir, "base/a.toml", "[data]\nformat = \"synthetic\"\n[train]\nbatch_size = 0\n");
    const auto message = user_error([&] { load_experiment(dir.str("exp.toml")); });
    CHECK_THAT(message, Catch::Contains(dir.str("base/a.toml") + ":4") &&
                            Catch::Contains("train.batch_size = 0"));
  }
  SECTION("a missing default file names the file that asks for it") {
    write(dir, "exp.toml", "name = \"x\"\ndefaults = [\"base/b.toml\", \"base/nope.toml\"]\n");
    const auto message = user_error([&] { load_experiment(dir.str("exp.toml")); });
    CHECK_THAT(message,
               Catch::Contains(dir.str("exp.toml") + ":2") && Catch::Contains("defaults[1]") &&
                   Catch::Contains(dir.str("base/nope.toml")) && Catch::Contains("No such file"));
  }
  SECTION("a cycle is reported with its chain") {
    write(dir, "base/a.toml", "defaults = [\"b.toml\"]\n");
    const auto message = user_error([&] { load_experiment(dir.str("exp.toml")); });
    CHECK_THAT(message, Catch::Contains("cycle") && Catch::Contains(dir.str("base/b.toml")) &&
                            Catch::Contains(dir.str("base/a.toml")));
  }
  SECTION("defaults must be a list of file names") {
    write(dir, "exp.toml", "defaults = \"base/b.toml\"\n");
    CHECK_THAT(user_error([&] { load_experiment(dir.str("exp.toml")); }),
               Catch::Contains("defaults: expected an array of file names"));
    write(dir, "exp.toml", "defaults = [\"base/b.toml\", 3]\n");
    CHECK_THAT(user_error([&] { load_experiment(dir.str("exp.toml")); }),
               Catch::Contains("defaults[1]: expected a file name"));
  }
  SECTION("a TOML syntax error in a default file names it") {
    write(dir, "base/c.toml", "[model\n");
    CHECK_THAT(
        user_error([&] { load_experiment(dir.str("exp.toml")); }),
        Catch::Contains(dir.str("base/c.toml") + ":1") && Catch::Contains("TOML syntax error"));
  }
}

TEST_CASE("overrides of composed files keep their syntax and suggestions", "[config][compose]") {
  swav::test::TempDir dir;
  write_layers(dir);
  const auto path = dir.str("exp.toml");
  CHECK(load_experiment(path, {"model.prototypes=[7,8]"}).model.prototypes ==
        std::vector<int64_t>{7, 8});
  CHECK(load_experiment(path, {"augment.crops=[{size=12,count=3,min_scale=0.2,max_scale=1.0}]"})
            .augment.crops[0]
            .count == 3);
  CHECK(load_experiment(path, {"data.root=/tmp/x y"}).data.root == "/tmp/x y");
  CHECK_THAT(user_error([&] { load_experiment(path, {"swav.epsilom=0.1"}); }),
             Catch::Contains("override `swav.epsilom=0.1`") &&
                 Catch::Contains("did you mean 'swav.epsilon'"));
  CHECK_THAT(user_error([&] { load_experiment(path, {"swav=1"}); }),
             Catch::Contains("'swav' is a section"));
  CHECK_THAT(user_error([&] { load_experiment(path, {"train.epochs=0"}); }),
             Catch::Contains("override `train.epochs=0`") && Catch::Contains("must be >= 1"));
}
