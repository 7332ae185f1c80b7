#include "swav/run/runner.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "swav/config/config.h"
#include "swav/data/image_set.h"
#include "swav/run/evaluation.h"
#include "swav/run/export.h"
#include "swav/run/registry.h"
#include "swav/store/heartbeat.h"
#include "swav/util/error.h"
#include "swav/util/output_log.h"
#include "swav/util/progress.h"
#include "swav/util/sha256.h"
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

/// What rank 0 tells the other ranks about each selected trial.
enum class Decision : int64_t { kSkip = 0, kTrain = 1 };

void send_decision(Collective& collective, Decision decision) {
  auto value = torch::tensor({static_cast<int64_t>(decision)}, torch::kInt64);
  collective.broadcast(value);
}

Decision receive_decision(Collective& collective) {
  auto value = torch::zeros({1}, torch::kInt64);
  collective.broadcast(value);
  return static_cast<Decision>(value.item<int64_t>());
}

/// The trial's device, with the process's CPU threads set as the trial asks.
torch::Device trial_device(const ExperimentOptions& options) {
  if (options.train.threads > 0) at::set_num_threads(static_cast<int>(options.train.threads));
  return parse_device(options.train.device);
}

/// The trial's method as every rank builds it: weights seeded by train.seed, on `device`.
std::unique_ptr<Method> build_method(const ExperimentOptions& options, const ImageSet& train,
                                     torch::Device device, const Collective& collective) {
  torch::manual_seed(static_cast<uint64_t>(options.train.seed));
  auto method = make_method(options, train.channels(), train.size(), collective.world_size());
  if (!options.model.init.empty()) {
    // The starting weights (a resumed run then loads its checkpoint over them).
    const auto report = apply_model_init(*method, options.model);
    if (collective.rank() == 0) fmt::print("{}\n", describe_model_init(report, options.model));
  }
  method->module().to(device);
  return method;
}

std::string checkpoint_of(const std::string& trial_dir) {
  return (fs::path(trial_dir) / "checkpoint.pt").string();
}

/// Trains on one process of several: the rank 0's Trainer's partner, no store, no evaluation.
void train_as_follower(const ExperimentOptions& options, const std::string& trial_dir,
                       Collective& collective) {
  const auto device = trial_device(options);
  const ImageSet train = load_split(options.data, Split::kTrain);
  auto method = build_method(options, train, device, collective);
  Trainer trainer(options, *method, train, checkpoint_of(trial_dir), collective);
  trainer.set_progress(false);
  trainer.fit();
}

// Trains and evaluates; the caller handles errors.
void train_and_evaluate(const ExperimentOptions& options, Store& store, int64_t run_id,
                        const std::string& trial_dir, bool progress, const std::string& label,
                        Collective& collective) {
  const auto device = trial_device(options);

  Stopwatch clock;
  const ImageSet train = load_split(options.data, Split::kTrain);
  const ImageSet test = load_split(options.data, Split::kTest);
  if (progress) {
    fmt::print("data: {}\n      {}\n      loaded in {}\n", train.description, test.description,
               format_duration(clock.seconds()));
  }

  auto method = build_method(options, train, device, collective);

  // The same network before training: the baseline every learned feature must beat. Evaluated once
  // per run (the init is deterministic in the seed, so a resumed run would measure the same).
  bool have_init = false;
  for (const auto& e : store.evals(run_id)) have_init |= e.protocol == "knn_init";
  if (options.eval.untrained_baseline && !have_init) {
    std::vector<EvalRow> rows;
    for (const auto& r :
         evaluate_encoder(*method->encoder(), train, test, options, device, false, "_init")) {
      rows.push_back({run_id, r.protocol, r.dataset, r.metric, r.value});
    }
    store.log_evals(run_id, rows, {"knn_init"});  // all rows or none, even under a kill
  }

  Trainer trainer(options, *method, train, checkpoint_of(trial_dir), collective);
  trainer.set_progress(progress, label);
  trainer.on_epoch([&](int64_t epoch, const Scalars& metrics) {
    store.drop_metrics_after(run_id, epoch - 1);  // rows left by an interrupted attempt
    store.log_metrics(run_id, epoch, 0, metrics);
  });
  Stopwatch train_clock;
  trainer.fit();
  store.set_metric(run_id, options.train.epochs, 0, "train_seconds_this_attempt",
                   train_clock.seconds());

  Stopwatch eval_clock;
  if (progress) fmt::print("evaluating on {} ...\n", dataset_label(options.data));
  const auto results =
      evaluate_method(*method, train, test, options, device, [&](const std::string& line) {
        if (progress) fmt::print("  {}\n", line);
      });
  std::vector<EvalRow> rows;
  std::set<std::string> protocols = {"knn", "linear"};  // and whatever else earlier attempts left
  for (const auto& r : results) {
    rows.push_back({run_id, r.protocol, r.dataset, r.metric, r.value});
    protocols.insert(r.protocol);
  }
  store.log_evals(run_id, rows, {protocols.begin(), protocols.end()});
  store.set_metric(run_id, options.train.epochs, 0, "eval_seconds", eval_clock.seconds());
}

