// Every class of bad input gives a UserError that names where, which key, the value and the rule.
#include <catch2/catch.hpp>

#include "config_test_util.h"
#include "swav/config/config.h"

using Catch::Contains;
using swav::parse_experiment;
using swav::test::user_error;

namespace {

/// The message of parsing "[data]\nformat = synthetic" + `extra` as exp.toml (+ overrides).
std::string error_of(const std::string& extra, const std::vector<std::string>& overrides = {}) {
  return user_error(
      [&] { parse_experiment("[data]\nformat = \"synthetic\"\n" + extra, "exp.toml", overrides); });
}

}  // namespace

TEST_CASE("a TOML syntax error names the file, line and column", "[config]") {
  const auto msg = error_of("[swav]\nepsilon = = 0.1\n");
  CHECK_THAT(msg, Contains("exp.toml:4:") && Contains("TOML syntax error"));
}

TEST_CASE("an unknown key is reported with the nearest valid key", "[config]") {
  SECTION("a typo") {
    CHECK_THAT(error_of("[swav]\nepsilon = 0.1\nepsilom = 0.2\n"),
               Contains("exp.toml:5") && Contains("unknown key 'swav.epsilom'") &&
                   Contains("did you mean 'swav.epsilon'?"));
  }
  SECTION("a key in the wrong section") {
    CHECK_THAT(error_of("[train]\nepsilon = 0.1\n"),
               Contains("exp.toml:4") && Contains("'train.epsilon'") && Contains("'swav.epsilon'"));
  }
  SECTION("a misspelt section") {
    CHECK_THAT(error_of("[swaw]\nepsilon = 0.1\n"),
               Contains("exp.toml:3") && Contains("unknown key 'swaw'") && Contains("'swav'"));
  }
  SECTION("a top-level key") {
    CHECK_THAT(user_error([] { parse_experiment("nmae = \"x\"\n", "exp.toml"); }),
               Contains("exp.toml:1") && Contains("'nmae'") && Contains("did you mean 'name'?"));
  }
  SECTION("inside a crop table") {
    CHECK_THAT(
        error_of("[augment]\ncrops = [{size = 28, count = 2, min_scale = 0.3, max_scal = 1.0}]\n"),
        Contains("'augment.crops[0].max_scal'") && Contains("'augment.crops[0].max_scale'"));
  }
  SECTION("nothing close: the valid keys of the section are listed") {
    CHECK_THAT(error_of("[optim]\nzzzzzzzzzzzzz = 1\n"), Contains("'optim.zzzzzzzzzzzzz'") &&
                                                             Contains("optim.base_lr") &&
                                                             Contains("optim.larc_eps"));
  }
}

TEST_CASE("a value of the wrong type names the key, the expected and the found type", "[config]") {
  CHECK_THAT(error_of("[train]\nbatch_size = 32.0\n"),
             Contains("exp.toml:4") && Contains("train.batch_size") &&
                 Contains("expected an integer") && Contains("got float 32.0"));
  CHECK_THAT(error_of("[swav]\nepsilon = \"small\"\n"),
             Contains("swav.epsilon") && Contains("expected a float") && Contains("\"small\""));
  CHECK_THAT(error_of("[model]\nprototypes = 100\n"),
             Contains("model.prototypes") && Contains("expected an array of integers") &&
                 Contains("got integer 100"));
  CHECK_THAT(error_of("[model]\nprototypes = [100, 1.5]\n"),
             Contains("model.prototypes[1]") && Contains("expected an integer"));
  CHECK_THAT(error_of("[optim]\nlarc = 1\n"),
             Contains("optim.larc") && Contains("expected a boolean"));
  CHECK_THAT(error_of("[augment]\nmean = 0.5\n"),
             Contains("augment.mean") && Contains("array of floats"));
  CHECK_THAT(user_error([] { parse_experiment("swav = 3\n", "exp.toml"); }),
             Contains("exp.toml:1: swav: expected a table, got integer 3"));
  CHECK_THAT(error_of("[augment]\ncrops = [1, 2]\n"),
             Contains("augment.crops[0]") && Contains("expected a table"));
  CHECK_THAT(error_of("[[augment.crops]]\nsize = \"big\"\n"),
             Contains("augment.crops[0].size") && Contains("expected an integer"));
}

