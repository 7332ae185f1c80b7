// Experiment files: TOML text -> toml::table -> overrides applied to the table -> ExperimentOptions
// -> validate. Composition (`defaults = [...]`) and sweeps will merge tables before the conversion,
// so everything after parsing works on a table and remembers where each value came from.
#include "swav/config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "swav/config/detail.h"
#include "swav/util/error.h"

namespace swav {

using config_detail::find_key;
using config_detail::KeyInfo;
using config_detail::KeyType;
using config_detail::read_options;
using config_detail::ReadContext;
using config_detail::schema;
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
  r.read("device", a.device);
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

void read_deepcluster_v1(TableReader r, DeepClusterV1Options& d) {
  r.read("pca_dim", d.pca_dim);
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
  r.read("precision", t.precision);
  r.read("channels_last", t.channels_last);
  r.read("collapse_loss_margin", t.collapse_loss_margin);
  r.read("stop_on_collapse", t.stop_on_collapse);
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
  r.read("swav_linear", e.swav_linear);
  r.read("swav_linear_epochs", e.swav_linear_epochs);
  r.read("swav_linear_min_scale", e.swav_linear_min_scale);
  r.read("center_crop", e.center_crop);
  r.read("semi_supervised", e.semi_supervised);
  r.read("semi_fractions", e.semi_fractions);
  r.read("semi_epochs", e.semi_epochs);
  r.read("semi_lr", e.semi_lr);
  r.read("semi_head_lr", e.semi_head_lr);
  r.read("semi_momentum", e.semi_momentum);
  r.read("semi_weight_decay", e.semi_weight_decay);
  r.read("semi_batch_size", e.semi_batch_size);
  r.read("semi_seed", e.semi_seed);
  r.read("clusters", e.clusters);
  // [[eval.transfer]]: name, mean, std and the keys of [data], flat.
  std::vector<TableReader> transfers;
  if (r.table_array("transfer", transfers)) {
    e.transfer.assign(transfers.size(), TransferOptions{});
    for (size_t i = 0; i < transfers.size(); ++i) {
      transfers[i].read("name", e.transfer[i].name);
      transfers[i].read("mean", e.transfer[i].mean);
      transfers[i].read("std", e.transfer[i].std);
      read_data(transfers[i], e.transfer[i].data);
    }
  }
  r.finish();
}

// --- text -> table, overrides ---------------------------------------------------------------

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
  const KeyInfo* info = config_detail::find_key(key);
  if (!info) config_detail::unknown_key_error(origin, key);
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
  config_detail::set_value(root, key, *parsed.get("value"), origin, ctx);
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
  /// One element of an array of tables ("[[eval.transfer]]").
  void array_section(const std::string& name) {
    section_ = name;
    out_ += fmt::format("\n[[{}]]\n", name);
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
                                             "train.checkpoint_every",
                                             "train.collapse_loss_margin",
                                             "train.stop_on_collapse",
                                             "eval.transfer.cache_dir"};

void write_data_keys(Writer& w, const DataOptions& d) {
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
}

std::string write_toml(const ExperimentOptions& o, const std::set<std::string>* skip) {
  Writer w(skip);
  w.key("name", o.name);
  w.key("method", o.method);
  w.key("db", o.db);
  w.key("run_dir", o.run_dir);

  w.section("data");
  write_data_keys(w, o.data);

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
  w.key("device", a.device);
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

  w.section("deepcluster_v1");
  w.key("pca_dim", o.deepcluster_v1.pca_dim);
  w.key("kmeans_iterations", o.deepcluster_v1.kmeans_iterations);

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
  w.key("precision", t.precision);
  w.key("channels_last", t.channels_last);
  w.key("collapse_loss_margin", t.collapse_loss_margin);
  w.key("stop_on_collapse", t.stop_on_collapse);

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
  w.key("swav_linear", e.swav_linear);
  w.key("swav_linear_epochs", e.swav_linear_epochs);
  w.key("swav_linear_min_scale", e.swav_linear_min_scale);
  w.key("center_crop", e.center_crop);
  w.key("semi_supervised", e.semi_supervised);
  w.key("semi_fractions", e.semi_fractions);
  w.key("semi_epochs", e.semi_epochs);
  w.key("semi_lr", e.semi_lr);
  w.key("semi_head_lr", e.semi_head_lr);
  w.key("semi_momentum", e.semi_momentum);
  w.key("semi_weight_decay", e.semi_weight_decay);
  w.key("semi_batch_size", e.semi_batch_size);
  w.key("semi_seed", e.semi_seed);
  w.key("clusters", e.clusters);
  for (const auto& t : e.transfer) {  // arrays of tables last: nothing may follow them
    w.array_section("eval.transfer");
    w.key("name", t.name);
    w.key("mean", t.mean);
    w.key("std", t.std);
    write_data_keys(w, t.data);
  }
  return w.str();
}

}  // namespace