/// --eval-only: the experiment's [eval] protocols on the weights of options.model.init, no
/// training. The backbone must load (unless model.init_strict = false); the clusters protocol runs
/// when the file also holds the projection head and prototypes, and is left out (saying so)
/// otherwise.
void evaluate_weights(const ExperimentOptions& options, Store& store, int64_t run_id,
                      bool progress) {
  const auto device = trial_device(options);
  Stopwatch clock;
  const ImageSet train = load_split(options.data, Split::kTrain);
  const ImageSet test = load_split(options.data, Split::kTest);
  if (progress) {
    fmt::print("data: {}\n      {}\n      loaded in {}\n", train.description, test.description,
               format_duration(clock.seconds()));
  }
  torch::manual_seed(static_cast<uint64_t>(options.train.seed));
  auto method = make_method(options, train.channels(), train.size());
  const auto state = load_state_dict(options.model.init);
  const auto report = load_backbone_weights(*method->encoder(), options.model, state,
                                            options.model.init_strict,
                                            "--weights " + options.model.init);
  method->on_encoder_loaded();
  fmt::print("{}\n", describe_model_init(report, options.model));
  ExperimentOptions eval_options = options;
  if (options.eval.clusters && method->num_clusters() > 0) {
    const RestReport rest = load_network_rest(*method, state);
    if (rest.loaded) {
      fmt::print("projection head and prototypes: {} tensors from the file\n", rest.tensors);
    } else {
      eval_options.eval.clusters = false;
      const auto& gaps = rest.missing.empty() ? rest.mismatched : rest.missing;
      fmt::print("clusters: not evaluated, the file holds no projection head and prototypes of "
                 "this network ({}: {}{})\n",
                 rest.missing.empty() ? "other shapes" : "missing", gaps.front(),
                 gaps.size() > 1 ? fmt::format(" and {} more", gaps.size() - 1) : "");
    }
  }
  method->module().to(device);
  method->module().eval();

  Stopwatch eval_clock;
  if (progress) fmt::print("evaluating on {} ...\n", dataset_label(options.data));
  const auto results =
      evaluate_method(*method, train, test, eval_options, device, [&](const std::string& line) {
        if (progress) fmt::print("  {}\n", line);
      });
  std::vector<EvalRow> rows;
  std::set<std::string> protocols = {"knn", "linear"};
  for (const auto& r : results) {
    rows.push_back({run_id, r.protocol, r.dataset, r.metric, r.value});
    protocols.insert(r.protocol);
  }
  store.log_evals(run_id, rows, {protocols.begin(), protocols.end()});
  store.set_metric(run_id, 0, 0, "eval_seconds", eval_clock.seconds());
}

/// The hash of an --eval-only run: the trial's config without the file's path, and the file's
/// bytes (their SHA-256). 64-bit FNV-1a, as config_hash.
std::string eval_only_hash(ExperimentOptions options, const std::string& sha256) {
  options.model.init.clear();
  uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : config_hash(options) + " weights sha256 " + sha256) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

