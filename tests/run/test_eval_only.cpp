// run_experiment --eval-only --weights FILE: weights trained elsewhere, evaluated with an
// experiment's protocols and stored beside our runs (method "external" in the tables), and the
// SHA-256 that identifies the file.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/report/run_report.h"
#include "swav/report/tables.h"
#include "swav/run/export.h"
#include "swav/run/runner.h"
#include "swav/store/store.h"
#include "swav/util/error.h"
#include "swav/util/sha256.h"

using namespace swav;
using Catch::Contains;

namespace {

namespace fs = std::filesystem;

struct Workspace {
  test::TempDir dir;
  std::string db = dir.str("store.db");
  std::string experiment;

  explicit Workspace(ExperimentOptions o) {
    o.db = db;
    o.run_dir = dir.str("runs");
    experiment = dir.str(o.name + ".toml");
    std::ofstream(experiment) << to_toml(o);
  }

  RunOutcome run(const std::string& weights = "", bool force = false) {
    RunRequest request;
    request.config_path = experiment;
    request.progress = false;
    request.weights = weights;
    request.force = force;
    return run_experiment(request);
  }
};

/// protocol/metric -> value of a run's evaluations.
std::map<std::string, double> evals_of(const Store& store, int64_t run_id) {
  std::map<std::string, double> out;
  for (const auto& e : store.evals(run_id)) out[e.protocol + "/" + e.metric] = e.value;
  return out;
}

std::string sha256sum(const std::string& path) {
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(("sha256sum '" + path + "'").c_str(), "r"),
                                             &pclose);
  char buffer[65] = {};
  if (!pipe || std::fread(buffer, 1, 64, pipe.get()) != 64) return "";
  return buffer;
}

}  // namespace