TEST_CASE("out-of-range values name the key, the value and the allowed range", "[config]") {
  struct Case {
    std::string toml, expected1, expected2;
  };
  const std::vector<Case> cases = {
      {"[swav]\nepsilon = 0\n", "swav.epsilon = 0.0", "must be > 0"},
      {"[swav]\nepsilon = -0.5\n", "exp.toml:4: swav.epsilon = -0.5", "must be > 0"},
      {"[swav]\nepsilon = nan\n", "swav.epsilon = nan", "must be > 0"},
      {"[swav]\nqueue_length = -1\n", "swav.queue_length = -1", "must be >= 0"},
      {"[train]\nbatch_size = 0\n", "train.batch_size = 0", "must be >= 1"},
      {"[train]\ndevice = \"gpu\"\n", "train.device = \"gpu\"", "\"cuda:N\""},
      {"[train]\ndevice = \"cuda:x\"\n", "train.device = \"cuda:x\"", "\"cpu\""},
      {"[model]\narch = \"vit\"\n", "model.arch = \"vit\"",
       "\"resnet18\", \"resnet50\", \"convnet\""},
      {"[model]\nstem = \"tiny\"\n", "model.stem", "\"imagenet\", \"cifar\""},
      {"[model]\nprototypes = [100, 0]\n", "model.prototypes[1] = 0", "must be >= 1"},
      {"[model]\nprototypes = []\n", "model.prototypes = []", "at least one"},
      {"[augment]\nflip_prob = 1.5\n", "augment.flip_prob = 1.5", "[0, 1]"},
      {"[augment]\nmean = [0.5, 0.5]\nstd = [0.2, 0.2]\n", "augment.mean = [0.5, 0.5]", "1 entry"},
      {"[augment]\nmean = [0.5]\n", "augment.std = [0.228, 0.224, 0.225]", "as many entries"},
      {"[augment]\nmean = [0.5]\nstd = [0]\n", "augment.std[0] = 0.0", "must be > 0"},
      {"[[augment.crops]]\nsize = 32\ncount = 2\nmin_scale = 0.5\nmax_scale = 0.4\n",
       "exp.toml:3: augment.crops[0] = { size = 32, count = 2, min_scale = 0.5, max_scale = 0.4 }",
       "0 < min_scale <= max_scale <= 1"},
      {"[augment]\ncrops = [{size = 0, count = 2}]\n", "augment.crops[0].size = 0", "must be >= 1"},
      {"[augment]\ncrops = [{size = 8, count = 0}]\n", "augment.crops[0].count = 0",
       "must be >= 1"},
      {"[augment]\ncrops = []\n", "augment.crops", "at least one crop group"},
  };
  for (const auto& c : cases) {
    INFO(c.toml);
    CHECK_THAT(error_of(c.toml), Contains(c.expected1) && Contains(c.expected2));
  }
  CHECK_THAT(user_error([] {
               parse_experiment("method = \"swaf\"\n[data]\nformat = \"synthetic\"\n", "exp.toml");
             }),
             Contains("exp.toml:1: method = \"swaf\"") && Contains("must be one of \"swav\""));
  // A top-level key under a section header is reported with the section and a suggestion.
  CHECK_THAT(error_of("method = \"swav\"\n"),
             Contains("exp.toml:3: unknown key 'data.method'; did you mean 'method'?"));
  // data.root is required unless the data are synthetic.
  CHECK_THAT(
      user_error([] { parse_experiment("[data]\nformat = \"fashion_mnist\"\n", "exp.toml"); }),
      Contains("data.root = \"\"") && Contains("must name the dataset folder"));
  CHECK_THAT(
      user_error([] { parse_experiment("[data]\nformat = \"png\"\nroot = \"/d\"\n", "exp.toml"); }),
      Contains("exp.toml:2: data.format = \"png\"") && Contains("\"synthetic\""));
}

TEST_CASE("cross-field rules: crops_for_assign must index existing crops, once each", "[config]") {
  CHECK_THAT(
      error_of("[augment]\ncrops = [{size = 8, count = 2}]\n[swav]\ncrops_for_assign = [0, 2]\n"),
      Contains("exp.toml:6: swav.crops_for_assign = [0, 2]") &&
          Contains("index 2 is outside the 2 crops") && Contains("0..1"));
  CHECK_THAT(error_of("[swav]\ncrops_for_assign = [1, 1]\n"),
             Contains("swav.crops_for_assign = [1, 1]") && Contains("appears twice"));
  CHECK_THAT(error_of("[swav]\ncrops_for_assign = [-1]\n"), Contains("index -1 is outside"));
  // The offending value may be a default: then the message names the file and the key.
  CHECK_THAT(error_of("[augment]\ncrops = [{size = 8, count = 1}]\n"),
             Contains("exp.toml (default value): swav.crops_for_assign = [0, 1]") &&
                 Contains("index 1 is outside the 1 crops"));
  // Across sections: warmup longer than training.
  CHECK_THAT(error_of("[train]\nepochs = 5\n"),
             Contains("optim.warmup_epochs = 10") && Contains("<= train.epochs (5)"));
  // validate() alone names the source it is given.
  swav::ExperimentOptions o;
  o.data.format = "synthetic";
  o.swav.epsilon = -1;
  CHECK_THAT(user_error([&] { swav::validate(o, "built in code"); }),
             Contains("built in code: swav.epsilon = -1.0"));
}