/// The trials of an --eval-only sweep: each selected trial with model.init = the file, renamed
/// and rehashed (see RunRequest::weights).
std::vector<Trial> eval_only_trials(const std::vector<const Trial*>& selected,
                                    const std::string& weights, const std::string& sha256) {
  const std::string file = fs::path(weights).filename().string();
  std::vector<Trial> out;
  for (const Trial* t : selected) {
    Trial e = *t;
    if (e.error.empty()) {
      e.options.model.init = fs::absolute(weights).lexically_normal().string();
      e.hash = eval_only_hash(e.options, sha256);
    }
    e.name = t->name == "main" ? "eval " + file : t->name + " eval " + file;
    e.folder = (t->name == "main" ? "" : t->folder + "-") + "eval-" + sha256.substr(0, 12);
    out.push_back(std::move(e));
  }
  return out;
}

constexpr const char* kHashLine = "# config_hash = ";

/// The config hash recorded in a trial folder's config.toml, "" when there is none.
std::string folder_hash(const std::string& trial_dir) {
  std::ifstream in(fs::path(trial_dir) / "config.toml");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(kHashLine, 0) == 0) return line.substr(std::strlen(kHashLine));
  }
  return "";
}

void remove_checkpoints(const std::string& trial_dir) {
  remove_checkpoint(checkpoint_of(trial_dir));
}

std::string run_root_of(const ExperimentOptions& options) {
  return options.run_dir.empty() ? (fs::path("runs") / options.name).string() : options.run_dir;
}

/// `before_training` runs once, right before the trial trains (not for a skipped, busy or broken
/// one): run_sweep tells the other ranks there.
/// With `weights_sha256` set (--eval-only), the trial evaluates options.model.init's weights
/// instead of training.
RunOutcome run_trial(const Trial& trial, const std::string& trial_dir, Store& store,
                     const RunRequest& request, const std::string& owner, Collective& collective,
                     const std::function<void()>& before_training,
                     const std::string& weights_sha256 = "") {
  const ExperimentOptions& options = trial.options;
  RunOutcome outcome;
  outcome.db_path = store.path();
  RunInfo info;
  info.git_revision = git_revision();
  info.versions = library_versions();
  info.trial = trial.name;
  info.experiment = options.name;
  info.config_hash = trial.hash;
  info.config_toml = to_toml(options);
  info.seed = options.train.seed;
  info.device = options.train.device;
  info.world_size = collective.world_size();
  const bool eval_only = !weights_sha256.empty();
  if (eval_only) {
    info.weights = options.model.init;
    info.weights_sha256 = weights_sha256;
  }

  // A checkpoint counts only if the folder holds this config (a folder is named by the trial, and
  // the rest of the file may have changed since).
  const bool same_config = folder_hash(trial_dir) == trial.hash;
  const bool has_checkpoint = same_config && fs::exists(checkpoint_of(trial_dir));
  const Claim claim =
      store.claim_run(info, owner, request.force, has_checkpoint, request.stale_seconds);
  outcome.run_id = claim.run_id;
  if (claim.kind == Claim::Kind::kDone) {
    outcome.ok = outcome.skipped = true;
    return outcome;
  }
  if (claim.kind == Claim::Kind::kBusy) {
    outcome.ok = outcome.busy = true;
    outcome.error = fmt::format("run {} is being run by {}", claim.run_id, claim.previous.owner);
    return outcome;
  }
  // From here the trial is ours until finish_run.
  Heartbeat heartbeat(store.path(), claim.run_id, owner);
  try {
    fs::create_directories(trial_dir);
    if (claim.kind == Claim::Kind::kNew || !same_config) {
      remove_checkpoints(trial_dir);  // an older config's, or a forced run's predecessor
    }
    outcome.resumed = claim.kind == Claim::Kind::kTakenOver && has_checkpoint;
    if (claim.kind == Claim::Kind::kTakenOver && !has_checkpoint) {
      // Killed before its first checkpoint: the same run starts again; drop what it logged.
      store.drop_metrics_after(claim.run_id, -1);
    }
    std::ofstream(fs::path(trial_dir) / "config.toml")
        << "# experiment: " << options.name << "\n# trial: " << trial.name << "\n"
        << kHashLine << trial.hash << "\n"
        << info.config_toml;
    OutputLog log((fs::path(trial_dir) / "log.txt").string());
    {
      const char* how = outcome.resumed ? ", resuming from its checkpoint"
                        : claim.kind == Claim::Kind::kTakenOver
                            ? ", starting again (it was stopped before its first checkpoint)"
                            : "";
      const std::string header =
          eval_only ? fmt::format("run {} of '{}' trial '{}' (config {}): evaluating {} (sha256 "
                                  "{}) on {}\n",
                                  outcome.run_id, options.name, trial.name, trial.hash,
                                  options.model.init, weights_sha256, options.train.device)
                    : fmt::format("run {} of '{}' trial '{}' (config {}, {} on {}){}\n",
                                  outcome.run_id, options.name, trial.name, trial.hash,
                                  options.method, options.train.device, how);
      // Every attempt is headed in the log; the terminal sees it only when progress is shown.
      if (request.progress) {
        fmt::print("{}", header);
        std::fflush(stdout);
      } else {
        log.note(header);
      }
    }
    try {
      const std::string label = trial.name == "main"
                                    ? fmt::format("[{}] ", options.name)
                                    : fmt::format("[{} {}] ", options.name, trial.name);
      if (eval_only) {
        evaluate_weights(options, store, outcome.run_id, request.progress);
      } else {
        before_training();
        train_and_evaluate(options, store, outcome.run_id, trial_dir, request.progress, label,
                           collective);
      }
      store.finish_run(outcome.run_id, true);
      outcome.ok = true;
    } catch (const UserError& e) {
      outcome.error = e.what();
    } catch (const c10::Error& e) {
      outcome.error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
    if (!outcome.ok) fmt::print(stderr, "trial '{}' failed: {}\n", trial.name, outcome.error);
  } catch (const std::exception& e) {  // the folder or its files
    outcome.error = e.what();
  }
  if (!outcome.ok) store.finish_run(outcome.run_id, false, outcome.error);
  return outcome;
}

/// The options of the first valid trial (name, db and run_dir do not vary between trials).
const ExperimentOptions& experiment_options(const ExperimentPlan& plan) {
  for (const auto& t : plan.trials) {
    if (t.error.empty()) return t.options;
  }
  return plan.trials.front().options;
}

std::string experiment_name(const ExperimentPlan& plan, const std::string& config_path) {
  for (const auto& t : plan.trials) {
    if (t.error.empty()) return t.options.name;
  }
  return fs::path(config_path).stem().string();
}

}  // namespace

