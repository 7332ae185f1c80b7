#include "swav/train/runner.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "swav/config/config.h"
#include "swav/data/image_set.h"
#include "swav/util/error.h"
#include "swav/util/progress.h"
#include "swav/util/version.h"

namespace swav {
namespace fs = std::filesystem;

namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Trains and evaluates; the caller handles errors.
void train_and_evaluate(const ExperimentOptions& options, Store& store, int64_t run_id,
                        const std::string& trial_dir, bool progress) {
  const auto device = parse_device(options.train.device);
  if (options.train.threads > 0) at::set_num_threads(static_cast<int>(options.train.threads));

  Stopwatch clock;
  const ImageSet train = load_split(options.data, Split::kTrain);
  const ImageSet test = load_split(options.data, Split::kTest);
  if (progress) {
    fmt::print("data: {}\n      {}\n      loaded in {}\n", train.description, test.description,
               format_duration(clock.seconds()));
  }

  torch::manual_seed(static_cast<uint64_t>(options.train.seed));
  auto method = make_method(options, train.channels(), train.size());
  method->module().to(device);

  // The same network before training: the baseline every learned feature must beat. Evaluated once
  // per run (the init is deterministic in the seed, so a resumed run would measure the same).
  bool have_init = false;
  for (const auto& e : store.evals(run_id)) have_init |= e.protocol == "knn_init";
  if (options.eval.untrained_baseline && !have_init) {
    for (const auto& r :
         evaluate_encoder(*method->encoder(), train, test, options, device, false, "_init")) {
      store.log_eval(run_id, r.protocol, r.dataset, r.metric, r.value);
    }
  }

  Trainer trainer(options, *method, train, (fs::path(trial_dir) / "checkpoint.pt").string());
  trainer.set_progress(progress, fmt::format("[{}] ", options.name));
  trainer.on_epoch([&](int64_t epoch, const Scalars& metrics) {
    store.drop_metrics_after(run_id, epoch - 1);  // rows left by an interrupted attempt
    store.log_metrics(run_id, epoch, 0, metrics);
  });
  Stopwatch train_clock;
  trainer.fit();
  store.log_metric(run_id, options.train.epochs, 0, "train_seconds_this_attempt",
                   train_clock.seconds());

  Stopwatch eval_clock;
  if (progress) fmt::print("evaluating on {} ...\n", dataset_label(options.data));
  const auto results = evaluate_encoder(*method->encoder(), train, test, options, device, true);
  for (const auto& protocol : {"knn", "linear"})
    store.drop_evals(run_id, protocol);  // earlier attempts
  for (const auto& r : results) store.log_eval(run_id, r.protocol, r.dataset, r.metric, r.value);
  store.log_metric(run_id, options.train.epochs, 0, "eval_seconds", eval_clock.seconds());
}

}  // namespace

