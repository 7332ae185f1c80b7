// One experiment table -> ExperimentOptions and back: the readers, the canonical writer (the config
// hash), the schema of known keys and the key documentation, all walking the field lists of
// fields.h; command-line overrides set keys of a table. Composition (compose.cpp) and the sweep
// expansion (sweep.cpp) build the tables this file reads.
#include "swav/config/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>
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

/// The declared defaults of the keys tagged HashedUnlessDefault, by dotted path ("optim.larc"),
/// walked over default-constructed options.
class DefaultTexts {
 public:
  std::map<std::string, std::string> texts;

  template <class T, class... Rules>
  void key(std::string_view name, const T& value, const char*, const Rules&...) {
    if constexpr (has_tag<config_detail::HashedUnlessDefault, Rules...>())
      texts[path(name)] = value_text(value);
  }
  template <class S>
  void section(std::string_view name, const S& options, const char*) {
    nested(name, options);
  }
  template <class S>
  void inline_tables(std::string_view, const std::vector<S>&, const char*) {}
  template <class S>
  void table_sections(std::string_view name, const std::vector<S>&, const char*) {
    nested(name, S{});
  }

 private:
  std::string path(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }
  template <class S>
  void nested(std::string_view name, const S& options) {
    DefaultTexts sub;
    sub.prefix_ = path(name);
    describe(sub, options);
    texts.insert(sub.texts.begin(), sub.texts.end());
  }
  std::string prefix_;
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
      if (hashed_ && value_text(value) == declared_default(name)) return;
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

  /// The declared default (the member's initialiser) of a HashedUnlessDefault key of the
  /// current section, as value_text writes it.
  std::string declared_default(std::string_view name) const {
    static const std::map<std::string, std::string> defaults = [] {
      DefaultTexts collect;
      const ExperimentOptions options;
      describe(collect, options);
      return collect.texts;
    }();
    const std::string path =
        section_.empty() ? std::string(name) : section_ + "." + std::string(name);
    auto it = defaults.find(path);
    if (it == defaults.end())
      throw std::logic_error(fmt::format("config.cpp: no declared default for {}", path));
    return it->second;
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

std::string trim(std::string_view s) {
  const char* space = " \t\r\n";
  auto begin = s.find_first_not_of(space);
  if (begin == std::string_view::npos) return "";
  return std::string(s.substr(begin, s.find_last_not_of(space) - begin + 1));
}

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
