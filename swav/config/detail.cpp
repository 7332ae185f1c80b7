#include "swav/config/detail.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <sstream>

#include "swav/util/error.h"

namespace swav::config_detail {

std::string expected_text(KeyType type) {
  switch (type) {
    case KeyType::kString:
      return "a string";
    case KeyType::kInteger:
      return "an integer";
    case KeyType::kFloat:
      return "a float (or integer)";
    case KeyType::kBoolean:
      return "a boolean (true or false)";
    case KeyType::kIntegerArray:
      return "an array of integers";
    case KeyType::kFloatArray:
      return "an array of floats";
    case KeyType::kTableArray:
      return "an array of tables";
    case KeyType::kTable:
      return "a table";
  }
  return "?";
}

std::string where(const ReadContext& ctx, const std::string& path, const toml::node* node) {
  // An override replaces the value at its key and everything below it (e.g. augment.crops[0].size).
  for (const auto& [key, origin] : ctx.override_origin) {
    if (path == key || path.rfind(key + ".", 0) == 0 || path.rfind(key + "[", 0) == 0)
      return origin;
  }
  // Values merged from files: the exact path, else the nearest enclosing one that is known.
  for (std::string p = path; !p.empty();) {
    auto it = ctx.value_origin.find(p);
    if (it != ctx.value_origin.end()) return it->second;
    if (p.back() == ']') {  // a table inside an array (a crop group) has its own line
      if (auto t = ctx.table_origin.find(p); t != ctx.table_origin.end()) return t->second;
    }
    const auto cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
  if (auto it = ctx.table_origin.find(path); it != ctx.table_origin.end()) return it->second;
  if (node && node->source().begin.line > 0) {
    return fmt::format("{}:{}", ctx.source, node->source().begin.line);
  }
  return ctx.source;
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string_view last_component(std::string_view path) {
  auto dot = path.rfind('.');
  return dot == std::string_view::npos ? path : path.substr(dot + 1);
}

std::string_view parent_of(std::string_view path) {
  auto dot = path.rfind('.');
  return dot == std::string_view::npos ? std::string_view() : path.substr(0, dot);
}

}  // namespace

std::string suggest_key(const std::string& path, const std::vector<KeyInfo>* schema,
                        const std::vector<std::string>& local) {
  std::vector<std::string> candidates = local;
  if (schema) {
    for (const auto& k : *schema) candidates.push_back(k.path);
  }
  const auto leaf = last_component(path);
  const auto parent = parent_of(path);
  std::string best;
  size_t best_score = std::numeric_limits<size_t>::max();
  for (const auto& c : candidates) {
    // A right key in the wrong section ("train.epsilon") is as near as a one-letter typo or two.
    size_t leaf_score = edit_distance(leaf, last_component(c)) + (parent == parent_of(c) ? 0 : 2);
    size_t score = std::min(edit_distance(path, c), leaf_score);
    if (score < best_score) best_score = score, best = c;
  }
  const size_t limit = std::max<size_t>(3, leaf.size() / 2);
  return best_score <= limit ? best : "";
}

TableReader::TableReader(const ReadContext& ctx, const toml::table* table, std::string prefix)
    : ctx_(&ctx), table_(table), prefix_(std::move(prefix)) {}

std::string TableReader::path_of(std::string_view key) const {
  return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

void TableReader::type_error(const std::string& path, const toml::node& node,
                             const std::string& expected) const {
  fail("{}: {}: expected {}, got {} {}", where(*ctx_, path, &node), path, expected,
       node_type_name(node), node_text(node));
}

const toml::node* TableReader::take(std::string_view key, KeyType type) {
  requested_.emplace_back(key);
  if (ctx_->schema_out) ctx_->schema_out->push_back({path_of(key), type});
  return table_ ? table_->get(key) : nullptr;
}

void TableReader::read(std::string_view key, std::string& out) {
  const toml::node* node = take(key, KeyType::kString);
  if (!node) return;
  if (!node->is_string()) type_error(path_of(key), *node, expected_text(KeyType::kString));
  out = node->as_string()->get();
}

void TableReader::read(std::string_view key, int64_t& out) {
  const toml::node* node = take(key, KeyType::kInteger);
  if (!node) return;
  if (!node->is_integer()) type_error(path_of(key), *node, expected_text(KeyType::kInteger));
  out = node->as_integer()->get();
}

void TableReader::read(std::string_view key, double& out) {
  const toml::node* node = take(key, KeyType::kFloat);
  if (!node) return;
  if (node->is_integer()) {
    out = static_cast<double>(node->as_integer()->get());
  } else if (node->is_floating_point()) {
    out = node->as_floating_point()->get();
  } else {
    type_error(path_of(key), *node, expected_text(KeyType::kFloat));
  }
}

void TableReader::read(std::string_view key, bool& out) {
  const toml::node* node = take(key, KeyType::kBoolean);
  if (!node) return;
  if (!node->is_boolean()) type_error(path_of(key), *node, expected_text(KeyType::kBoolean));
  out = node->as_boolean()->get();
}

void TableReader::read(std::string_view key, std::vector<int64_t>& out) {
  const toml::node* node = take(key, KeyType::kIntegerArray);
  if (!node) return;
  const std::string path = path_of(key);
  if (!node->is_array()) type_error(path, *node, expected_text(KeyType::kIntegerArray));
  std::vector<int64_t> values;
  const auto& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    if (!array[i].is_integer()) type_error(fmt::format("{}[{}]", path, i), array[i], "an integer");
    values.push_back(array[i].as_integer()->get());
  }
  out = std::move(values);
}

void TableReader::read(std::string_view key, std::vector<double>& out) {
  const toml::node* node = take(key, KeyType::kFloatArray);
  if (!node) return;
  const std::string path = path_of(key);
  if (!node->is_array()) type_error(path, *node, expected_text(KeyType::kFloatArray));
  std::vector<double> values;
  const auto& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    if (array[i].is_integer()) {
      values.push_back(static_cast<double>(array[i].as_integer()->get()));
    } else if (array[i].is_floating_point()) {
      values.push_back(array[i].as_floating_point()->get());
    } else {
      type_error(fmt::format("{}[{}]", path, i), array[i], "a float (or integer)");
    }
  }
  out = std::move(values);
}

TableReader TableReader::section(std::string_view key) {
  const toml::node* node = take(key, KeyType::kTable);
  if (node && !node->is_table()) type_error(path_of(key), *node, expected_text(KeyType::kTable));
  return TableReader(*ctx_, node ? node->as_table() : nullptr, path_of(key));
}

bool TableReader::table_array(std::string_view key, std::vector<TableReader>& out) {
  out.clear();
  const toml::node* node = take(key, KeyType::kTableArray);
  if (!node) return false;
  const std::string path = path_of(key);
  if (!node->is_array()) type_error(path, *node, expected_text(KeyType::kTableArray));
  const auto& array = *node->as_array();
  for (size_t i = 0; i < array.size(); ++i) {
    const std::string element = fmt::format("{}[{}]", path, i);
    if (!array[i].is_table()) type_error(element, array[i], "a table");
    out.emplace_back(*ctx_, array[i].as_table(), element);
  }
  return true;
}

void TableReader::finish() const {
  if (!table_) return;
  // The first unknown key in source order, so the message points at the first thing to fix.
  const toml::node* first = nullptr;
  std::string first_key;
  std::pair<uint32_t, uint32_t> first_pos;
  for (const auto& [key, node] : *table_) {
    const std::string name(key.str());
    if (std::find(requested_.begin(), requested_.end(), name) != requested_.end()) continue;
    const auto& begin = key.source().begin.line > 0 ? key.source().begin : node.source().begin;
    const std::pair<uint32_t, uint32_t> pos{begin.line, begin.column};
    if (!first || pos < first_pos) first = &node, first_key = name, first_pos = pos;
  }
  if (!first) return;
  const std::string path = path_of(first_key);
  std::vector<std::string> local;
  for (const auto& k : requested_) local.push_back(path_of(k));
  // The key's own line (not its value's): they differ for a [section] header.
  std::string location = where(*ctx_, path, nullptr);
  if (location == ctx_->source && first_pos.first > 0)
    location += fmt::format(":{}", first_pos.first);
  const std::string suggestion = suggest_key(path, ctx_->schema, local);
  if (!suggestion.empty())
    fail("{}: unknown key '{}'; did you mean '{}'?", location, path, suggestion);
  std::string known;
  for (const auto& k : local) known += (known.empty() ? "" : ", ") + k;
  fail("{}: unknown key '{}'; valid keys here: {}", location, path, known);
}

std::string toml_string(const std::string& value) {
  std::string out = "\"";
  for (unsigned char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += fmt::format("\\u{:04X}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string toml_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // fmt's "{}" is the shortest text that reads back to the same double; keep it a TOML float.
  std::string text = fmt::format("{}", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string toml_array(const std::vector<int64_t>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + std::to_string(values[i]);
  return out + "]";
}

std::string toml_array(const std::vector<double>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", " : "") + toml_float(values[i]);
  return out + "]";
}

std::string toml_crop(const CropGroup& crop) {
  return fmt::format("{{ size = {}, count = {}, min_scale = {}, max_scale = {} }}", crop.size,
                     crop.count, toml_float(crop.min_scale), toml_float(crop.max_scale));
}

std::string node_text(const toml::node& node) {
  if (node.is_string()) return toml_string(node.as_string()->get());  // as range errors print them
  std::ostringstream out;
  node.visit([&](const auto& n) { out << n; });
  std::string text = out.str();
  std::replace(text.begin(), text.end(), '\n', ' ');
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string node_type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "float";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::array:
      return "array";
    case toml::node_type::table:
      return "table";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    default:
      return "value";
  }
}

}  // namespace swav::config_detail