namespace config_detail {

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
  read_deepcluster_v1(top.section("deepcluster_v1"), o.deepcluster_v1);
  read_sela(top.section("sela"), o.sela);
  read_sela_v2(top.section("sela_v2"), o.sela_v2);
  read_pcl(top.section("pcl"), o.pcl);
  read_optim(top.section("optim"), o.optim);
  read_train(top.section("train"), o.train);
  read_eval(top.section("eval"), o.eval);
  top.finish();
  return o;
}

const std::vector<KeyInfo>& schema() {
  // Collected by running the conversion over nothing.
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

void unknown_key_error(const std::string& origin, const std::string& key) {
  for (const auto& k : schema()) {
    if (k.path == key && k.type == KeyType::kTable) {
      fail("{}: '{}' is a section; set its keys one by one (e.g. {}.<key>=<value>)", origin, key,
           key);
    }
  }
  const std::string suggestion = suggest_key(key, &schema());
  if (!suggestion.empty())
    fail("{}: unknown key '{}'; did you mean '{}'?", origin, key, suggestion);
  fail("{}: unknown key '{}' (valid keys: see swav::valid_keys())", origin, key);
}

void set_value(toml::table& root, const std::string& key, const toml::node& value,
               const std::string& origin, ReadContext& ctx) {
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
      fail("{}: cannot set {}: '{}' is not a table (it is {}, from {})", origin, key, walked,
           node_type_name(*node), where(ctx, walked, node));
    }
    table = node->as_table();
  }
  const std::string leaf = key.substr(start);
  value.visit([&](const auto& v) { table->insert_or_assign(leaf, v); });
  ctx.override_origin[key] = origin;
}

}  // namespace config_detail

namespace {

/// A label of a sweep value for trial names: numbers and booleans as TOML writes them, strings
/// unquoted, arrays as [a,b], crop groups as "2x28+4x14" (count x size).
std::string value_label(const toml::node& node) {
  if (const toml::array* array = node.as_array()) {
    bool crops = !array->empty();
    for (const auto& item : *array) {
      const toml::table* t = item.as_table();
      crops = crops && t && t->get("size") && t->get("count");
    }
    std::vector<std::string> parts;
    for (const auto& item : *array) {
      if (crops) {
        const toml::table& t = *item.as_table();
        parts.push_back(config_detail::node_text(*t.get("count")) + "x" +
                        config_detail::node_text(*t.get("size")));
      } else {
        parts.push_back(value_label(item));
      }
    }
    return crops ? fmt::format("{}", fmt::join(parts, "+"))
                 : fmt::format("[{}]", fmt::join(parts, ","));
  }
  if (const toml::table* table = node.as_table()) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : *table) parts.push_back(std::string(k.str()) + "=" + value_label(v));
    return fmt::format("{{{}}}", fmt::join(parts, ","));
  }
  if (node.is_string()) return node.as_string()->get();
  if (node.is_floating_point()) return config_detail::toml_float(node.as_floating_point()->get());
  return config_detail::node_text(node);
}

std::string folder_name(const std::string& trial_name) {
  std::string out;
  for (unsigned char c : trial_name) {
    const bool keep =
        std::isalnum(c) || c == '.' || c == '_' || c == '=' || c == ',' || c == '+' || c == '-';
    out += keep ? static_cast<char>(c) : '_';
  }
  if (out.empty() || out == "." || out == "..") out = "_" + out;
  return out;
}

struct Axis {
  std::string key;
  std::string origin;  // file:line of the list
  std::vector<const toml::node*> values;
};