bool SweepOutcome::ok() const {
  if (!error.empty()) return false;
  for (const auto& t : trials) {
    if (!t.outcome.ok) return false;
  }
  return true;
}

/// A rank other than 0: trains each trial rank 0 says it trains, with the same options and
/// folder; errors are reported per trial (rank 0 records them).
SweepOutcome follow_sweep(const RunRequest& request, const std::vector<const Trial*>& selected,
                          Collective& collective) {
  SweepOutcome sweep;
  for (const Trial* trial : selected) {
    if (receive_decision(collective) != Decision::kTrain) continue;
    TrialReport report;
    report.trial = *trial;
    report.trial_dir = (fs::path(run_root_of(trial->options)) / trial->folder).string();
    Stopwatch clock;
    try {
      train_as_follower(trial->options, report.trial_dir, collective);
      report.outcome.ok = true;
    } catch (const UserError& e) {
      report.outcome.error = e.what();
    } catch (const c10::Error& e) {
      report.outcome.error = e.what_without_backtrace();
    } catch (const std::exception& e) {
      report.outcome.error = e.what();
    }
    if (!report.outcome.ok) {
      fmt::print(stderr, "rank {}: trial '{}' failed: {}\n", collective.rank(), trial->name,
                 report.outcome.error);
    }
    report.seconds = clock.seconds();
    sweep.trials.push_back(std::move(report));
  }
  return sweep;
}

