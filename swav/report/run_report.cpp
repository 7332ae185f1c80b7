#include "swav/report/run_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <map>
#include <vector>

#include "swav/config/config.h"
#include "swav/report/tables.h"
#include "swav/util/progress.h"

namespace swav {

std::string format_run_results(const Store& store, int64_t run_id) {
  auto run = store.run(run_id);
  if (!run) return fmt::format("run {} not found\n", run_id);
  std::map<std::string, double> evals;
  for (const auto& e : store.evals(run_id)) evals[e.protocol + "/" + e.metric] = e.value;
  auto losses = store.metrics(run_id, "loss");
  auto usage = store.metrics(run_id, "prototype_usage");
  double train_seconds = 0;
  for (const auto& m : store.metrics(run_id, "seconds")) train_seconds += m.value;

  ExperimentOptions options;
  int64_t prototypes = 0;
  std::string config_line;
  try {
    // The resolved config of the run tells K (for ln K) and the setting.
    options = parse_experiment(run->config_toml, "store run " + std::to_string(run_id));
    prototypes = options.model.prototypes.empty() ? 0 : options.model.prototypes[0];
    const std::string batch =
        run->world_size > 1
            ? fmt::format("{} x {} processes = {}", options.train.batch_size, run->world_size,
                          options.train.batch_size * run->world_size)
            : std::to_string(options.train.batch_size);
    config_line =
        fmt::format("{} on {}, {} {}, {} epochs x batch {}, crops {}", options.method,
                    options.data.format, options.model.arch,
                    fmt::join(options.model.prototypes, "+"), options.train.epochs, batch, [&] {
                      std::vector<std::string> g;
                      for (auto& c : options.augment.crops)
                        g.push_back(fmt::format("{}x{}", c.count, c.size));
                      return fmt::format("{}", fmt::join(g, "+"));
                    }());
    if (run->external()) {
      config_line = fmt::format("external weights {} (sha256 {}) in a {} backbone, evaluated on {}",
                                run->weights, run->weights_sha256, options.model.arch,
                                options.data.format);
    }
  } catch (const std::exception&) {
  }

  std::string out =
      fmt::format("\nrun {} '{}' ({}), status {}, config {}\n{}\n\n", run->id, run->experiment,
                  run->trial, run->status, run->config_hash, config_line);
  out += "| quantity | value |\n|---|---|\n";
  if (!losses.empty()) {
    // ln K is the loss of a network that has learned nothing only for the clustering methods.
    const bool contrastive = options.method == "simclr" || options.method == "pcl";
    out += fmt::format(
        "| {} loss, first -> last epoch | {:.4f} -> {:.4f}{} |\n",
        options.method == "swav" ? "SwAV" : options.method, losses.front().value,
        losses.back().value,
        contrastive
            ? ""
            : fmt::format(" (ln K = {:.4f})",
                          prototypes > 0 ? std::log(static_cast<double>(prototypes)) : 0.0));
  }
  if (!usage.empty())
    out += fmt::format("| prototype usage, last epoch | {:.1f}% |\n", 100 * usage.back().value);
  // Shown only when the collapse watch flagged an epoch (the warning and remedies are in the log).
  const auto collapse = store.metrics(run_id, "collapse");
  if (!collapse.empty()) {
    int flags = 0;
    for (const auto& m : collapse) flags |= static_cast<int>(m.value);
    std::vector<std::string> kinds;
    if (flags & 1) kinds.push_back("loss at ln K");
    if (flags & 2) kinds.push_back("prototype usage below 50%");
    const auto entropy = store.metrics(run_id, "code_entropy");
    out += fmt::format(
        "| collapse watch | {} in {} epoch(s) from epoch {}{}; remedies in the log |\n",
        fmt::join(kinds, " and "), collapse.size(), collapse.front().epoch + 1,
        entropy.empty() ? ""
                        : fmt::format(", codes' entropy {:.2f} of ln K", entropy.back().value));
  }
  for (const auto& [key, value] : evals) {
    if (key.rfind("knn/", 0) != 0) continue;
    const std::string metric = key.substr(4);
    auto init = evals.find("knn_init/" + metric);
    if (init != evals.end()) {
      out += fmt::format("| kNN {} (network before training) | {:.2f}% ({:.2f}%, {:+.2f} points) |\n",
                         metric, 100 * value, 100 * init->second, 100 * (value - init->second));
    } else {
      out += fmt::format("| kNN {} | {:.2f}% |\n", metric, 100 * value);
    }
  }
  if (evals.count("linear/top1_best")) {
    out += fmt::format("| linear probe top-1, best / last epoch | {:.2f}% / {:.2f}% |\n",
                       100 * evals["linear/top1_best"], 100 * evals["linear/top1_last"]);
  }
  if (evals.count("swav_linear/top1_best")) {
    out += fmt::format("| SwAV linear protocol top-1, best / last epoch | {:.2f}% / {:.2f}% |\n",
                       100 * evals["swav_linear/top1_best"], 100 * evals["swav_linear/top1_last"]);
  }
  // Semi-supervised and transfer rows under the tables' column names.
  for (const auto& [key, value] : evals) {
    const auto slash = key.find('/');
    const std::string protocol = key.substr(0, slash);
    if (protocol != "semi_supervised" && protocol.rfind("transfer:", 0) != 0) continue;
    report::Column column;
    if (report::eval_column(protocol, key.substr(slash + 1), column))
      out += fmt::format("| {} | {:.2f}% |\n", column.title, 100 * value);
  }
  if (evals.count("clusters/nmi")) {
    out += fmt::format(
        "| clusters on the test set: NMI / ARI / prototypes used | {:.3f} / {:.3f} / "
        "{:.1f}% |\n",
        evals["clusters/nmi"], evals["clusters/ari"], 100 * evals["clusters/used_share"]);
  }
  if (!losses.empty()) {
    out += fmt::format("| training time ({} epochs) | {} ({}/epoch) |\n", losses.size(),
                       format_duration(train_seconds),
                       format_duration(train_seconds / static_cast<double>(losses.size())));
  }
  auto eval_seconds = store.metrics(run_id, "eval_seconds");
  if (!eval_seconds.empty())
    out += fmt::format("| evaluation time | {} |\n", format_duration(eval_seconds.back().value));
  if (!run->error.empty()) out += fmt::format("\nerror: {}\n", run->error);
  return out;
}

}  // namespace swav
