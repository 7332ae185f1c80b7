// Experiment files: TOML text -> toml::table -> overrides applied to the table -> ExperimentOptions
// -> validate. Composition (`defaults = [...]`) and sweeps will merge tables before the conversion,
// so everything after parsing works on a table and remembers where each value came from.
#include "swav/config/config.h"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "swav/config/detail.h"
#include "swav/util/error.h"

namespace swav {

using config_detail::KeyInfo;
using config_detail::KeyType;
using config_detail::ReadContext;
using config_detail::TableReader;

namespace {

// --- table -> options -------------------------------------------------------------------------
// One read per field, in the order of options.h; the readers note what they consumed.

void read_crop(TableReader& r, CropGroup& c) {
  r.read("size", c.size);
  r.read("count", c.count);
  r.read("min_scale", c.min_scale);
  r.read("max_scale", c.max_scale);
  r.finish();
}

void read_data(TableReader r, DataOptions& d) {
  r.read("format", d.format);
  r.read("root", d.root);
  r.read("train_split", d.train_split);
  r.read("test_split", d.test_split);
  r.read("image_size", d.image_size);
  r.read("train_limit", d.train_limit);
  r.read("test_limit", d.test_limit);
  r.read("cache_dir", d.cache_dir);
  r.read("synthetic_classes", d.synthetic_classes);
  r.read("synthetic_train_per_class", d.synthetic_train_per_class);
  r.read("synthetic_test_per_class", d.synthetic_test_per_class);
  r.read("synthetic_size", d.synthetic_size);
  r.read("synthetic_channels", d.synthetic_channels);
  r.finish();
}

void read_augment(TableReader r, AugmentOptions& a) {
  std::vector<TableReader> crops;
  if (r.table_array("crops", crops)) {
    a.crops.assign(crops.size(), CropGroup{});
    for (size_t i = 0; i < crops.size(); ++i) read_crop(crops[i], a.crops[i]);
  }
  r.read("min_ratio", a.min_ratio);
  r.read("max_ratio", a.max_ratio);
  r.read("flip_prob", a.flip_prob);
  r.read("jitter_prob", a.jitter_prob);
  r.read("brightness", a.brightness);
  r.read("contrast", a.contrast);
  r.read("saturation", a.saturation);
  r.read("hue", a.hue);
  r.read("grayscale_prob", a.grayscale_prob);
  r.read("blur_prob", a.blur_prob);
  r.read("blur_sigma_min", a.blur_sigma_min);
  r.read("blur_sigma_max", a.blur_sigma_max);
  r.read("mean", a.mean);
  r.read("std", a.std);
  r.read("workers", a.workers);
  r.read("prefetch", a.prefetch);
  r.finish();
}

void read_model(TableReader r, ModelOptions& m) {
  r.read("arch", m.arch);
  r.read("stem", m.stem);
  r.read("width", m.width);
  r.read("hidden_dim", m.hidden_dim);
  r.read("output_dim", m.output_dim);
  r.read("prototypes", m.prototypes);
  r.finish();
}

void read_swav(TableReader r, SwavOptions& s) {
  r.read("epsilon", s.epsilon);
  r.read("sinkhorn_iterations", s.sinkhorn_iterations);
  r.read("temperature", s.temperature);
  r.read("crops_for_assign", s.crops_for_assign);
  r.read("queue_length", s.queue_length);
  r.read("epoch_queue_starts", s.epoch_queue_starts);
  r.read("freeze_prototypes_niters", s.freeze_prototypes_niters);
  r.finish();
}

void read_simclr(TableReader r, SimclrOptions& s) {
  r.read("temperature", s.temperature);
  r.finish();
}

void read_deepcluster(TableReader r, DeepClusterOptions& d) {
  r.read("crops_for_assign", d.crops_for_assign);
  r.read("temperature", d.temperature);
  r.read("kmeans_iterations", d.kmeans_iterations);
  r.finish();
}

void read_sela(TableReader r, SelaOptions& s) {
  r.read("lambda", s.lambda);
  r.read("label_steps", s.label_steps);
  r.read("schedule", s.schedule);
  r.read("sinkhorn_tolerance", s.sinkhorn_tolerance);
  r.finish();
}

void read_sela_v2(TableReader r, SelaV2Options& s) {
  r.read("crops_for_assign", s.crops_for_assign);
  r.read("temperature", s.temperature);
  r.read("epsilon", s.epsilon);
  r.read("sinkhorn_iterations", s.sinkhorn_iterations);
  r.finish();
}

void read_pcl(TableReader r, PclOptions& p) {
  r.read("temperature", p.temperature);
  r.read("momentum", p.momentum);
  r.read("queue_length", p.queue_length);
  r.read("warmup_epochs", p.warmup_epochs);
  r.read("clusters", p.clusters);
  r.read("negative_prototypes", p.negative_prototypes);
  r.read("kmeans_iterations", p.kmeans_iterations);
  r.read("kmeans_restarts", p.kmeans_restarts);
  r.finish();
}

void read_optim(TableReader r, OptimOptions& o) {
  r.read("base_lr", o.base_lr);
  r.read("final_lr", o.final_lr);
  r.read("start_warmup", o.start_warmup);
  r.read("warmup_epochs", o.warmup_epochs);
  r.read("momentum", o.momentum);
  r.read("weight_decay", o.weight_decay);
  r.read("larc", o.larc);
  r.read("larc_trust", o.larc_trust);
  r.read("larc_clip", o.larc_clip);
  r.read("larc_eps", o.larc_eps);
  r.read("exclude_bias_bn", o.exclude_bias_bn);
  r.finish();
}

void read_train(TableReader r, TrainOptions& t) {
  r.read("epochs", t.epochs);
  r.read("batch_size", t.batch_size);
  r.read("device", t.device);
  r.read("seed", t.seed);
  r.read("threads", t.threads);
  r.read("checkpoint_every", t.checkpoint_every);
  r.read("log_every", t.log_every);
  r.finish();
}

void read_eval(TableReader r, EvalOptions& e) {
  r.read("knn_k", e.knn_k);
  r.read("knn_temperature", e.knn_temperature);
  r.read("linear", e.linear);
  r.read("linear_epochs", e.linear_epochs);
  r.read("linear_lr", e.linear_lr);
  r.read("linear_momentum", e.linear_momentum);
  r.read("linear_weight_decay", e.linear_weight_decay);
  r.read("linear_batch_size", e.linear_batch_size);
  r.read("untrained_baseline", e.untrained_baseline);
  r.read("batch_size", e.batch_size);
  r.finish();
}

ExperimentOptions read_options(const toml::table* root, const ReadContext& ctx) {
  ExperimentOptions o;
  TableReader top(ctx, root, "");
  top.read("name", o.name);
  top.read("method", o.method);
  top.read("db", o.db);
  top.read("run_dir", o.run_dir);
  read_data(top.section("data"), o.data);
  read_augment(top.section("augment"), o.augment);
  read_model(top.section("model"), o.model);
  read_swav(top.section("swav"), o.swav);
  read_simclr(top.section("simclr"), o.simclr);
  read_deepcluster(top.section("deepcluster"), o.deepcluster);
  read_sela(top.section("sela"), o.sela);
  read_sela_v2(top.section("sela_v2"), o.sela_v2);
  read_pcl(top.section("pcl"), o.pcl);
  read_optim(top.section("optim"), o.optim);
  read_train(top.section("train"), o.train);
  read_eval(top.section("eval"), o.eval);
  top.finish();
  return o;
}

/// Every key a file may hold, collected by running the conversion over nothing.
const std::vector<KeyInfo>& schema() {
  static const std::vector<KeyInfo> keys = [] {
    std::vector<KeyInfo> out;
    ReadContext ctx;
    ctx.schema_out = &out;
    read_options(nullptr, ctx);
    return out;
  }();
  return keys;
}

const KeyInfo* find_key(const std::string& path) {
  for (const auto& k : schema()) {
    if (k.path == path && k.type != KeyType::kTable) return &k;
  }
  return nullptr;
}

// --- text -> table, overrides ---------------------------------------------------------------

toml::table parse_toml(const std::string& text, const std::string& source) {
  try {
    return toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: TOML syntax error: {}", source, e.source().begin.line, e.source().begin.column,
         e.description());
  }
}

std::string trim(std::string_view s) {
  const char* space = " \t\r\n";
  auto begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return "";
  return std::string(s.substr(begin, s.find_last_not_of(space) - begin + 1));
}

/// Sets one key of `root` from "a.b.c=<TOML value>", creating sections as needed.
void apply_override(toml::table& root, const std::string& text, ReadContext& ctx) {
  const std::string origin = fmt::format("override `{}`", text);
  const auto eq = text.find('=');
  if (eq == std::string::npos) {
    fail("{}: expected key=value, e.g. swav.epsilon=0.03 or data.root=\"/data\"", origin);
  }
  const std::string key = trim(std::string_view(text).substr(0, eq));
  const std::string value_text = trim(std::string_view(text).substr(eq + 1));
  if (key.empty()) fail("{}: the key before '=' is empty", origin);
  const KeyInfo* info = find_key(key);
  for (const auto& k : schema()) {
    if (!info && k.path == key && k.type == KeyType::kTable) {
      fail("{}: '{}' is a section; override its keys one by one (e.g. {}.<key>=<value>)", origin,
           key, key);
    }
  }
  if (!info) {
    const std::string suggestion = config_detail::suggest_key(key, &schema());
    if (!suggestion.empty())
      fail("{}: unknown key '{}'; did you mean '{}'?", origin, key, suggestion);
    fail("{}: unknown key '{}' (valid keys: see swav::valid_keys())", origin, key);
  }
  if (value_text.empty())
    fail("{}: no value after '=' (write {}=\"\" for an empty string)", origin, key);

  toml::table parsed;
  const bool literal_string =
      info->type == KeyType::kString && value_text.front() != '"' && value_text.front() != '\'';
  if (literal_string) {
    // Convenience for paths and names: an unquoted value of a string key is taken as written.
    parsed.insert("value", value_text);
  } else {
    try {
      const std::string document = "value = " + value_text;
      parsed = toml::parse(std::string_view(document), std::string_view(origin));
    } catch (const toml::parse_error& e) {
      fail("{}: not a TOML value for {} (expected {}): {}", origin, key,
           config_detail::expected_text(info->type), e.description());
    }
    if (parsed.size() != 1) fail("{}: the value must be a single TOML value", origin);
  }

  // Walk to the key's table, creating missing sections.
  toml::table* table = &root;
  std::string walked;
  size_t start = 0;
  for (size_t dot; (dot = key.find('.', start)) != std::string::npos; start = dot + 1) {
    const std::string part = key.substr(start, dot - start);
    walked += (walked.empty() ? "" : ".") + part;
    toml::node* node = table->get(part);
    if (!node) node = &table->insert(part, toml::table{}).first->second;
    if (!node->is_table()) {
      fail("{}: cannot set {}: '{}' in {} is not a table (it is {})", origin, key, walked,
           ctx.source, config_detail::node_type_name(*node));
    }
    table = node->as_table();
  }
  const std::string leaf = key.substr(start);
  parsed.get("value")->visit(
      [&](auto&& value) { table->insert_or_assign(leaf, std::move(value)); });
  ctx.override_origin[key] = origin;
}

// --- options -> canonical TOML ---------------------------------------------------------------

/// Writes keys in a fixed order; with `skip` set, keys in it are left out (the hashed form).
class Writer {
 public:
  explicit Writer(const std::set<std::string>* skip) : skip_(skip) {}