RunOutcome run_experiment(const RunRequest& request) {
  RunOutcome outcome;
  ExperimentOptions options;
  std::string config_error;
  try {
    options = load_experiment(request.config_path, request.overrides);
  } catch (const UserError& e) {
    config_error = e.what();
  }
  std::string db = request.db;
  if (db.empty())
    db = config_error.empty() ? options.db : peek_db(request.config_path, request.overrides);
  outcome.db_path = db.empty() ? default_db_path() : db;
  Store store(outcome.db_path);

  RunInfo info;
  info.git_revision = git_revision();
  info.versions = library_versions();
  info.trial = "main";
  if (!config_error.empty()) {
    // Recorded too, so a sweep's store shows every attempt; the config is the raw file text.
    info.experiment = fs::path(request.config_path).stem().string();
    info.config_toml = read_text(request.config_path);
    outcome.run_id = store.begin_run(info);
    store.finish_run(outcome.run_id, false, config_error);
    outcome.error = config_error;
    return outcome;
  }

  info.experiment = options.name;
  info.config_hash = config_hash(options);
  info.config_toml = to_toml(options);
  info.seed = options.train.seed;
  info.device = options.train.device;
  const std::string run_root =
      options.run_dir.empty() ? (fs::path("runs") / options.name).string() : options.run_dir;
  const std::string trial_dir = (fs::path(run_root) / info.config_hash).string();

  auto previous = store.latest_run(options.name, info.config_hash);
  if (previous && previous->status == "done" && !request.force) {
    outcome.run_id = previous->id;
    outcome.ok = outcome.skipped = true;
    return outcome;
  }
  const bool has_checkpoint = fs::exists(fs::path(trial_dir) / "checkpoint.pt");
  if (request.force) fs::remove_all(trial_dir);
  if (previous && previous->status != "done" && has_checkpoint && !request.force) {
    outcome.run_id = previous->id;
    outcome.resumed = true;
    store.reopen_run(outcome.run_id);
  } else {
    outcome.run_id = store.begin_run(info);
  }
  try {
    fs::create_directories(trial_dir);
    std::ofstream(fs::path(trial_dir) / "config.toml") << info.config_toml;
    if (request.progress) {
      fmt::print("run {} of '{}' (config {}, {} on {}){}\n", outcome.run_id, options.name,
                 info.config_hash, options.method, options.train.device,
                 outcome.resumed ? ", resuming from its checkpoint" : "");
    }
    train_and_evaluate(options, store, outcome.run_id, trial_dir, request.progress);
    store.finish_run(outcome.run_id, true);
    outcome.ok = true;
  } catch (const UserError& e) {
    outcome.error = e.what();
  } catch (const c10::Error& e) {
    outcome.error = e.what_without_backtrace();
  } catch (const std::exception& e) {
    outcome.error = e.what();
  }
  if (!outcome.ok) store.finish_run(outcome.run_id, false, outcome.error);
  return outcome;
}

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
    config_line = fmt::format("{} on {}, {} {}, {} epochs x batch {}, crops {}", options.method,
                              options.data.format, options.model.arch,
                              fmt::join(options.model.prototypes, "+"), options.train.epochs,
                              options.train.batch_size, [&] {
                                std::vector<std::string> g;
                                for (auto& c : options.augment.crops)
                                  g.push_back(fmt::format("{}x{}", c.count, c.size));
                                return fmt::format("{}", fmt::join(g, "+"));
                              }());
  } catch (const std::exception&) {
  }

  std::string out =
      fmt::format("\nrun {} '{}' ({}), status {}, config {}\n{}\n\n", run->id, run->experiment,
                  run->trial, run->status, run->config_hash, config_line);
  out += "| quantity | value |\n|---|---|\n";
  if (!losses.empty()) {
    // ln K is the loss of a network that has learned nothing only for the clustering methods.
    const bool contrastive = options.method == "simclr" || options.method == "pcl";
    out += fmt::format("| {} loss, first -> last epoch | {:.4f} -> {:.4f}{} |\n",
                       options.method == "swav" ? "SwAV" : options.method, losses.front().value,
                       losses.back().value,
                       contrastive ? "" : fmt::format(" (ln K = {:.4f})",
                                                      prototypes > 0 ? std::log(static_cast<double>(prototypes)) : 0.0));
  }
  if (!usage.empty())
    out += fmt::format("| prototype usage, last epoch | {:.1f}% |\n", 100 * usage.back().value);
  for (const auto& [key, value] : evals) {
    if (key.rfind("knn/", 0) != 0) continue;
    const std::string metric = key.substr(4);
    auto init = evals.find("knn_init/" + metric);
    if (init != evals.end()) {
      out += fmt::format("| kNN {} (untrained network) | {:.2f}% ({:.2f}%, {:+.2f} points) |\n",
                         metric, 100 * value, 100 * init->second, 100 * (value - init->second));
    } else {
      out += fmt::format("| kNN {} | {:.2f}% |\n", metric, 100 * value);
    }
  }
  if (evals.count("linear/top1_best")) {
    out += fmt::format("| linear probe top-1, best / last epoch | {:.2f}% / {:.2f}% |\n",
                       100 * evals["linear/top1_best"], 100 * evals["linear/top1_last"]);
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
