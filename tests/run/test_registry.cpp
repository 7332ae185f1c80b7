// The method names live in one list (swav/config/fields.h): the registry builds exactly those, and
// the documentation describes each.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>

#include "swav/config/config.h"
#include "swav/run/registry.h"
#include "swav/util/error.h"
#include "test_paths.h"
#include "tests/helpers.h"

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

TEST_CASE("the registry, the config's method list and the docs name the same methods",
          "[run][registry]") {
  auto config_names = swav::known_methods();
  std::sort(config_names.begin(), config_names.end());
  CHECK(swav::registered_methods() == config_names);

  const std::string baselines = read(std::string(SWAV_SOURCE_DIR) + "/docs/BASELINES.md");
  const std::string readme = read(std::string(SWAV_SOURCE_DIR) + "/README.md");
  // The README's sentence that lists the values of `method`, up to the end of its paragraph.
  const auto begin = readme.find("`method` picks one of");
  REQUIRE(begin != std::string::npos);
  const std::string listing = readme.substr(begin, readme.find("\n\n", begin) - begin);
  for (const auto& name : config_names) {
    INFO(name);
    CHECK(listing.find("`" + name + "`") != std::string::npos);
    if (name != "swav") CHECK(baselines.find("| `" + name + "` |") != std::string::npos);
  }
}

TEST_CASE("the registry builds every listed method and refuses others by name", "[run][registry]") {
  auto options = swav::test::tiny_experiment();
  options.pcl.clusters = {5};
  options.pcl.queue_length = 2 * options.train.batch_size;
  for (const auto& name : swav::known_methods()) {
    INFO(name);
    options.method = name;
    auto method = swav::make_method(options, 3, 200);
    REQUIRE(method);
    CHECK(method->name() == name);
  }
  options.method = "byol";
  CHECK_THROWS_WITH(swav::make_method(options, 3, 200),
                    Catch::Contains("unknown method 'byol'") && Catch::Contains("sela_v2"));
}

TEST_CASE("clustering methods refuse more clusters than training images, naming the key",
          "[run][registry]") {
  auto options = swav::test::tiny_experiment();
  for (const std::string name : {"deepcluster_v1", "deepcluster_v2", "sela", "sela_v2"}) {
    INFO(name);
    options.method = name;
    options.model.prototypes =
        name == "deepcluster_v1" ? std::vector<int64_t>{500} : std::vector<int64_t>{5, 500};
    const std::string key = name == "deepcluster_v1" ? "model.prototypes:" : "model.prototypes[1]:";
    CHECK_THROWS_WITH(
        swav::make_method(options, 3, 200),
        Catch::Contains(key + " 500 clusters asked for") && Catch::Contains("only 200 images"));
    options.model.prototypes = {200};  // as many clusters as images is allowed
    CHECK_NOTHROW(swav::make_method(options, 3, 200));
  }
  options.method = "pcl";
  options.pcl.clusters = {10, 300};
  CHECK_THROWS_WITH(swav::make_method(options, 3, 200),
                    Catch::Contains("pcl.clusters[1]: 300 clusters asked for"));
}