TEST_CASE("overrides set values, replace arrays and are checked like the file", "[config]") {
  const std::string base =
      "[data]\nformat = \"synthetic\"\n[model]\nprototypes = [3000, 3000, 3000]\n";
  SECTION("valid overrides") {
    const auto o = parse_experiment(
        base, "exp.toml",
        {"swav.epsilon=0.03", "model.prototypes=[100,100]", "data.root=/tmp/x y",
         "train.device=cuda:0", "augment.crops=[{size=28,count=2,min_scale=0.3,max_scale=1.0}]",
         "name = quoted", "data.cache_dir=\"/with \\\"escapes\\\"\"", "optim.larc=false",
         "train.epochs = 50"});
    CHECK(o.swav.epsilon == 0.03);
    CHECK(o.model.prototypes == std::vector<int64_t>{100, 100});
    CHECK(o.data.root == "/tmp/x y");
    CHECK(o.train.device == "cuda:0");
    REQUIRE(o.augment.crops.size() == 1);
    CHECK(o.augment.crops[0].size == 28);
    CHECK(o.augment.crops[0].min_scale == 0.3);
    CHECK(o.name == "quoted");
    CHECK(o.data.cache_dir == "/with \"escapes\"");
    CHECK(o.optim.larc == false);
    CHECK(o.train.epochs == 50);
  }
  SECTION("later overrides win; a missing section is created") {
    const auto o = parse_experiment("[data]\nformat = \"synthetic\"\n", "exp.toml",
                                    {"swav.epsilon=0.1", "swav.epsilon=0.02"});
    CHECK(o.swav.epsilon == 0.02);
  }
  SECTION("an unknown key names the override and suggests a key") {
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"swav.epsilom=0.1"}); }),
               Contains("override `swav.epsilom=0.1`") && Contains("unknown key 'swav.epsilom'") &&
                   Contains("did you mean 'swav.epsilon'?"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"swav=1"}); }),
               Contains("override `swav=1`: 'swav' is a section"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"epsilon=0.1"}); }),
               Contains("unknown key 'epsilon'; did you mean 'swav.epsilon'?"));
  }
  SECTION("malformed overrides") {
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"swav.epsilon"}); }),
               Contains("override `swav.epsilon`") && Contains("expected key=value"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"=3"}); }),
               Contains("key before '='"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"swav.epsilon="}); }),
               Contains("no value after '='"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"swav.epsilon=abc"}); }),
               Contains("override `swav.epsilon=abc`") && Contains("expected a float"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"model.prototypes=[1,2"}); }),
               Contains("not a TOML value for model.prototypes"));
    CHECK_THAT(
        user_error([&] { parse_experiment(base, "exp.toml", {"swav.epsilon=1\nname=\"x\""}); }),
        Contains("single TOML value"));
  }
  SECTION("type and range errors of an override name the override") {
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"train.batch_size=1.5"}); }),
               Contains("override `train.batch_size=1.5`: train.batch_size: expected an integer"));
    CHECK_THAT(user_error([&] { parse_experiment(base, "exp.toml", {"swav.epsilon=-1"}); }),
               Contains("override `swav.epsilon=-1`: swav.epsilon = -1.0: must be > 0"));
    CHECK_THAT(user_error([&] {
                 parse_experiment(base, "exp.toml",
                                  {"augment.crops=[{size=28,count=2,min_scale=0.3,maxscale=1}]"});
               }),
               Contains("override `augment.crops=") && Contains("'augment.crops[0].maxscale'"));
  }
  SECTION("an override cannot descend into a non-table") {
    CHECK_THAT(
        user_error([&] { parse_experiment("swav = 1\n", "exp.toml", {"swav.epsilon=0.1"}); }),
        Contains("override `swav.epsilon=0.1`") && Contains("'swav' is not a table") &&
            Contains("from exp.toml:1"));
  }
}
