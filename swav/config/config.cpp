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
#include <stdexcept>
#include <type_traits>

#include "swav/config/detail.h"
#include "swav/config/fields.h"
#include "swav/util/error.h"

namespace swav {

using config_detail::describe;
using config_detail::find_key;
using config_detail::KeyInfo;
using config_detail::KeyType;
using config_detail::read_options;
using config_detail::ReadContext;
using config_detail::schema;
using config_detail::TableReader;

namespace {

// --- table -> options -------------------------------------------------------------------------
// The field lists of fields.h, read through TableReader, which notes what it consumed so that
// finish() can report the rest of each table as unknown.

class Reader {
 public:
  explicit Reader(TableReader table) : table_(std::move(table)) {}

  template <class T, class... Rules>
  void key(std::string_view name, T& field, const char* /*doc*/, const Rules&...) {
    table_.read(name, field);
  }
  template <class S>
  void section(std::string_view name, S& options, const char* /*doc*/) {
    Reader sub(table_.section(name));
    describe(sub, options);
    sub.finish();
  }
  template <class S>
  void inline_tables(std::string_view name, std::vector<S>& out, const char* /*doc*/) {
    tables(name, out);
  }
  template <class S>
  void table_sections(std::string_view name, std::vector<S>& out, const char* /*doc*/) {
    tables(name, out);
  }
  void finish() const { table_.finish(); }

 private:
  template <class S>
  void tables(std::string_view name, std::vector<S>& out) {
    std::vector<TableReader> elements;
    if (!table_.table_array(name, elements)) return;
    out.assign(elements.size(), S{});
    for (size_t i = 0; i < elements.size(); ++i) {
      Reader sub(std::move(elements[i]));
      describe(sub, out[i]);
      sub.finish();
    }
  }

  TableReader table_;
};

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

std::string value_text(const std::string& v) {
  return config_detail::toml_string(v);
}
std::string value_text(int64_t v) {
  return std::to_string(v);
}
std::string value_text(double v) {
  return config_detail::toml_float(v);
}
std::string value_text(bool v) {
  return v ? "true" : "false";
}
std::string value_text(const std::vector<int64_t>& v) {
  return config_detail::toml_array(v);
}
std::string value_text(const std::vector<double>& v) {
  return config_detail::toml_array(v);
}

template <class Tag, class... Rules>
constexpr bool has_tag() {
  return (std::is_same_v<Tag, Rules> || ...);
}

/// One table as an inline TOML table: "{ size = 64, count = 2, ... }".
class InlineWriter {
 public:
  template <class T, class... Rules>
  void key(std::string_view name, const T& value, const char*, const Rules&...) {
    out_ += fmt::format("{}{} = {}", out_.empty() ? "{ " : ", ", name, value_text(value));
  }
  std::string str() const { return out_ + " }"; }

 private:
  std::string out_;
};

/// The whole config as TOML, in the order of the field lists. With `hashed`, keys tagged
/// NotHashed, sections of methods other than the one that runs (but [swav]), and keys tagged
/// HashedUnlessDefault that hold their default are left out: the text config_hash hashes.
class Writer {
 public:
  Writer(bool hashed, std::string method) : hashed_(hashed), method_(std::move(method)) {}

  template <class T, class... Rules>
  void key(std::string_view name, const T& value, const char*, const Rules&...) {
    if (hashed_ && has_tag<config_detail::NotHashed, Rules...>()) return;
    if constexpr (has_tag<config_detail::HashedUnlessDefault, Rules...>()) {
      if (hashed_ && value == T{}) return;
    }
    if (sections_closed_) {
      throw std::logic_error(fmt::format(
          "fields.h: key '{}' follows a [[table]] array; arrays of tables must come last", name));
    }
    // The header goes out with the first key written, so a section left out whole leaves no
    // trace in the hashed form.
    if (header_pending_) out_ += fmt::format("\n[{}]\n", section_);
    header_pending_ = false;
    out_ += fmt::format("{} = {}\n", name, value_text(value));
  }
  template <class S>
  void section(std::string_view name, const S& options, const char*) {
    if (hashed_ && !hashed_section(name)) return;
    section_ = std::string(name);
    header_pending_ = true;
    describe(*this, options);
  }
  template <class S>
  void inline_tables(std::string_view name, const std::vector<S>& tables, const char* doc) {
    std::string text = "[\n";
    for (const auto& t : tables) {
      InlineWriter w;
      describe(w, t);
      text += "  " + w.str() + ",\n";
    }
    key(name, Raw{text + "]"}, doc);
  }
  template <class S>
  void table_sections(std::string_view name, const std::vector<S>& tables, const char*) {
    const std::string full =
        section_.empty() ? std::string(name) : section_ + "." + std::string(name);
    for (const auto& t : tables) {
      section_ = full;
      out_ += fmt::format("\n[[{}]]\n", full);
      header_pending_ = false;
      describe(*this, t);
    }
    sections_closed_ = !tables.empty();
  }
  std::string str() const { return out_; }

  struct Raw {  // text written as it is
    std::string text;
    bool operator==(const Raw& other) const { return text == other.text; }
  };
  friend std::string value_text(const Raw& raw) { return raw.text; }