  /// The header is written with the section's first key that is not skipped, so a section
  /// skipped whole leaves no trace in the hashed form.
  void section(const std::string& name) {
    section_ = name;
    header_pending_ = true;
  }
  void key(const std::string& name, const std::string& value) {
    raw(name, config_detail::toml_string(value));
  }
  void key(const std::string& name, int64_t value) { raw(name, std::to_string(value)); }
  void key(const std::string& name, double value) { raw(name, config_detail::toml_float(value)); }
  void key(const std::string& name, bool value) { raw(name, value ? "true" : "false"); }
  void key(const std::string& name, const std::vector<int64_t>& v) {
    raw(name, config_detail::toml_array(v));
  }
  void key(const std::string& name, const std::vector<double>& v) {
    raw(name, config_detail::toml_array(v));
  }
  void key(const std::string& name, const std::vector<CropGroup>& crops) {
    std::string text = "[\n";
    for (const auto& c : crops) text += "  " + config_detail::toml_crop(c) + ",\n";
    raw(name, text + "]");
  }
  std::string str() const { return out_; }

 private:
  void raw(const std::string& name, const std::string& value) {
    if (skip_ && skip_->count(section_.empty() ? name : section_ + "." + name)) return;
    if (header_pending_) out_ += fmt::format("\n[{}]\n", section_);
    header_pending_ = false;
    out_ += fmt::format("{} = {}\n", name, value);
  }
  const std::set<std::string>* skip_;
  std::string section_;
  bool header_pending_ = false;
  std::string out_;
};

// Fields that only say where things go or how fast they run: never results.
const std::vector<std::string> kNotHashed = {"name",
                                             "db",
                                             "run_dir",
                                             "data.cache_dir",
                                             "augment.workers",
                                             "augment.prefetch",
                                             "train.threads",
                                             "train.log_every",
                                             "train.checkpoint_every"};

std::string write_toml(const ExperimentOptions& o, const std::set<std::string>* skip) {
  Writer w(skip);
  w.key("name", o.name);
  w.key("method", o.method);
  w.key("db", o.db);
  w.key("run_dir", o.run_dir);

  const auto& d = o.data;
  w.section("data");
  w.key("format", d.format);
  w.key("root", d.root);
  w.key("train_split", d.train_split);
  w.key("test_split", d.test_split);
  w.key("image_size", d.image_size);
  w.key("train_limit", d.train_limit);
  w.key("test_limit", d.test_limit);
  w.key("cache_dir", d.cache_dir);
  w.key("synthetic_classes", d.synthetic_classes);
  w.key("synthetic_train_per_class", d.synthetic_train_per_class);
  w.key("synthetic_test_per_class", d.synthetic_test_per_class);
  w.key("synthetic_size", d.synthetic_size);
  w.key("synthetic_channels", d.synthetic_channels);

  const auto& a = o.augment;
  w.section("augment");
  w.key("crops", a.crops);
  w.key("min_ratio", a.min_ratio);
  w.key("max_ratio", a.max_ratio);
  w.key("flip_prob", a.flip_prob);
  w.key("jitter_prob", a.jitter_prob);
  w.key("brightness", a.brightness);
  w.key("contrast", a.contrast);
  w.key("saturation", a.saturation);
  w.key("hue", a.hue);
  w.key("grayscale_prob", a.grayscale_prob);
  w.key("blur_prob", a.blur_prob);
  w.key("blur_sigma_min", a.blur_sigma_min);
  w.key("blur_sigma_max", a.blur_sigma_max);
  w.key("mean", a.mean);
  w.key("std", a.std);
  w.key("workers", a.workers);
  w.key("prefetch", a.prefetch);

  const auto& m = o.model;
  w.section("model");
  w.key("arch", m.arch);
  w.key("stem", m.stem);
  w.key("width", m.width);
  w.key("hidden_dim", m.hidden_dim);
  w.key("output_dim", m.output_dim);
  w.key("prototypes", m.prototypes);

  const auto& s = o.swav;
  w.section("swav");
  w.key("epsilon", s.epsilon);
  w.key("sinkhorn_iterations", s.sinkhorn_iterations);
  w.key("temperature", s.temperature);
  w.key("crops_for_assign", s.crops_for_assign);
  w.key("queue_length", s.queue_length);
  w.key("epoch_queue_starts", s.epoch_queue_starts);
  w.key("freeze_prototypes_niters", s.freeze_prototypes_niters);

  w.section("simclr");
  w.key("temperature", o.simclr.temperature);

  const auto& dc = o.deepcluster;
  w.section("deepcluster");
  w.key("crops_for_assign", dc.crops_for_assign);
  w.key("temperature", dc.temperature);
  w.key("kmeans_iterations", dc.kmeans_iterations);

  const auto& s1 = o.sela;
  w.section("sela");
  w.key("lambda", s1.lambda);
  w.key("label_steps", s1.label_steps);
  w.key("schedule", s1.schedule);
  w.key("sinkhorn_tolerance", s1.sinkhorn_tolerance);

  const auto& se = o.sela_v2;
  w.section("sela_v2");
  w.key("crops_for_assign", se.crops_for_assign);
  w.key("temperature", se.temperature);
  w.key("epsilon", se.epsilon);
  w.key("sinkhorn_iterations", se.sinkhorn_iterations);

  const auto& pc = o.pcl;
  w.section("pcl");
  w.key("temperature", pc.temperature);
  w.key("momentum", pc.momentum);
  w.key("queue_length", pc.queue_length);
  w.key("warmup_epochs", pc.warmup_epochs);
  w.key("clusters", pc.clusters);
  w.key("negative_prototypes", pc.negative_prototypes);
  w.key("kmeans_iterations", pc.kmeans_iterations);
  w.key("kmeans_restarts", pc.kmeans_restarts);

  const auto& op = o.optim;
  w.section("optim");
  w.key("base_lr", op.base_lr);
  w.key("final_lr", op.final_lr);
  w.key("start_warmup", op.start_warmup);
  w.key("warmup_epochs", op.warmup_epochs);
  w.key("momentum", op.momentum);
  w.key("weight_decay", op.weight_decay);
  w.key("larc", op.larc);
  w.key("larc_trust", op.larc_trust);
  w.key("larc_clip", op.larc_clip);
  w.key("larc_eps", op.larc_eps);
  w.key("exclude_bias_bn", op.exclude_bias_bn);

  const auto& t = o.train;
  w.section("train");
  w.key("epochs", t.epochs);
  w.key("batch_size", t.batch_size);
  w.key("device", t.device);
  w.key("seed", t.seed);
  w.key("threads", t.threads);
  w.key("checkpoint_every", t.checkpoint_every);
  w.key("log_every", t.log_every);

  const auto& e = o.eval;
  w.section("eval");
  w.key("knn_k", e.knn_k);
  w.key("knn_temperature", e.knn_temperature);
  w.key("linear", e.linear);
  w.key("linear_epochs", e.linear_epochs);
  w.key("linear_lr", e.linear_lr);
  w.key("linear_momentum", e.linear_momentum);
  w.key("linear_weight_decay", e.linear_weight_decay);
  w.key("linear_batch_size", e.linear_batch_size);
  w.key("untrained_baseline", e.untrained_baseline);
  w.key("batch_size", e.batch_size);
  return w.str();
}

}  // namespace

