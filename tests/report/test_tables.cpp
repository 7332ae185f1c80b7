// make_tables' library: rows from config diffs, seeds pooled, best marked, byte-stable output, and
// the committed tables regenerated from the committed store.
#include <catch2/catch.hpp>

#include <algorithm>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/report/svg.h"
#include "swav/report/tables.h"
#include "swav/store/store.h"
#include "test_paths.h"

using namespace swav;
using namespace swav::report;

namespace {

// One finished run with the given settings and results.
int64_t add_run(Store& store, const std::string& experiment, const ExperimentOptions& options,
                const std::vector<std::tuple<std::string, std::string, double>>& evals,
                const std::vector<double>& losses, double seconds, double usage) {
  RunInfo info;
  info.experiment = experiment;
  info.trial = "main";
  info.config_toml = to_toml(options);
  info.config_hash = config_hash(options);
  info.seed = options.train.seed;
  const int64_t id = store.begin_run(info);
  for (size_t e = 0; e < losses.size(); ++e) {
    store.log_metrics(id, static_cast<int64_t>(e), 0,
                      {{"loss", losses[e]}, {"seconds", seconds}, {"prototype_usage", usage}});
  }
  for (const auto& [protocol, metric, value] : evals)
    store.log_eval(id, protocol, "d/test", metric, value);
  store.finish_run(id, true);
  return id;
}

ExperimentOptions with(double epsilon, int64_t seed) {
  auto o = test::tiny_experiment();
  o.name = "eps";
  o.swav.epsilon = epsilon;
  o.train.seed = seed;
  return o;
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("an epsilon sweep becomes one row per epsilon with seeds pooled", "[report]") {
  test::TempDir dir;
  Store store(dir.str("s.db"));
  add_run(store, "eps", with(0.05, 1),
          {{"knn", "top1_k20", 0.80}, {"linear", "top1_best", 0.70}, {"clusters", "nmi", 0.5}},
          {3.0, 2.0}, 10.0, 0.9);
  add_run(store, "eps", with(0.05, 2),
          {{"knn", "top1_k20", 0.82}, {"linear", "top1_best", 0.74}, {"clusters", "nmi", 0.6}},
          {3.0, 2.5}, 12.0, 1.0);
  add_run(store, "eps", with(0.03, 1), {{"knn", "top1_k20", 0.90}, {"knn", "top1_k200", 0.85}},
          {3.0, 1.5}, 20.0, 0.5);
  // A failed run and another experiment are not in the table.
  RunInfo failed;
  failed.experiment = "eps";
  failed.config_toml = to_toml(with(0.01, 1));
  store.finish_run(store.begin_run(failed), false, "boom");
  add_run(store, "other", with(0.05, 1), {}, {1.0}, 1.0, 1.0);

  CHECK(experiments(store) == std::vector<std::string>{"eps", "other"});
  const auto runs = load_runs(store, "eps");
  REQUIRE(runs.size() == 3);
  const Table table = build_table("eps", runs);
  CHECK(table.layout == "epsilon");
  CHECK(table.row_keys == std::vector<std::string>{"swav.epsilon"});
  REQUIRE(table.rows.size() == 2);
  CHECK(table.rows[0].labels == std::vector<std::string>{"0.03"});  // sorted by value
  CHECK(table.rows[1].labels == std::vector<std::string>{"0.05"});
  CHECK(table.rows[1].run_ids.size() == 2);
  std::vector<std::string> titles;
  for (const auto& c : table.columns) titles.push_back(c.title);
  CHECK(titles == std::vector<std::string>{"kNN k=20", "kNN k=200", "Linear", "NMI", "s/epoch",
                                           "Proto usage"});
  const Stat knn = table.rows[1].cells[0];
  CHECK(knn.n == 2);
  CHECK(knn.mean == Approx(0.81));
  CHECK(knn.std == Approx(0.0141421356).epsilon(1e-6));  // sample std of {0.80, 0.82}
  CHECK(table.rows[0].cells[2].n == 0);                  // no linear probe in that run

  const std::string md = render(table, Format::kMarkdown);
  const std::string expected_rows =
      "| epsilon | n | kNN k=20 | kNN k=200 | Linear | NMI | s/epoch | Proto usage |\n"
      "|:--|--:|--:|--:|--:|--:|--:|--:|\n"
      "| 0.03 | 1 | **90.00** | 85.00 | - | - | 20.0 | 50.0 |\n"
      "| 0.05 | 2 | 81.00 ± 1.41 | - | 72.00 ± 2.83 | 0.550 ± 0.071 | **11.0 ± 1.4** | **95.0 ± "
      "7.1** |\n";
  CHECK_THAT(md, Catch::EndsWith(expected_rows));
  CHECK_THAT(md, Catch::StartsWith("### Sinkhorn epsilon ablation (eps)\n"));

  const std::string csv = render(table, Format::kCsv);
  CHECK(csv ==
        "epsilon,n,kNN k=20,kNN k=200,Linear,NMI,s/epoch,Proto usage\n"
        "0.03,1,90.00*,85.00,-,-,20.0,50.0\n"
        "0.05,2,81.00 +- 1.41,-,72.00 +- 2.83,0.550 +- 0.071,11.0 +- 1.4*,95.0 +- 7.1*\n");
  const std::string tex = render(table, Format::kLatex);
  CHECK_THAT(tex, Catch::Contains("\\textbf{90.00}") &&
                      Catch::Contains("0.05 & 2 & 81.00 $\\pm$ 1.41 & -- &") &&
                      Catch::Contains("\\begin{tabular}{lrrrrrrr}"));
  // Byte-stable: the same store renders the same text.
  CHECK(render(build_table("eps", load_runs(store, "eps")), Format::kMarkdown) == md);

  CHECK_THROWS_WITH(load_runs(store, "nope"), Catch::Contains("'nope' has no finished runs") &&
                                                  Catch::Contains("eps, other"));
}

TEST_CASE("a run the collapse watch flagged is marked in every format", "[report]") {
  test::TempDir dir;
  Store store(dir.str("s.db"));
  add_run(store, "eps", with(0.05, 1), {{"knn", "top1_k20", 0.80}}, {3.0, 2.0}, 10.0, 0.9);
  const int64_t stuck =
      add_run(store, "eps", with(0.5, 1), {{"knn", "top1_k20", 0.30}}, {4.6, 4.6, 4.6}, 10.0, 0.3);
  store.log_metrics(stuck, 1, 0, {{"collapse", 1.0}});
  store.log_metrics(stuck, 2, 0, {{"collapse", 3.0}});

  const Table table = build_table("eps", load_runs(store, "eps"));
  REQUIRE(table.rows.size() == 2);
  CHECK(table.rows[0].collapses.empty());
  REQUIRE(table.rows[1].collapses.size() == 1);
  const std::string note = fmt::format(
      "run {}: loss at ln K and prototype usage below 50%, from epoch 2", stuck);
  CHECK(table.rows[1].collapses[0] == note);

  const std::string md = render(table, Format::kMarkdown);
  CHECK_THAT(md, Catch::Contains("| 0.5 † | 1 |") && Catch::Contains("| 0.05 | 1 |") &&
                     Catch::Contains("\n† the collapse watch flagged") &&
                     Catch::Contains(note + ".\n"));
  CHECK_THAT(render(table, Format::kLatex), Catch::Contains("0.5$^\\dagger$ & 1") &&
                                                Catch::Contains("% $\\dagger$: the collapse"));
  const std::string csv = render(table, Format::kCsv);
  CHECK_THAT(csv, Catch::StartsWith("epsilon,n,kNN k=20,s/epoch,Proto usage,collapse\n") &&
                      Catch::Contains(",\"" + note + "\"\n"));
}

TEST_CASE("layouts follow the keys that vary", "[report]") {
  auto layout_of = [](std::vector<ExperimentOptions> settings,
                      std::vector<std::string> methods = {}) {
    std::vector<RunData> runs;
    for (size_t i = 0; i < settings.size(); ++i) {
      RunData r;
      r.run.id = static_cast<int64_t>(i + 1);
      std::string text = to_toml(settings[i]);
      if (!methods.empty())
        text.replace(text.find("method = \"swav\""), 15, "method = \"" + methods[i] + "\"");
      r.config = flatten_config(text, "test");
      runs.push_back(r);
    }
    const Table t = build_table("x", runs);
    return std::make_pair(t.layout, t.row_titles);
  };
  auto base = test::tiny_experiment();
  auto a = base, b = base;
  CHECK(layout_of({a, a}).first == "single");
  CHECK(layout_of({a, a}).second == std::vector<std::string>{"Experiment"});
  b.model.prototypes = {30};
  CHECK(layout_of({a, b}).first == "prototypes");
  b = base;
  b.augment.crops = {{16, 2, 0.5, 1.0}};
  auto m = layout_of({a, b, a, b}, {"swav", "swav", "simclr", "simclr"});
  CHECK(m.first == "multicrop");
  CHECK(m.second == std::vector<std::string>{"Method", "Crops"});
  CHECK(layout_of({a, a}, {"swav", "simclr"}).first == "method");
  b = base;
  b.swav.queue_length = 64;
  CHECK(layout_of({a, b}).first == "batch_queue");
  b = base;
  b.train.seed = 99;
  b.train.threads = 3;  // neither seeds nor hash-excluded keys make rows
  CHECK(layout_of({a, b}).first == "single");

  // Crops are shown compactly, scales included.
  auto flat = flatten_config(to_toml(base), "t");
  CHECK(flat["augment.crops"] == "2x16[0.5,1] + 2x8[0.2,0.5]");
  CHECK(flat["model.prototypes"] == "12");
  CHECK(flat["method"] == "swav");
  CHECK_THROWS_WITH(flatten_config("a = [", "run 3"), Catch::Contains("run 3"));
}

TEST_CASE("a method comparison lists each method's own settings apart from its rows", "[report]") {
  // Methods with their own heads and learning rates (as in experiments/baselines.toml): a method
  // comparison, one row per method; a key that varies within a method stays an axis.
  auto base = test::tiny_experiment();
  std::vector<RunData> runs;
  auto add = [&](ExperimentOptions o, const std::string& method) {
    RunData r;
    r.run.id = static_cast<int64_t>(runs.size() + 1);
    std::string text = to_toml(o);
    text.replace(text.find("method = \"swav\""), 15, "method = \"" + method + "\"");
    r.config = flatten_config(text, "test");
    r.evals["knn/top1_k20"] = 0.5 + 0.1 * static_cast<double>(runs.size());
    runs.push_back(r);
  };
  auto simclr = base;
  simclr.model.prototypes = {30};
  simclr.optim.base_lr = 0.3;
  add(base, "swav");
  add(simclr, "simclr");
  add(simclr, "simclr");  // a second seed
  Table t = build_table("cmp", runs);
  CHECK(t.layout == "method");
  CHECK(t.row_keys == std::vector<std::string>{"method"});
  CHECK(t.setting_titles == std::vector<std::string>{"Prototypes", "optim.base_lr"});
  REQUIRE(t.rows.size() == 2);
  CHECK(t.rows[0].labels[0] == "simclr");
  CHECK(t.rows[0].settings == std::vector<std::string>{"30", "0.3"});
  CHECK(t.rows[0].run_ids.size() == 2);
  const std::string md = render(t, Format::kMarkdown);
  CHECK_THAT(md, Catch::Contains("| Method | Prototypes | optim.base_lr |"));
  CHECK_THAT(md, Catch::Contains("| swav | 12 | ") && Catch::Contains("| simclr | 30 | 0.3 |"));
  CHECK_THAT(render(t, Format::kCsv), Catch::StartsWith("Method,Prototypes,optim.base_lr,n,"));
  CHECK_THAT(render(t, Format::kLatex),
             Catch::Contains("% settings of simclr: Prototypes = 30, optim.base_lr = 0.3"));

  // Prototypes varying within a method: still an ablation axis, not a setting.
  auto more = simclr;
  more.model.prototypes = {60};
  add(more, "simclr");
  t = build_table("cmp", runs);
  CHECK(t.layout == "prototypes");
  CHECK(t.row_keys == std::vector<std::string>{"method", "model.prototypes"});
  CHECK(t.setting_keys == std::vector<std::string>{"optim.base_lr"});
}

TEST_CASE("plots: loss per run and accuracy against a numeric swept key, deterministic",
          "[report]") {
  test::TempDir dir;
  Store store(dir.str("s.db"));
  for (double eps : {0.03, 0.05, 0.1})
    add_run(store, "eps", with(eps, 1), {{"knn", "top1_k20", 0.8 + eps}}, {3.0, 2.0, 1.0}, 1.0,
            1.0);
  const auto runs = load_runs(store, "eps");
  const auto table = build_table("eps", runs);
  const auto files = plots(table, runs);
  REQUIRE(files.size() == 2);
  CHECK(files[0].first == "eps_loss.svg");
  CHECK(files[1].first == "eps_swav_epsilon.svg");
  CHECK_THAT(files[0].second, Catch::StartsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"") &&
                                  Catch::EndsWith("</svg>\n") &&
                                  Catch::Contains("epsilon=0.03, seed 1"));
  // Three loss lines, one accuracy line of three points.
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (auto p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
    return n;
  };
  CHECK(count(files[0].second, "<polyline") == 3);
  CHECK(count(files[1].second, "<polyline") == 1);
  CHECK(count(files[1].second, "<circle") == 3);
  CHECK(plots(table, runs) == files);
  CHECK(xml_escape("a<b & \"c\">") == "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST_CASE("the committed tables are what make_tables makes of the committed stores", "[report]") {
  // Every store in results/ and the tables it makes, each format; a table or plot that differs or
  // is missing fails. Work on copies: opening a store may create WAL side files next to it.
  test::TempDir dir;
  const std::filesystem::path results = std::string(SWAV_SOURCE_DIR) + "/results";
  const std::filesystem::path tables = results / "tables";
  std::vector<std::filesystem::path> stores;
  for (const auto& entry : std::filesystem::directory_iterator(results))
    if (entry.path().extension() == ".db") stores.push_back(entry.path());
  std::sort(stores.begin(), stores.end());
  REQUIRE(stores.size() >= 3);  // fashion_mnist, ablation_multicrop_cpu, baselines
  for (const auto& source : stores) {
    const std::string db = dir.str(source.filename().string());
    std::filesystem::copy_file(source, db);
    Store store(db);
    size_t compared = 0;
    for (Format format : {Format::kMarkdown, Format::kLatex, Format::kCsv}) {
      for (const auto& [name, text] : generate(store, {}, format, format == Format::kMarkdown)) {
        INFO("results/tables/" << name << " (from " << source.filename().string()
                               << ") differs; regenerate it (results/README.md)");
        REQUIRE(std::filesystem::exists(tables / name));
        CHECK(read((tables / name).string()) == text);
        ++compared;
      }
    }
    INFO(source.filename().string());
    CHECK(compared >= 4);  // a table in each format and at least one plot
  }
}