SweepOutcome run_sweep(const RunRequest& request) {
  SweepOutcome sweep;
  Collective& collective = request.collective ? *request.collective : single_process();
  ExperimentPlan plan;
  try {
    plan = load_plan(request.config_path, request.overrides);
  } catch (const UserError& e) {
    sweep.error = e.what();
  }
  std::vector<const Trial*> selected;
  for (const auto& t : plan.trials) {
    if (request.only.empty() || trial_matches(t.name, request.only)) selected.push_back(&t);
  }
  if (collective.rank() != 0) {
    // Every rank reads the same file: an error here is rank 0's too, and it records it.
    if (!sweep.error.empty()) return sweep;
    return follow_sweep(request, selected, collective);
  }
  std::string db = request.db;
  if (db.empty()) {
    db = sweep.error.empty() ? experiment_options(plan).db
                             : peek_db(request.config_path, request.overrides);
  }
  sweep.db_path = db.empty() ? default_db_path() : db;
  Store store(sweep.db_path);

  if (!sweep.error.empty()) {
    // Recorded too, so a sweep's store shows every attempt; the config is the raw file text.
    RunInfo info;
    info.git_revision = git_revision();
    info.versions = library_versions();
    info.trial = "main";
    info.experiment = fs::path(request.config_path).stem().string();
    info.config_toml = read_text(request.config_path);
    sweep.error_run_id = store.begin_run(info);
    store.finish_run(sweep.error_run_id, false, sweep.error);
    return sweep;
  }

  if (selected.empty()) {
    sweep.error = fmt::format("--only '{}' matches none of the {} trials of {}", request.only,
                              plan.trials.size(), request.config_path);
    return sweep;
  }

  // --eval-only: the selected trials become evaluations of the file.
  std::string weights_sha256;
  std::vector<Trial> eval_trials;
  if (!request.weights.empty()) {
    if (collective.world_size() > 1) {
      sweep.error = fmt::format("--eval-only runs on one process, not {} (evaluation is rank 0's "
                                "alone); start it without --nproc, torchrun or srun",
                                collective.world_size());
      return sweep;
    }
    try {
      if (!fs::is_regular_file(request.weights))
        fail("--weights {}: no such file", request.weights);
      weights_sha256 = file_sha256(request.weights);
    } catch (const UserError& e) {
      sweep.error = e.what();
      return sweep;
    }
    eval_trials = eval_only_trials(selected, request.weights, weights_sha256);
    selected.clear();
    for (const auto& t : eval_trials) selected.push_back(&t);
  }

  const std::string owner = new_owner_id();
  Stopwatch clock;
  double trained_seconds = 0;
  int64_t trained = 0;
  const auto n = selected.size();
  for (size_t i = 0; i < n; ++i) {
    const Trial& trial = *selected[i];
    TrialReport report;
    report.trial = trial;
    report.trial_dir = (fs::path(run_root_of(trial.options)) / trial.folder).string();
    if (request.progress && n > 1) {
      const double eta =
          trained > 0 ? trained_seconds / static_cast<double>(trained) * static_cast<double>(n - i)
                      : -1;
      fmt::print("\n=== sweep '{}': trial {}/{} '{}', elapsed {}, ETA {}\n", trial.options.name,
                 i + 1, n, trial.name, format_duration(clock.seconds()),
                 trained > 0 ? format_duration(eta) : "after the first trained trial");
      std::fflush(stdout);
    }
    Stopwatch trial_clock;
    // The other ranks learn once per trial whether it is trained (they train it with rank 0).
    bool decided = false;
    auto decide = [&](Decision d) {
      if (!decided && collective.world_size() > 1) send_decision(collective, d);
      decided = true;
    };
    if (!trial.error.empty()) {
      // Only this trial's values are wrong: record it as failed and go on with the others.
      RunInfo info;
      info.git_revision = git_revision();
      info.versions = library_versions();
      info.experiment = experiment_name(plan, request.config_path);
      info.trial = trial.name;
      info.config_toml = trial.config_text;
      report.outcome.db_path = store.path();
      report.outcome.error = trial.error;
      report.outcome.run_id = store.begin_run(info);
      store.finish_run(report.outcome.run_id, false, trial.error);
      report.trial_dir = "";
    } else {
      report.outcome = run_trial(trial, report.trial_dir, store, request, owner, collective,
                                 [&] { decide(Decision::kTrain); }, weights_sha256);
    }
    decide(Decision::kSkip);  // unless it was trained
    report.seconds = trial_clock.seconds();
    if (!report.outcome.skipped && !report.outcome.busy) {
      trained_seconds += report.seconds;
      ++trained;
    }
    if (request.progress) {
      const auto& o = report.outcome;
      if (o.skipped) {
        fmt::print("trial '{}': done before (run {}), skipped\n", trial.name, o.run_id);
      } else if (o.busy) {
        fmt::print("trial '{}': {}; left to it\n", trial.name, o.error);
      } else {
        fmt::print("trial '{}': {} in {}\n", trial.name, o.ok ? "done" : "FAILED",
                   format_duration(report.seconds));
      }
      std::fflush(stdout);
    }
    sweep.trials.push_back(std::move(report));
  }
  return sweep;
}

