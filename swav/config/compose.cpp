// Composition of experiment files: `defaults = ["base/a.toml", ...]` names files (relative to the
// file that names them) merged before the file itself, recursively. Tables merge key by key; every
// other value, arrays included, is replaced by the later layer. Because copied toml++ nodes lose
// their source position, the origin ("file:line") of every merged value is kept in the ReadContext.
#include <fmt/format.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "swav/config/detail.h"
#include "swav/util/error.h"

namespace swav::config_detail {

namespace {

std::string dir_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

/// `relative` as seen from the folder of `file`; absolute paths stay as they are.
std::string resolve(const std::string& file, const std::string& relative) {
  if (!relative.empty() && relative.front() == '/') return relative;
  return dir_of(file) + relative;
}

/// The file's text, or a UserError that starts with `context` (e.g. where the file was named).
std::string read_file(const std::string& path, const std::string& context) {
  // stat, not std::filesystem: libtorch.so exports a partial copy of std::filesystem that shadows
  // libstdc++'s.
  const std::string prefix = context.empty() ? "" : context + ": ";
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0)
    fail("{}cannot read experiment file '{}': {}", prefix, path, std::strerror(errno));
  if (!S_ISREG(info.st_mode))
    fail("{}cannot read experiment file '{}': not a regular file", prefix, path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}cannot read experiment file '{}': {}", prefix, path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

toml::table parse_text(const std::string& text, const std::string& source) {
  try {
    return toml::parse(std::string_view(text), std::string_view(source));
  } catch (const toml::parse_error& e) {
    fail("{}:{}:{}: TOML syntax error: {}", source, e.source().begin.line, e.source().begin.column,
         e.description());
  }
}

std::string location(const std::string& file, const toml::node& node, const toml::key* key) {
  uint32_t line = key && key->source().begin.line > 0 ? key->source().begin.line : 0;
  if (line == 0) line = node.source().begin.line;
  return line > 0 ? fmt::format("{}:{}", file, line) : file;
}

void erase_under(std::map<std::string, std::string>& origins, const std::string& path) {
  for (auto it = origins.lower_bound(path); it != origins.end();) {
    const std::string& p = it->first;
    if (p.compare(0, path.size(), path) != 0) break;
    if (p.size() == path.size() || p[path.size()] == '.' || p[path.size()] == '[') {
      it = origins.erase(it);
    } else {
      ++it;
    }
  }
}

/// Notes where `node` (at `path`) and everything inside it came from.
void record(ReadContext& ctx, const std::string& path, const toml::node& node,
            const std::string& file, const toml::key* key) {
  const std::string origin = location(file, node, key);
  if (const toml::table* table = node.as_table()) {
    ctx.table_origin[path] = origin;
    for (const auto& [k, v] : *table) record(ctx, path + "." + std::string(k.str()), v, file, &k);
    return;
  }
  ctx.value_origin[path] = origin;
  if (const toml::array* array = node.as_array()) {
    for (size_t i = 0; i < array->size(); ++i)
      record(ctx, fmt::format("{}[{}]", path, i), (*array)[i], file, nullptr);
  }
}

void merge(toml::table& into, const toml::table& from, const std::string& prefix,
           const std::string& file, ReadContext& ctx) {
  for (const auto& [k, v] : from) {
    const std::string key(k.str());
    const std::string path = prefix.empty() ? key : prefix + "." + key;
    toml::node* existing = into.get(key);
    if (v.is_table() && existing && existing->is_table()) {
      ctx.table_origin[path] = location(file, v, &k);
      merge(*existing->as_table(), *v.as_table(), path, file, ctx);
      continue;
    }
    erase_under(ctx.value_origin, path);
    erase_under(ctx.table_origin, path);
    v.visit([&](const auto& n) { into.insert_or_assign(key, n); });
    record(ctx, path, v, file, &k);
  }
}

/// Merges `file` (text already read) and, first, its defaults into `acc`. `stack` holds the files
/// being composed, outermost first, to report a cycle.
void compose_into(toml::table& acc, const std::string& file, const std::string& text,
                  std::vector<std::string>& stack, ReadContext& ctx) {
  toml::table layer = parse_text(text, file);
  if (const toml::node* defaults = layer.get("defaults")) {
    const std::string here = location(file, *defaults, nullptr);
    const toml::array* list = defaults->as_array();
    if (!list) {
      fail(
          "{}: defaults: expected an array of file names (e.g. defaults = [\"base/data.toml\"]), "
          "got {} {}",
          here, node_type_name(*defaults), node_text(*defaults));
    }
    for (size_t i = 0; i < list->size(); ++i) {
      const toml::node& item = (*list)[i];
      if (!item.is_string()) {
        fail("{}: defaults[{}]: expected a file name (a string), got {} {}", here, i,
             node_type_name(item), node_text(item));
      }
      const std::string named = item.as_string()->get();
      const std::string path = resolve(file, named);
      const std::string context = fmt::format("{}: defaults[{}] = {}", here, i, toml_string(named));
      if (std::find(stack.begin(), stack.end(), path) != stack.end()) {
        std::string chain;
        for (const auto& s : stack) chain += s + " -> ";
        fail("{}: composition cycle: {}{}", context, chain, path);
      }
      stack.push_back(path);
      compose_into(acc, path, read_file(path, context), stack, ctx);
      stack.pop_back();
    }
    layer.erase("defaults");
  }
  merge(acc, layer, "", file, ctx);
}

}  // namespace

toml::table compose_text(const std::string& text, const std::string& source_name,
                         ReadContext& ctx) {
  toml::table root;
  std::vector<std::string> stack{source_name};
  compose_into(root, source_name, text, stack, ctx);
  return root;
}

toml::table compose_file(const std::string& path, ReadContext& ctx) {
  return compose_text(read_file(path, ""), path, ctx);
}

}  // namespace swav::config_detail
