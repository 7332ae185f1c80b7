// The field lists of swav/config/fields.h: one description per key serves the reader, the writer,
// the schema, the validator and the key reference, so they cannot disagree.
#include <catch2/catch.hpp>

#include <set>

#include "swav/config/config.h"
#include "swav/util/error.h"

using Catch::Contains;

namespace {

const char* kBase = R"(
[data]
format = "synthetic"
[augment]
crops = [{ size = 16, count = 2, min_scale = 0.5, max_scale = 1.0 }]
)";

}  // namespace

TEST_CASE("every settable key is documented, with its default and type", "[config][fields]") {
  const auto docs = swav::key_docs();
  std::set<std::string> documented;
  for (const auto& k : docs) {
    INFO(k.path);
    CHECK(k.doc.size() >= 8);  // a real sentence, not a placeholder
    if (k.type == "section") continue;
    CHECK_FALSE(k.type.empty());
    CHECK_FALSE(k.default_value.empty());
    documented.insert(k.path);
  }
  for (const auto& key : swav::valid_keys()) {
    INFO(key);
    CHECK((documented.count(key) || documented.count("[[" + key + "]]")));
  }
  // The keys inside arrays of tables are documented too.
  CHECK(documented.count("augment.crops[].min_scale"));
  CHECK(documented.count("eval.transfer[].name"));
  CHECK(documented.count("eval.transfer[].root"));
}

TEST_CASE("key_docs' defaults are the options' defaults", "[config][fields]") {
  // The reference shows what a file that leaves a key out gets: parse each documented default
  // back as an override and check the config is unchanged.
  const auto defaults = swav::parse_experiment(kBase, "base.toml");
  const std::string hash = swav::config_hash(defaults);
  size_t checked = 0;
  for (const auto& k : swav::key_docs()) {
    if (k.type == "section" || k.path.find('[') != std::string::npos) continue;
    if (k.path == "method" || k.path.rfind("data.", 0) == 0 || k.path == "augment.crops") continue;
    INFO(k.path << " = " << k.default_value);
    const auto o = swav::parse_experiment(kBase, "base.toml", {k.path + "=" + k.default_value});
    CHECK(swav::config_hash(o) == hash);
    ++checked;
  }
  CHECK(checked > 100);
}

TEST_CASE("the hash-excluded keys are the ones documented as such", "[config][fields]") {
  std::set<std::string> excluded;
  for (const auto& k : swav::key_docs()) {
    if (!k.hashed) excluded.insert(k.path);
  }
  std::set<std::string> listed;
  for (const auto& key : swav::hash_excluded_keys()) {
    // eval.transfer.cache_dir is documented as eval.transfer[].cache_dir
    const auto at = key.find("transfer.");
    listed.insert(at == std::string::npos ? key
                                          : key.substr(0, at + 8) + "[]" + key.substr(at + 8));
  }
  CHECK(listed == excluded);
  CHECK(listed.count("train.threads"));
  CHECK_FALSE(listed.count("swav.epsilon"));
}

TEST_CASE("a key hashed unless default enters the hash only away from its declared default",
          "[config][fields][hash]") {
  // optim.exclude_bias_bn was added after runs were stored (see fields.h's HashedUnlessDefault).
  const auto plain = swav::parse_experiment(kBase, "base.toml");
  const auto off = swav::parse_experiment(kBase, "base.toml", {"optim.exclude_bias_bn=false"});
  const auto on = swav::parse_experiment(kBase, "base.toml", {"optim.exclude_bias_bn=true"});
  CHECK_THAT(swav::hashed_toml(plain), !Contains("exclude_bias_bn"));
  CHECK(swav::config_hash(off) == swav::config_hash(plain));
  CHECK_THAT(swav::hashed_toml(on), Contains("exclude_bias_bn = true"));
  CHECK(swav::config_hash(on) != swav::config_hash(plain));
  // The full form (what a run stores) always carries it.
  CHECK_THAT(swav::to_toml(plain), Contains("exclude_bias_bn = false"));
}

TEST_CASE("an unknown key inside [[eval.transfer]] is an error, not ignored", "[config][fields]") {
  const std::string text = std::string(kBase) + R"(
[[eval.transfer]]
name = "other"
format = "synthetic"
synthetic_clases = 5
)";
  CHECK_THROWS_WITH(swav::parse_experiment(text, "t.toml"),
                    Contains("unknown key 'eval.transfer[0].synthetic_clases'") &&
                        Contains("did you mean") && Contains("synthetic_classes"));
}

TEST_CASE("per-key rules name the element of an array", "[config][fields]") {
  CHECK_THROWS_WITH(swav::parse_experiment(kBase, "t.toml", {"model.prototypes=[10,0]"}),
                    Contains("model.prototypes[1] = 0: must be >= 1"));
  CHECK_THROWS_WITH(swav::parse_experiment(kBase, "t.toml", {"augment.std=[0.2,-1.0,0.2]"}),
                    Contains("augment.std[1] = -1.0: must be > 0"));
  CHECK_THROWS_WITH(swav::parse_experiment(kBase, "t.toml", {"eval.semi_fractions=[0.5,1.5]"}),
                    Contains("eval.semi_fractions[1] = 1.5: must be a share"));
  // A rule of a method's own section applies only when that method runs.
  CHECK_NOTHROW(swav::parse_experiment(kBase, "t.toml", {"pcl.momentum=1.5"}));
  CHECK_THROWS_WITH(swav::parse_experiment(kBase, "t.toml", {"pcl.momentum=1.5", "method=pcl"}),
                    Contains("pcl.momentum = 1.5: must be in [0, 1)"));
}