 private:
  bool hashed_section(std::string_view name) const {
    if (name == "swav") return true;  // hashed for every method: see MethodInfo
    for (const auto& m : config_detail::method_infos()) {
      if (name == m.section) return method_ == m.name;
    }
    return true;
  }

  bool hashed_;
  std::string method_;
  std::string section_;
  bool header_pending_ = false;
  bool sections_closed_ = false;
  std::string out_;
};

std::string write_toml(const ExperimentOptions& o, bool hashed) {
  Writer w(hashed, o.method);
  describe(w, o);
  return w.str();
}

/// Collects the dotted paths of keys tagged NotHashed ([[table]] elements as "eval.transfer.x").
class NotHashedKeys {
 public:
  template <class T, class... Rules>
  void key(std::string_view name, const T&, const char*, const Rules&...) {
    if (has_tag<config_detail::NotHashed, Rules...>()) keys_.push_back(path(name));
  }
  template <class S>
  void section(std::string_view name, const S& options, const char*) {
    NotHashedKeys sub;
    sub.prefix_ = path(name);
    describe(sub, options);
    keys_.insert(keys_.end(), sub.keys_.begin(), sub.keys_.end());
  }
  template <class S>
  void inline_tables(std::string_view name, const std::vector<S>&, const char*) {
    element<S>(name);
  }
  template <class S>
  void table_sections(std::string_view name, const std::vector<S>&, const char*) {
    element<S>(name);
  }
  std::vector<std::string> keys() const { return keys_; }

 private:
  template <class S>
  void element(std::string_view name) {
    const S none{};
    section(name, none, "");
  }
  std::string path(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }
  std::string prefix_;
  std::vector<std::string> keys_;
};

}  // namespace

namespace config_detail {

ExperimentOptions read_options(const toml::table* root, const ReadContext& ctx) {
  ExperimentOptions o;
  Reader top(TableReader(ctx, root, ""));
  describe(top, o);
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
  return write_toml(options, false);
}

std::string hashed_toml(const ExperimentOptions& options) {
  return write_toml(options, true);
}

std::string config_hash(const ExperimentOptions& options) {
  uint64_t hash = 0xcbf29ce484222325ULL;  // 64-bit FNV-1a
  for (unsigned char c : hashed_toml(options)) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return fmt::format("{:016x}", hash);
}

namespace {

std::string type_name(const std::string&) {
  return "string";
}
std::string type_name(int64_t) {
  return "integer";
}
std::string type_name(double) {
  return "float";
}
std::string type_name(bool) {
  return "boolean";
}
std::string type_name(const std::vector<int64_t>&) {
  return "array of integers";
}
std::string type_name(const std::vector<double>&) {
  return "array of floats";
}

/// key_docs(): every key with its default, walked over default options.
class DocCollector {
 public:
  explicit DocCollector(std::vector<KeyDoc>& out, std::string prefix = "")
      : out_(out), prefix_(std::move(prefix)) {}

  template <class T, class... Rules>
  void key(std::string_view name, const T& value, const char* doc, const Rules&...) {
    out_.push_back({path(name), type_name(value), value_text(value), doc,
                    !has_tag<config_detail::NotHashed, Rules...>()});
  }
  template <class S>
  void section(std::string_view name, const S& options, const char* doc) {
    out_.push_back({"[" + path(name) + "]", "section", "", doc, true});
    DocCollector sub(out_, path(name));
    describe(sub, options);
  }
  template <class S>
  void inline_tables(std::string_view name, const std::vector<S>& tables, const char* doc) {
    std::string text = "[";
    for (const auto& t : tables) {
      InlineWriter w;
      describe(w, t);
      text += (text.size() > 1 ? ", " : "") + w.str();
    }
    out_.push_back({path(name), "array of tables", text + "]", doc, true});
    DocCollector sub(out_, path(name) + "[]");
    const S defaults{};
    describe(sub, defaults);
  }
  template <class S>
  void table_sections(std::string_view name, const std::vector<S>&, const char* doc) {
    out_.push_back({"[[" + path(name) + "]]", "array of tables", "[]", doc, true});
    DocCollector sub(out_, path(name) + "[]");
    const S defaults{};
    describe(sub, defaults);
  }

 private:
  std::string path(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }
  std::vector<KeyDoc>& out_;
  std::string prefix_;
};

}  // namespace

std::vector<KeyDoc> key_docs() {
  std::vector<KeyDoc> out;
  DocCollector collect(out);
  const ExperimentOptions defaults;
  describe(collect, defaults);
  return out;
}

std::vector<std::string> hash_excluded_keys() {
  static const std::vector<std::string> keys = [] {
    NotHashedKeys collect;
    const ExperimentOptions defaults;
    describe(collect, defaults);
    return collect.keys();
  }();
  return keys;
}

std::vector<std::string> valid_keys() {
  std::vector<std::string> keys;
  for (const auto& k : schema()) {
    if (k.type != KeyType::kTable) keys.push_back(k.path);
  }
  return keys;
}

const std::vector<std::string>& known_methods() {
  static const std::vector<std::string> methods = config_detail::method_names();
  return methods;
}

}  // namespace swav