TEST_CASE("file_sha256 gives the standard digests, for small files and files of many blocks",
          "[eval_only]") {
  test::TempDir dir;
  std::ofstream(dir.str("empty"));
  CHECK(file_sha256(dir.str("empty")) ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  std::ofstream(dir.str("abc")) << "abc";
  CHECK(file_sha256(dir.str("abc")) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::ofstream(dir.str("million")) << std::string(1000000, 'a');
  CHECK(file_sha256(dir.str("million")) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Several 1 MiB blocks and a partial one, against coreutils' sha256sum.
  {
    std::string bytes(2'700'000, '\0');
    for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 7919 % 251);
    std::ofstream(dir.str("big"), std::ios::binary) << bytes;
  }
  const std::string expected = sha256sum(dir.str("big"));
  if (expected.empty()) {
    WARN("no sha256sum: the multi-block comparison is skipped");
  } else {
    CHECK(file_sha256(dir.str("big")) == expected);
  }
  CHECK_THROWS_WITH(file_sha256(dir.str("missing")), Contains(dir.str("missing")));
}

TEST_CASE("an --eval-only run of a trained run's weights gives its evaluations, stored as external",
          "[eval_only]") {
  auto o = test::tiny_experiment();
  o.name = "eval_only";
  o.train.epochs = 2;
  Workspace ws(o);
  const auto trained = ws.run();
  REQUIRE(trained.error == "");
  REQUIRE(trained.ok);

  auto network = load_trained_network(ws.dir.str("runs/main"));
  const std::string full = ws.dir.str("full.pt"), backbone = ws.dir.str("backbone.pt");
  save_state_dict(exported_state(network, "full"), full);
  save_state_dict(exported_state(network, "torchvision"), backbone);

  Store store(ws.db);
  const auto reference = evals_of(store, trained.run_id);
  REQUIRE(reference.count("clusters/nmi") == 1);

  // The whole network: every protocol of the trained run, clusters included, with its numbers.
  const auto external = ws.run(full);
  REQUIRE(external.error == "");
  REQUIRE(external.ok);
  CHECK(external.run_id != trained.run_id);
  const auto run = store.run(external.run_id);
  REQUIRE(run);
  CHECK(run->status == "done");
  CHECK(run->external());
  CHECK(run->weights == fs::absolute(full).lexically_normal().string());
  CHECK(run->weights_sha256 == file_sha256(full));
  CHECK(run->trial == "eval full.pt");
  CHECK(store.metrics(external.run_id, "loss").empty());  // nothing trained
  auto got = evals_of(store, external.run_id);
  CHECK(got.count("knn_init/top1_k5") == 0);
  for (const auto& [key, value] : reference) {
    if (key.rfind("knn_init/", 0) == 0) continue;
    INFO(key);
    REQUIRE(got.count(key) == 1);
    CHECK(got.at(key) == Approx(value).margin(1e-12));
  }
  CHECK_THAT(format_run_results(store, external.run_id),
             Contains("external weights " + run->weights) && Contains(run->weights_sha256));

  // The same bytes again, even under another name: the run exists. --force evaluates again.
  const std::string copy = ws.dir.str("copy_of_full.pt");
  fs::copy_file(full, copy);
  CHECK(ws.run(full).skipped);
  const auto same = ws.run(copy);
  CHECK(same.skipped);
  CHECK(same.run_id == external.run_id);

  // The official SwAV release's layout: "module." before every name, the head under
  // "projection_head.", one head of prototypes as "prototypes.weight".
  StateDict official;
  for (auto [name, tensor] : exported_state(network, "full")) {
    if (name.rfind("head.net.", 0) == 0) name = "projection_head." + name.substr(9);
    if (name == "prototypes.head0.weight") name = "prototypes.weight";
    official.emplace_back("module." + name, tensor);
  }
  const std::string release = ws.dir.str("swav_release.pth");
  save_state_dict(official, release);
  const auto from_release = ws.run(release);
  REQUIRE(from_release.ok);
  got = evals_of(store, from_release.run_id);
  REQUIRE(got.count("clusters/nmi") == 1);
  CHECK(got.at("clusters/nmi") == Approx(reference.at("clusters/nmi")).margin(1e-12));
  CHECK(got.at("knn/top1_k5") == Approx(reference.at("knn/top1_k5")).margin(1e-12));

  // The backbone alone: no head or prototypes, so no clusters; the features are the same.
  const auto bare = ws.run(backbone);
  REQUIRE(bare.ok);
  got = evals_of(store, bare.run_id);
  CHECK(got.count("clusters/nmi") == 0);
  CHECK(got.at("knn/top1_k5") == Approx(reference.at("knn/top1_k5")).margin(1e-12));

  // The tables put them beside the trained run, as method "external" named by file and digest.
  const Store reader(ws.db, Store::Access::kReadOnly);
  const auto runs = report::load_runs(reader, "eval_only");
  REQUIRE(runs.size() == 4);
  const auto table = report::build_table("eval_only", runs);
  const std::string md = report::render(table, report::Format::kMarkdown);
  CHECK_THAT(md, Contains("external") && Contains("full.pt@" + run->weights_sha256.substr(0, 8)) &&
                     Contains("backbone.pt@"));
}

TEST_CASE("an --eval-only run reports a missing, corrupt or mismatched weights file by name",
          "[eval_only]") {
  auto o = test::tiny_experiment();
  o.name = "eval_only_errors";
  Workspace ws(o);

  const std::string missing = ws.dir.str("missing.pt");
  const auto none = ws.run(missing);
  CHECK_FALSE(none.ok);
  CHECK_THAT(none.error, Contains("--weights " + missing) && Contains("no such file"));

  const std::string corrupt = ws.dir.str("corrupt.pt");
  std::ofstream(corrupt) << "PK\x03\x04 not really a zip archive";
  const auto bad = ws.run(corrupt);
  CHECK_FALSE(bad.ok);
  CHECK_THAT(bad.error, Contains(corrupt));
  Store store(ws.db);
  REQUIRE(store.run(bad.run_id));
  CHECK(store.run(bad.run_id)->status == "failed");
  CHECK(store.run(bad.run_id)->external());

  // A ResNet-18's weights for the experiment's ConvNet: every missing tensor named.
  auto resnet = o.model;
  resnet.arch = "resnet18";
  resnet.width = 0.25;
  torch::manual_seed(1);
  auto other = make_backbone(resnet, 3);
  const std::string wrong = ws.dir.str("resnet18.pt");
  save_state_dict(backbone_state_dict(*other, resnet), wrong);
  const auto mismatch = ws.run(wrong);
  CHECK_FALSE(mismatch.ok);
  CHECK_THAT(mismatch.error, Contains("--weights " + fs::absolute(wrong).lexically_normal().string()) &&
                                 Contains("net.0.weight"));
  // The failed evaluations are rows of their own; no trained run was touched or created.
  for (const auto& r : store.runs("eval_only_errors")) CHECK(r.external());
}