ExperimentOptions parse_experiment(const std::string& toml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides) {
  toml::table root = parse_toml(toml_text, source_name);
  ReadContext ctx;
  ctx.source = source_name;
  ctx.schema = &schema();
  for (const auto& o : overrides) apply_override(root, o, ctx);
  ExperimentOptions options = read_options(&root, ctx);
  config_detail::validate_options(options, [&](const std::string& path) {
    const toml::node* node = toml::at_path(root, path).node();
    std::string location = config_detail::where(ctx, path, node);
    return node || location != ctx.source ? location : location + " (default value)";
  });
  return options;
}

ExperimentOptions load_experiment(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  // stat, not std::filesystem: libtorch.so exports a partial copy of std::filesystem that shadows
  // libstdc++'s.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    fail("cannot read experiment file '{}': {}", path, std::strerror(errno));
  if (!S_ISREG(info.st_mode)) fail("cannot read experiment file '{}': not a regular file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read experiment file '{}': {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse_experiment(text.str(), path, overrides);
}

std::string peek_db(const std::string& path, const std::vector<std::string>& overrides) {
  for (auto it = overrides.rbegin(); it != overrides.rend(); ++it) {
    if (it->rfind("db=", 0) == 0) {
      std::string value = it->substr(3);
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
        value = value.substr(1, value.size() - 2);
      return value;
    }
  }
  try {
    const toml::table table = toml::parse_file(path);
    if (auto db = table["db"].value<std::string>()) return *db;
  } catch (const std::exception&) {
  }
  return "";
}

void validate(const ExperimentOptions& options, const std::string& source_name) {
  config_detail::validate_options(options, [&](const std::string&) { return source_name; });
}

std::string to_toml(const ExperimentOptions& options) {
  return write_toml(options, nullptr);
}

std::string hashed_toml(const ExperimentOptions& options) {
  std::set<std::string> skip(kNotHashed.begin(), kNotHashed.end());
  // A baseline's table only matters when its method runs, and exclude_bias_bn only when set: left
  // out otherwise, so a trial's hash depends on what affects it and the hashes of configs written
  // before the baselines existed stay the same.
  static const std::vector<std::pair<std::string, std::string>> kMethodTables = {
      {"simclr", "simclr"}, {"deepcluster_v2", "deepcluster"}, {"sela", "sela"},
      {"sela_v2", "sela_v2"}, {"pcl", "pcl"}};
  for (const auto& [method, table] : kMethodTables) {
    if (options.method == method) continue;
    for (const auto& key : valid_keys())
      if (key.rfind(table + ".", 0) == 0) skip.insert(key);
  }
  if (!options.optim.exclude_bias_bn) skip.insert("optim.exclude_bias_bn");
  return write_toml(options, &skip);
}

std::string config_hash(const ExperimentOptions& options) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // 64-bit FNV-1a
  for (unsigned char c : hashed_toml(options)) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

std::vector<std::string> hash_excluded_keys() {
  return kNotHashed;
}

std::vector<std::string> valid_keys() {
  std::vector<std::string> keys;
  for (const auto& k : schema()) {
    if (k.type != KeyType::kTable) keys.push_back(k.path);
  }
  return keys;
}

const std::vector<std::string>& known_methods() {
  static const std::vector<std::string> methods = {"swav", "simclr", "deepcluster_v2", "sela",
                                                    "sela_v2", "pcl"};
  return methods;
}

}  // namespace swav