RunOutcome run_experiment(const RunRequest& request) {
  const SweepOutcome sweep = run_sweep(request);
  RunOutcome outcome;
  outcome.db_path = sweep.db_path;
  if (!sweep.error.empty() || sweep.trials.empty()) {
    outcome.run_id = sweep.error_run_id;
    outcome.error = sweep.error;
    return outcome;
  }
  for (const auto& t : sweep.trials) {
    if (!t.outcome.ok) return t.outcome;
  }
  return sweep.trials.back().outcome;
}

std::string format_plan(const ExperimentPlan& plan, const std::string& only) {
  std::string out;
  size_t shown = 0;
  for (const auto& t : plan.trials) {
    if (!only.empty() && !trial_matches(t.name, only)) continue;
    ++shown;
    if (!t.error.empty()) {
      out += fmt::format("### trial {}: {}\n# INVALID: {}\n\n", shown, t.name, t.error);
      continue;
    }
    out += fmt::format("### trial {}: {}\n# folder: {}\n# config_hash: {}\n{}\n", shown, t.name,
                       (fs::path(run_root_of(t.options)) / t.folder).string(), t.hash,
                       to_toml(t.options));
  }
  const std::string sweep = plan.mode.empty()
                                ? "no sweep"
                                : fmt::format("{} over {}", plan.mode, fmt::join(plan.axes, ", "));
  out += fmt::format("# {}: {} of {} trial(s) selected ({}); dry run, nothing was run\n",
                     plan.source, shown, plan.trials.size(), sweep);
  return out;
}

std::string format_sweep_summary(const SweepOutcome& outcome) {
  std::string out =
      "\n| trial | status | run | loss (last) | kNN top-1 | linear top-1 | time |\n"
      "|---|---|---|---|---|---|---|\n";
  if (outcome.trials.empty()) return out;
  Store store(outcome.db_path);
  for (const auto& t : outcome.trials) {
    const auto& o = t.outcome;
    std::string status = o.skipped ? "done (before)"
                         : o.busy  ? "running elsewhere"
                         : o.ok    ? (o.resumed ? "done (resumed)" : "done")
                                   : "FAILED";
    std::string loss = "-", knn = "-", linear = "-", time = "-";
    if (o.run_id > 0 && !o.busy) {
      const auto losses = store.metrics(o.run_id, "loss");
      if (!losses.empty()) loss = fmt::format("{:.4f}", losses.back().value);
      std::vector<std::string> knns;
      for (const auto& e : store.evals(o.run_id)) {
        if (e.protocol == "knn")
          knns.push_back(
              fmt::format("{:.2f}% ({})", 100 * e.value, e.metric.substr(e.metric.find('_') + 1)));
        if (e.protocol == "linear" && e.metric == "top1_best")
          linear = fmt::format("{:.2f}%", 100 * e.value);
      }
      if (!knns.empty()) knn = fmt::format("{}", fmt::join(knns, ", "));
      double seconds = 0;
      for (const auto& m : store.metrics(o.run_id, "seconds")) seconds += m.value;
      if (seconds > 0) time = format_duration(seconds);
    }
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} |\n", t.trial.name, status,
                       o.run_id > 0 ? std::to_string(o.run_id) : "-", loss, knn, linear, time);
  }
  for (const auto& t : outcome.trials) {
    if (!t.outcome.ok) out += fmt::format("\n{}: {}\n", t.trial.name, t.outcome.error);
  }
  return out;
}

}  // namespace swav