/// The axes of a [sweep] table (nested tables are dotted keys) and its mode.
void collect_axes(const toml::table& table, const std::string& prefix, ReadContext& ctx,
                  std::vector<Axis>& axes, std::string& mode) {
  for (const auto& [k, v] : table) {
    const std::string name(k.str());
    const std::string key = prefix.empty() ? name : prefix + "." + name;
    const std::string path = "sweep." + key;
    const std::string origin = config_detail::where(ctx, path, &v);
    if (prefix.empty() && name == "mode") {
      if (!v.is_string() || (v.as_string()->get() != "grid" && v.as_string()->get() != "zip")) {
        fail(
            "{}: sweep.mode = {}: must be \"grid\" (every combination) or \"zip\" (the i-th "
            "values together)",
            origin, config_detail::node_text(v));
      }
      mode = v.as_string()->get();
      continue;
    }
    if (v.is_table() && !config_detail::find_key(key)) {
      collect_axes(*v.as_table(), key, ctx, axes, mode);
      continue;
    }
    if (!config_detail::find_key(key)) config_detail::unknown_key_error(origin + ": sweep", key);
    const toml::array* list = v.as_array();
    if (!list) {
      fail("{}: sweep.{}: expected a list of values to try (e.g. [0.03, 0.05]), got {} {}", origin,
           key, config_detail::node_type_name(v), config_detail::node_text(v));
    }
    if (list->empty()) fail("{}: sweep.{}: the list of values is empty", origin, key);
    for (const auto& axis : axes) {
      if (axis.key == key) fail("{}: sweep.{}: swept twice (also at {})", origin, key, axis.origin);
    }
    Axis axis{key, origin, {}};
    for (const auto& item : *list) axis.values.push_back(&item);
    axes.push_back(std::move(axis));
  }
}

ExperimentOptions resolve(const toml::table& root, ReadContext& ctx) {
  ExperimentOptions options = read_options(&root, ctx);
  config_detail::validate_options(options, [&](const std::string& path) {
    const toml::node* node = toml::at_path(root, path).node();
    std::string location = config_detail::where(ctx, path, node);
    return node || location != ctx.source ? location : location + " (default value)";
  });
  return options;
}

ExperimentPlan expand(toml::table root, ReadContext ctx,
                      const std::vector<std::string>& overrides) {
  ExperimentPlan plan;
  plan.source = ctx.source;
  ctx.schema = &schema();

  std::vector<Axis> axes;
  std::string mode = "grid";
  toml::table sweep;
  if (toml::node* node = root.get("sweep")) {
    const std::string origin = config_detail::where(ctx, "sweep", node);
    if (!node->is_table())
      fail("{}: sweep: expected a table of dotted keys to lists of values", origin);
    sweep = *node->as_table();
    collect_axes(sweep, "", ctx, axes, mode);
    root.erase("sweep");
    if (axes.empty()) fail("{}: [sweep] names no key to sweep", origin);
  }
  std::sort(axes.begin(), axes.end(), [](const Axis& a, const Axis& b) { return a.key < b.key; });
  if (!axes.empty()) {
    plan.mode = mode;
    for (const auto& a : axes) plan.axes.push_back(a.key);
  }
  for (const auto& o : overrides) {
    const std::string key = trim(std::string_view(o).substr(0, o.find('=')));
    for (const auto& a : axes) {
      if (a.key == key) {
        fail("override `{}`: {} is swept ({}); drop the override or the sweep axis", o, key,
             a.origin);
      }
    }
  }

  // The value index of every axis for each trial.
  std::vector<std::vector<size_t>> points;
  if (axes.empty()) {
    points.push_back({});
  } else if (mode == "zip") {
    for (const auto& a : axes) {
      if (a.values.size() != axes[0].values.size()) {
        fail("{}: sweep.mode = \"zip\" needs lists of equal length: {} has {} values, {} has {}",
             a.origin, axes[0].key, axes[0].values.size(), a.key, a.values.size());
      }
    }
    for (size_t i = 0; i < axes[0].values.size(); ++i) points.emplace_back(axes.size(), i);
  } else {
    std::vector<size_t> index(axes.size(), 0);
    for (;;) {
      points.push_back(index);
      size_t d = axes.size();
      while (d > 0 && ++index[d - 1] == axes[d - 1].values.size()) index[--d] = 0;
      if (d == 0) break;
    }
  }

  std::map<std::string, std::string> folders, hashes;
  for (const auto& point : points) {
    Trial trial;
    toml::table table = root;
    ReadContext trial_ctx = ctx;
    std::vector<std::string> parts;
    for (size_t a = 0; a < axes.size(); ++a) {
      const toml::node& value = *axes[a].values[point[a]];
      const std::string label = value_label(value);
      trial.values.emplace_back(axes[a].key, label);
      parts.push_back(axes[a].key + "=" + label);
      const std::string origin = fmt::format("sweep value {}={} ({})", axes[a].key,
                                             config_detail::node_text(value), axes[a].origin);
      config_detail::set_value(table, axes[a].key, value, origin, trial_ctx);
    }
    trial.name = axes.empty() ? "main" : fmt::format("{}", fmt::join(parts, ","));
    for (const auto& o : overrides) apply_override(table, o, trial_ctx);
    try {
      trial.options = resolve(table, trial_ctx);
    } catch (const UserError& e) {
      if (axes.empty()) throw;  // no sweep: the file itself is wrong
      trial.error = e.what();
      std::ostringstream text;
      text << table;
      trial.config_text = text.str();
      trial.folder = folder_name(trial.name);
      plan.trials.push_back(std::move(trial));
      continue;
    }
    trial.hash = config_hash(trial.options);
    if (auto it = hashes.find(trial.hash); it != hashes.end()) {
      fail(
          "{}: trials '{}' and '{}' resolve to the same config (hash {}); a swept key that does "
          "not change results ({}) or a repeated value?",
          ctx.source, it->second, trial.name, trial.hash, fmt::join(hash_excluded_keys(), ", "));
    }
    hashes[trial.hash] = trial.name;
    std::string folder = folder_name(trial.name);
    if (folder.size() > 120) folder = folder.substr(0, 100) + "-" + trial.hash.substr(0, 8);
    if (folders.count(folder)) folder += "-" + trial.hash.substr(0, 8);
    folders[folder] = trial.name;
    trial.folder = folder;
    plan.trials.push_back(std::move(trial));
  }
  return plan;
}

}  // namespace

