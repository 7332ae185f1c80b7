// The baselines' tables: read, written back, hashed only for their method, and bad values
// rejected with the key named.
#include <catch2/catch.hpp>

#include "swav/config/config.h"
#include "swav/util/error.h"

using namespace swav;

TEST_CASE("baseline tables parse, round-trip and are hashed only for their method",
          "[baselines][config]") {
  const std::string text = R"(
method = "pcl"
[data]
format = "synthetic"
[optim]
exclude_bias_bn = true
[simclr]
temperature = 0.5
[deepcluster]
crops_for_assign = [1]
temperature = 0.2
kmeans_iterations = 4
[sela]
lambda = 10.0
label_steps = 7
schedule = "linear"
sinkhorn_tolerance = 0.01
[sela_v2]
crops_for_assign = [0]
temperature = 0.3
epsilon = 0.03
sinkhorn_iterations = 7
[pcl]
temperature = 0.25
momentum = 0.99
queue_length = 512
warmup_epochs = 3
clusters = [10, 20]
negative_prototypes = 9
kmeans_iterations = 6
kmeans_restarts = 2
)";
  auto o = parse_experiment(text, "b.toml");
  CHECK(o.optim.exclude_bias_bn);
  CHECK(o.simclr.temperature == 0.5);
  CHECK(o.deepcluster.crops_for_assign == std::vector<int64_t>{1});
  CHECK(o.deepcluster.temperature == 0.2);
  CHECK(o.deepcluster.kmeans_iterations == 4);
  CHECK(o.sela.lambda == 10.0);
  CHECK(o.sela.label_steps == 7);
  CHECK(o.sela.schedule == "linear");
  CHECK(o.sela.sinkhorn_tolerance == 0.01);
  CHECK(o.sela_v2.crops_for_assign == std::vector<int64_t>{0});
  CHECK(o.sela_v2.epsilon == 0.03);
  CHECK(o.sela_v2.sinkhorn_iterations == 7);
  CHECK(o.pcl.temperature == 0.25);
  CHECK(o.pcl.momentum == 0.99);
  CHECK(o.pcl.queue_length == 512);
  CHECK(o.pcl.warmup_epochs == 3);
  CHECK(o.pcl.clusters == std::vector<int64_t>{10, 20});
  CHECK(o.pcl.negative_prototypes == 9);
  CHECK(o.pcl.kmeans_iterations == 6);
  CHECK(o.pcl.kmeans_restarts == 2);
  const auto back = parse_experiment(to_toml(o), "canonical.toml");
  CHECK(to_toml(back) == to_toml(o));
  CHECK(back.pcl.clusters == o.pcl.clusters);

  // Only the active method's table enters the hash.
  auto other = o;
  other.simclr.temperature = 0.9;
  other.sela_v2.epsilon = 0.1;
  other.sela.lambda = 3.0;
  CHECK(config_hash(other) == config_hash(o));
  other.pcl.warmup_epochs = 4;
  CHECK(config_hash(other) != config_hash(o));
  // exclude_bias_bn enters the hash (only when set, so older SwAV hashes stay as they were).
  auto plain = o;
  plain.optim.exclude_bias_bn = false;
  CHECK(config_hash(plain) != config_hash(o));
  CHECK(hashed_toml(plain).find("exclude_bias_bn") == std::string::npos);
  CHECK(hashed_toml(plain).find("[simclr]") == std::string::npos);
  CHECK(to_toml(plain).find("[simclr]") != std::string::npos);
}

TEST_CASE("bad baseline values are rejected with the key named", "[baselines][config]") {
  // The body comes first: its top-level `method = ...` must precede any table header.
  const std::string tail = "[data]\nformat = \"synthetic\"\n";
  auto error = [&](const std::string& body) {
    try {
      parse_experiment(body + tail, "bad.toml");
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK_THAT(error("method = \"pcl\"\n[pcl]\nmomentum = 1.0\n"), Catch::Contains("pcl.momentum"));
  CHECK_THAT(error("method = \"pcl\"\n[pcl]\nclusters = [1]\n"),
             Catch::Contains("pcl.clusters[0]"));
  CHECK_THAT(error("method = \"simclr\"\n[simclr]\ntemperature = 0.0\n"),
             Catch::Contains("simclr.temperature"));
  CHECK_THAT(error("method = \"deepcluster_v2\"\n[deepcluster]\ncrops_for_assign = [9]\n"),
             Catch::Contains("deepcluster.crops_for_assign"));
  CHECK_THAT(error("method = \"sela_v2\"\n[sela_v2]\nepsilon = -1.0\n"),
             Catch::Contains("sela_v2.epsilon"));
  CHECK_THAT(error("method = \"sela\"\n[sela]\nschedule = \"cubic\"\n"),
             Catch::Contains("sela.schedule"));
  CHECK_THAT(error("method = \"simclr\"\n[[augment.crops]]\nsize = 32\ncount = 1\n"),
             Catch::Contains("at least 2 crops"));
  CHECK_THAT(error("method = \"dino\"\n"), Catch::Contains("deepcluster_v2"));
  // A table for another method is read and checked for unknown keys, not for its values.
  CHECK(error("method = \"swav\"\n[pcl]\nmomentum = 1.0\n") == "no error");
  CHECK_THAT(error("[pcl]\nmomentun = 0.9\n"), Catch::Contains("momentum"));
}
