// Experiment files -> plans: composition, then the [sweep] table expanded into trials (grid or
// zip), overrides applied to each trial, each trial read, validated, hashed and given a folder.
// The reading of one table into ExperimentOptions is config.cpp's; this file decides which tables
// there are.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fnmatch.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <sstream>

#include "swav/config/config.h"
#include "swav/config/detail.h"
#include "swav/util/error.h"

namespace swav {

using config_detail::ReadContext;

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
  ExperimentOptions options = config_detail::read_options(&root, ctx);
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
  ctx.schema = &config_detail::schema();

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
    const std::string key = config_detail::trim(std::string_view(o).substr(0, o.find('=')));
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
    for (const auto& o : overrides) config_detail::apply_override(table, o, trial_ctx);
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

}  // namespace swav