ExperimentPlan parse_plan(const std::string& toml_text, const std::string& source_name,
                          const std::vector<std::string>& overrides) {
  ReadContext ctx;
  ctx.source = source_name;
  toml::table root = config_detail::compose_text(toml_text, source_name, ctx);
  return expand(std::move(root), std::move(ctx), overrides);
}

ExperimentPlan load_plan(const std::string& path, const std::vector<std::string>& overrides) {
  ReadContext ctx;
  ctx.source = path;
  toml::table root = config_detail::compose_file(path, ctx);
  return expand(std::move(root), std::move(ctx), overrides);
}

namespace {

ExperimentOptions single(const ExperimentPlan& plan) {
  if (plan.trials.size() != 1 || !plan.mode.empty()) {
    fail(
        "{}: has a [sweep] of {} trials; this reads one experiment (run it with run_experiment, "
        "which runs every trial, or read it with load_plan)",
        plan.source, plan.trials.size());
  }
  return plan.trials.front().options;
}

}  // namespace

ExperimentOptions parse_experiment(const std::string& toml_text, const std::string& source_name,
                                   const std::vector<std::string>& overrides) {
  return single(parse_plan(toml_text, source_name, overrides));
}

ExperimentOptions load_experiment(const std::string& path,
                                  const std::vector<std::string>& overrides) {
  return single(load_plan(path, overrides));
}

bool trial_matches(const std::string& trial_name, const std::string& pattern) {
  if (pattern.find_first_of("*?[") != std::string::npos)
    return ::fnmatch(pattern.c_str(), trial_name.c_str(), 0) == 0;
  return trial_name.find(pattern) != std::string::npos;
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
    ReadContext ctx;
    ctx.source = path;
    const toml::table table =
        config_detail::compose_file(path, ctx);  // `db` may come from defaults
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
      {"simclr", "simclr"},
      {"deepcluster_v2", "deepcluster"},
      {"deepcluster_v1", "deepcluster_v1"},
      {"sela", "sela"},
      {"sela_v2", "sela_v2"},
      {"pcl", "pcl"}};
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
  static const std::vector<std::string> methods = {
      "swav", "simclr", "deepcluster_v1", "deepcluster_v2", "sela", "sela_v2", "pcl"};
  return methods;
}

}  // namespace swav
