#include "swav/report/tables.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <tuple>

#include "swav/config/config.h"
#include "swav/report/svg.h"
#include "swav/util/error.h"

namespace swav::report {

namespace {

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? separator : "") + items[i];
  return out;
}

std::string display(const toml::node& node) {
  if (auto s = node.as_string()) return s->get();
  if (auto i = node.as_integer()) return std::to_string(i->get());
  if (auto f = node.as_floating_point()) return fmt::format("{}", f->get());
  if (auto b = node.as_boolean()) return b->get() ? "true" : "false";
  if (auto a = node.as_array()) {
    std::vector<std::string> parts;
    for (const auto& element : *a) parts.push_back(display(element));
    return join(parts, ", ");
  }
  if (auto t = node.as_table()) {
    std::vector<std::string> parts;
    for (auto&& [key, value] : *t) parts.push_back(std::string(key.str()) + "=" + display(value));
    return "{" + join(parts, ", ") + "}";
  }
  return "?";
}

// "2x224[0.14,1] + 6x96[0.05,0.14]": count x size [area range] per crop group.
std::string display_crops(const toml::array& crops) {
  std::vector<std::string> parts;
  for (const auto& element : crops) {
    const auto* t = element.as_table();
    if (!t) return display(crops);
    auto get = [&](const char* key) {
      const toml::node* n = t->get(key);
      return n ? display(*n) : std::string("?");
    };
    parts.push_back(
        fmt::format("{}x{}[{},{}]", get("count"), get("size"), get("min_scale"), get("max_scale")));
  }
  return join(parts, " + ");
}

void flatten(const toml::table& table, const std::string& prefix,
             std::map<std::string, std::string>& out) {
  for (auto&& [key, node] : table) {
    const std::string path =
        prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
    if (const auto* sub = node.as_table()) {
      flatten(*sub, path, out);
    } else if (path == "augment.crops" && node.is_array()) {
      out[path] = display_crops(*node.as_array());
    } else {
      out[path] = display(node);
    }
  }
}

bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size();
}

// Numbers by value, then text; a number sorts before text.
bool natural_less(const std::string& a, const std::string& b) {
  double x = 0, y = 0;
  const bool na = parse_number(a, x), nb = parse_number(b, y);
  if (na && nb && x != y) return x < y;
  if (na != nb) return na;
  return a < b;
}

struct ColumnOrder {
  int group = 0;
  std::string name;
  double sub = 0;
  int sub2 = 0;
  bool operator<(const ColumnOrder& o) const {
    return std::tie(group, name, sub, sub2) < std::tie(o.group, o.name, o.sub, o.sub2);
  }
};

// The column of an eval row, or false for rows that are not reported in tables
// (top1_last, knn_init, raw cluster counts).
bool eval_column_ordered(const std::string& protocol, const std::string& metric, Column& column,
                         ColumnOrder& order) {
  column.id = "eval:" + protocol + "/" + metric;
  double k = 0;
  auto knn_k = [&](const std::string& m) {
    return m.rfind("top1_k", 0) == 0 && parse_number(m.substr(6), k);
  };
  if (protocol == "knn" && knn_k(metric)) {
    column = {column.id, fmt::format("kNN k={}", metric.substr(6)), Kind::kPercent};
    order = {0, "", k, 0};
    return true;
  }
  if (protocol == "linear" && metric == "top1_best") {
    column = {column.id, "Linear", Kind::kPercent};
    order = {1, "", 0, 0};
    return true;
  }
  if (protocol == "swav_linear" && metric == "top1_best") {
    column = {column.id, "SwAV linear", Kind::kPercent};
    order = {2, "", 0, 0};
    return true;
  }
  double fraction = 0;
  if (protocol == "semi_supervised" && metric.rfind("top1_", 0) == 0 && metric.size() > 8 &&
      metric.compare(metric.size() - 3, 3, "pct") == 0 &&
      parse_number(metric.substr(5, metric.size() - 8), fraction)) {
    column = {column.id, fmt::format("Semi-sup {}%", metric.substr(5, metric.size() - 8)),
              Kind::kPercent};
    order = {3, "", fraction, 0};
    return true;
  }
  if (protocol == "clusters" && (metric == "nmi" || metric == "ari")) {
    column = {column.id, metric == "nmi" ? "NMI" : "ARI", Kind::kRatio};
    order = {4, "", 0, metric == "nmi" ? 0 : 1};
    return true;
  }
  if (protocol.rfind("transfer:", 0) == 0) {
    const auto colon = protocol.rfind(':');
    const std::string name = protocol.substr(9, colon - 9), kind = protocol.substr(colon + 1);
    if (kind == "knn" && knn_k(metric)) {
      column = {column.id, fmt::format("{} kNN k={}", name, metric.substr(6)), Kind::kPercent};
      order = {5, name, k, 0};
      return true;
    }
    if (kind == "linear" && metric == "top1_best") {
      column = {column.id, name + " linear", Kind::kPercent};
      order = {5, name, 0, 1};
      return true;
    }
  }
  return false;
}

// Row keys in the order the layouts show them; other varying keys follow by name.
const std::vector<std::pair<std::string, std::string>> kNamedKeys = {
    {"method", "Method"},          {"augment.crops", "Crops"},
    {"swav.epsilon", "epsilon"},   {"model.prototypes", "Prototypes"},
    {"train.batch_size", "Batch"}, {"swav.queue_length", "Queue"}};

int decimals(Kind kind) {
  switch (kind) {
    case Kind::kPercent:
      return 2;
    case Kind::kRatio:
      return 3;
    case Kind::kSeconds:
      return 1;
    case Kind::kUsage:
      return 1;
  }
  return 2;
}

double scale(Kind kind) {
  return kind == Kind::kPercent || kind == Kind::kUsage ? 100.0 : 1.0;
}

std::string fixed(double value, int digits) {
  std::string s = fmt::format("{:.{}f}", value, digits);
  if (s.find_first_not_of("-0.") == std::string::npos && s[0] == '-') s.erase(0, 1);  // no "-0.00"
  return s;
}

// The value a column's best is chosen on: the mean as displayed, so ties are ties on paper.
double shown(const Stat& s, Kind kind) {
  return std::stod(fixed(s.mean * scale(kind), decimals(kind)));
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\':
        out += "\\textbackslash{}";
        break;
      case '&':
      case '%':
      case '$':
      case '#':
      case '_':
      case '{':
      case '}':
        out += '\\';
        out += c;
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

bool eval_column(const std::string& protocol, const std::string& metric, Column& column) {
  ColumnOrder order;
  return eval_column_ordered(protocol, metric, column, order);
}

Format parse_format(const std::string& name) {
  if (name == "md" || name == "markdown") return Format::kMarkdown;
  if (name == "latex" || name == "tex") return Format::kLatex;
  if (name == "csv") return Format::kCsv;
  fail("--format {}: unknown table format (expected md, latex or csv)", name);
}

std::string extension(Format format) {
  switch (format) {
    case Format::kMarkdown:
      return "md";
    case Format::kLatex:
      return "tex";
    case Format::kCsv:
      return "csv";
  }
  return "txt";
}

Stat summarize(const std::vector<double>& values) {
  Stat s;
  s.n = static_cast<int64_t>(values.size());
  if (values.empty()) return s;
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double squares = 0;
    for (double v : values) squares += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(squares / static_cast<double>(values.size() - 1));
  }
  return s;
}

std::map<std::string, std::string> flatten_config(const std::string& toml_text,
                                                  const std::string& what) {
  toml::table table;
  try {
    table = toml::parse(std::string_view(toml_text));
  } catch (const toml::parse_error& e) {
    fail("{}: stored config is not TOML (line {}): {}", what, e.source().begin.line,
         e.description());
  }
  std::map<std::string, std::string> out;
  flatten(table, "", out);
  return out;
}

std::vector<std::string> experiments(const Store& store) {
  std::set<std::string> names;
  for (const auto& run : store.runs()) {
    if (run.status == "done") names.insert(run.experiment);
  }
  return {names.begin(), names.end()};
}

std::vector<RunData> load_runs(const Store& store, const std::string& experiment) {
  std::vector<RunData> out;
  for (const auto& run : store.runs(experiment)) {
    if (run.status != "done") continue;
    RunData data;
    data.run = run;
    data.config = flatten_config(run.config_toml, fmt::format("{}: run {} of experiment '{}'",
                                                              store.path(), run.id, experiment));
    if (run.external()) {
      // Weights trained elsewhere (--eval-only): method "external", named by file and digest.
      data.config["method"] = "external";
      data.config["model.init"] = fmt::format(
          "{}@{}", std::filesystem::path(run.weights).filename().string(),
          run.weights_sha256.substr(0, 8));
    }
    // A key added after a run was stored is missing from its config; it ran with that key's
    // default (the behaviour before the key existed), so it is read as the default, and a key is
    // not shown as varying only because older runs lack it.
    static const auto defaults = flatten_config(to_toml(ExperimentOptions{}), "the defaults");
    for (const auto& [key, value] : defaults) data.config.emplace(key, value);
    for (const auto& e : store.evals(run.id)) data.evals[e.protocol + "/" + e.metric] = e.value;
    int64_t usage_epoch = -1;
    for (const auto& m : store.metrics(run.id)) {
      if (m.name == "loss") data.loss.emplace_back(static_cast<double>(m.epoch), m.value);
      if (m.name == "seconds") data.epoch_seconds.push_back(m.value);
      if (m.name == "collapse" && m.value > 0) {
        data.collapse |= static_cast<int>(m.value);
        if (data.collapse_epoch < 0 || m.epoch < data.collapse_epoch) data.collapse_epoch = m.epoch;
      }
      if (m.name == "prototype_usage" && m.epoch >= usage_epoch) {
        usage_epoch = m.epoch;
        data.prototype_usage = m.value;
      }
    }
    std::sort(data.loss.begin(), data.loss.end());
    out.push_back(std::move(data));
  }
  if (out.empty()) {
    std::string known = join(experiments(store), ", ");
    fail("{}: experiment '{}' has no finished runs (experiments with finished runs: {})",
         store.path(), experiment, known.empty() ? "none" : known);
  }
  std::sort(out.begin(), out.end(),
            [](const RunData& a, const RunData& b) { return a.run.id < b.run.id; });
  return out;
}

Table build_table(const std::string& experiment, const std::vector<RunData>& runs) {
  Table table;
  table.experiment = experiment;

  // Keys whose value differs between runs (a key missing from a run counts as a value).
  std::set<std::string> ignored = {"train.seed"};
  for (const auto& key : hash_excluded_keys()) ignored.insert(key);
  std::set<std::string> keys;
  for (const auto& r : runs)
    for (const auto& [key, value] : r.config) keys.insert(key);
  auto value_of = [](const RunData& r, const std::string& key) {
    auto it = r.config.find(key);
    return it == r.config.end() ? std::string("-") : it->second;
  };
  std::set<std::string> varying;
  for (const auto& key : keys) {
    if (ignored.count(key)) continue;
    std::set<std::string> values;
    for (const auto& r : runs) values.insert(value_of(r, key));
    if (values.size() > 1) varying.insert(key);
  }
  // Keys fixed by the method alone (one value per method) become per-method settings.
  auto title_of = [](const std::string& key) {
    for (const auto& [named, title] : kNamedKeys)
      if (named == key) return title;
    return key;
  };
  if (varying.count("method")) {
    for (const auto& key : std::vector<std::string>(varying.begin(), varying.end())) {
      if (key == "method") continue;
      std::map<std::string, std::set<std::string>> per_method;
      for (const auto& r : runs) per_method[value_of(r, "method")].insert(value_of(r, key));
      const bool fixed_by_method = std::all_of(per_method.begin(), per_method.end(),
                                               [](const auto& m) { return m.second.size() == 1; });
      if (!fixed_by_method) continue;
      varying.erase(key);
      table.setting_keys.push_back(key);
      table.setting_titles.push_back(title_of(key));
    }
  }
  for (const auto& [key, title] : kNamedKeys) {
    if (varying.count(key)) {
      table.row_keys.push_back(key);
      table.row_titles.push_back(title);
    }
  }
  for (const auto& key : varying) {
    if (std::find(table.row_keys.begin(), table.row_keys.end(), key) == table.row_keys.end()) {
      table.row_keys.push_back(key);
      table.row_titles.push_back(key);
    }
  }

  // The layout follows the most specific ablation among the varying keys.
  auto varies = [&](const std::string& key) { return varying.count(key) > 0; };
  if (varying.empty()) {
    table.layout = "single";
    table.title = fmt::format("{}: one setting", experiment);
  } else if (varies("augment.crops")) {
    table.layout = "multicrop";
    table.title = fmt::format("Multi-crop ablation ({})", experiment);
  } else if (varies("swav.epsilon")) {
    table.layout = "epsilon";
    table.title = fmt::format("Sinkhorn epsilon ablation ({})", experiment);
  } else if (varies("model.prototypes")) {
    table.layout = "prototypes";
    table.title = fmt::format("Number of prototypes ablation ({})", experiment);
  } else if (varies("train.batch_size") || varies("swav.queue_length")) {
    table.layout = "batch_queue";
    table.title = fmt::format("Batch size and queue ablation ({})", experiment);
  } else if (varies("method")) {
    table.layout = "method";
    table.title = fmt::format("Method comparison ({})", experiment);
  } else {
    table.layout = "sweep";
    table.title = fmt::format("Sweep over {} ({})", join(table.row_keys, ", "), experiment);
  }
  if (table.row_keys.empty()) table.row_titles = {"Experiment"};

  // Columns present in any run, in a fixed order.
  std::map<ColumnOrder, Column> ordered;
  for (const auto& r : runs) {
    for (const auto& [id, value] : r.evals) {
      const auto slash = id.rfind('/');
      Column column;
      ColumnOrder order;
      if (eval_column_ordered(id.substr(0, slash), id.substr(slash + 1), column, order))
        ordered[order] = column;
    }
  }
  for (const auto& [order, column] : ordered) table.columns.push_back(column);
  bool any_seconds = false, any_usage = false;
  for (const auto& r : runs) {
    any_seconds |= !r.epoch_seconds.empty();
    any_usage |= r.prototype_usage >= 0;
  }
  if (any_seconds) table.columns.push_back({"metric:seconds", "s/epoch", Kind::kSeconds});
  if (any_usage) table.columns.push_back({"metric:prototype_usage", "Proto usage", Kind::kUsage});

  // Rows: runs grouped by their values of the varying keys.
  std::map<std::vector<std::string>, std::vector<const RunData*>> groups;
  for (const auto& r : runs) {
    std::vector<std::string> labels;
    for (const auto& key : table.row_keys) labels.push_back(value_of(r, key));
    if (table.row_keys.empty()) labels.push_back(experiment);
    groups[labels].push_back(&r);
  }
  for (const auto& [labels, members] : groups) {
    Row row;
    row.labels = labels;
    for (const auto& key : table.setting_keys) row.settings.push_back(value_of(*members[0], key));
    for (const auto* r : members) {
      row.run_ids.push_back(r->run.id);
      if (r->collapse == 0) continue;
      std::vector<std::string> kinds;
      if (r->collapse & 1) kinds.push_back("loss at ln K");
      if (r->collapse & 2) kinds.push_back("prototype usage below 50%");
      row.collapses.push_back(fmt::format("run {}: {}, from epoch {}", r->run.id,
                                          join(kinds, " and "), r->collapse_epoch + 1));
    }
    for (const auto& column : table.columns) {
      std::vector<double> values;
      for (const auto* r : members) {
        if (column.id == "metric:seconds") {
          if (!r->epoch_seconds.empty()) values.push_back(summarize(r->epoch_seconds).mean);
        } else if (column.id == "metric:prototype_usage") {
          if (r->prototype_usage >= 0) values.push_back(r->prototype_usage);
        } else {
          auto it = r->evals.find(column.id.substr(5));
          if (it != r->evals.end() && std::isfinite(it->second)) values.push_back(it->second);
        }
      }
      row.cells.push_back(summarize(values));
    }
    table.rows.push_back(std::move(row));
  }
  std::sort(table.rows.begin(), table.rows.end(), [](const Row& a, const Row& b) {
    return std::lexicographical_compare(a.labels.begin(), a.labels.end(), b.labels.begin(),
                                        b.labels.end(), natural_less);
  });
  return table;
}

namespace {

// Each method's settings (Table::setting_keys) once, in row order: (method, values).
std::vector<std::pair<std::string, std::vector<std::string>>> method_settings(const Table& table) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  if (table.setting_keys.empty()) return out;
  const auto at = std::find(table.row_keys.begin(), table.row_keys.end(), "method");
  if (at == table.row_keys.end()) return out;
  const auto m = static_cast<size_t>(at - table.row_keys.begin());
  std::set<std::string> seen;
  for (const auto& row : table.rows)
    if (seen.insert(row.labels[m]).second) out.emplace_back(row.labels[m], row.settings);
  return out;
}

}  // namespace

std::string render(const Table& table, Format format) {
  // Best of each column (as shown), marked when at least two rows have a value.
  std::vector<std::vector<bool>> best(table.rows.size(),
                                      std::vector<bool>(table.columns.size(), false));
  for (size_t c = 0; c < table.columns.size(); ++c) {
    const Kind kind = table.columns[c].kind;
    const bool lower = kind == Kind::kSeconds;
    int present = 0;
    double target = 0;
    for (const auto& row : table.rows) {
      if (row.cells[c].n == 0) continue;
      const double v = shown(row.cells[c], kind);
      if (present++ == 0 || (lower ? v < target : v > target)) target = v;
    }
    if (present < 2) continue;
    for (size_t r = 0; r < table.rows.size(); ++r)
      best[r][c] = table.rows[r].cells[c].n > 0 && shown(table.rows[r].cells[c], kind) == target;
  }

  const char* pm = format == Format::kMarkdown ? " ± "
                   : format == Format::kLatex  ? " $\\pm$ "
                                               : " +- ";
  auto cell_text = [&](const Row& row, size_t c) {
    const Stat& s = row.cells[c];
    const Kind kind = table.columns[c].kind;
    if (s.n == 0) return std::string(format == Format::kLatex ? "--" : "-");
    std::string text = fixed(s.mean * scale(kind), decimals(kind));
    if (s.n > 1) text += pm + fixed(s.std * scale(kind), decimals(kind));
    if (s.n < static_cast<int64_t>(row.run_ids.size())) text += fmt::format(" (n={})", s.n);
    return text;
  };
  auto count_text = [](const Row& row) { return std::to_string(row.run_ids.size()); };
  // Rows with a run the collapse watch flagged are marked, and the flags listed under the table.
  std::vector<std::string> collapse_notes;
  for (const auto& row : table.rows)
    collapse_notes.insert(collapse_notes.end(), row.collapses.begin(), row.collapses.end());
  const std::string collapse_legend =
      "the collapse watch flagged a run of this row during training (metric 'collapse' in the "
      "store): ";

  std::string out;
  const std::string legend =
      "top-1 accuracies in %, NMI and ARI in [0, 1], s/epoch = mean training seconds per epoch, "
      "proto usage = share of prototypes used in the last epoch (%); each cell is the mean";
  if (format == Format::kMarkdown) {
    out += fmt::format("### {}\n\n", table.title);
    out += fmt::format(
        "Experiment `{}`, {} finished run(s); {} ± std over the row's n seeds; best "
        "per column in bold.\n\n",
        table.experiment,
        [&] {
          size_t n = 0;
          for (const auto& r : table.rows) n += r.run_ids.size();
          return n;
        }(),
        legend);
    std::vector<std::string> header = table.row_titles, rule;
    header.push_back("n");
    for (const auto& c : table.columns) header.push_back(c.title);
    for (size_t i = 0; i < header.size(); ++i)
      rule.push_back(i < table.row_titles.size() ? ":--" : "--:");
    out += "| " + join(header, " | ") + " |\n|" + join(rule, "|") + "|\n";
    for (size_t r = 0; r < table.rows.size(); ++r) {
      std::vector<std::string> cells;
      for (const auto& label : table.rows[r].labels) {
        std::string escaped;
        for (char ch : label) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
        cells.push_back(escaped);
      }
      if (!table.rows[r].collapses.empty()) cells.back() += " †";
      cells.push_back(count_text(table.rows[r]));
      for (size_t c = 0; c < table.columns.size(); ++c) {
        const std::string text = cell_text(table.rows[r], c);
        cells.push_back(best[r][c] ? "**" + text + "**" : text);
      }
      out += "| " + join(cells, " | ") + " |\n";
    }
    if (!collapse_notes.empty())
      out += "\n† " + collapse_legend + join(collapse_notes, "; ") + ".\n";
    const auto settings = method_settings(table);
    if (!settings.empty()) {
      out += "\nSettings that differ between methods (each method's own, not ablated):\n\n";
      std::vector<std::string> head = {"Method"}, rule = {":--"};
      for (const auto& t : table.setting_titles) {
        head.push_back(t);
        rule.push_back(":--");
      }
      out += "| " + join(head, " | ") + " |\n|" + join(rule, "|") + "|\n";
      for (const auto& [method, values] : settings) {
        std::vector<std::string> cells = {method};
        cells.insert(cells.end(), values.begin(), values.end());
        out += "| " + join(cells, " | ") + " |\n";
      }
    }
  } else if (format == Format::kLatex) {
    out += fmt::format("% {} -- generated by make_tables from the results store; needs booktabs.\n",
                       table.title);
    out += "\\begin{table}[t]\n\\centering\n";
    out += fmt::format(
        "\\caption{{{}: {} $\\pm$ std over the row's $n$ seeds; best per column in "
        "bold.}}\n",
        latex_escape(table.title), latex_escape(legend));
    out += fmt::format("\\label{{tab:{}}}\n", table.experiment);  // labels take _ as is
    out += "\\begin{tabular}{" + std::string(table.row_titles.size(), 'l') + "r" +
           std::string(table.columns.size(), 'r') + "}\n\\toprule\n";
    std::vector<std::string> header;
    for (const auto& t : table.row_titles) header.push_back(latex_escape(t));
    header.push_back("$n$");
    for (const auto& c : table.columns) header.push_back(latex_escape(c.title));
    out += join(header, " & ") + " \\\\\n\\midrule\n";
    for (size_t r = 0; r < table.rows.size(); ++r) {
      std::vector<std::string> cells;
      for (const auto& label : table.rows[r].labels) cells.push_back(latex_escape(label));
      if (!table.rows[r].collapses.empty()) cells.back() += "$^\\dagger$";
      cells.push_back(count_text(table.rows[r]));
      for (size_t c = 0; c < table.columns.size(); ++c) {
        const std::string text = cell_text(table.rows[r], c);
        cells.push_back(best[r][c] ? "\\textbf{" + text + "}" : text);
      }
      out += join(cells, " & ") + " \\\\\n";
    }
    out += "\\bottomrule\n\\end{tabular}\n\\end{table}\n";
    if (!collapse_notes.empty())
      out += "% $\\dagger$: " + collapse_legend + join(collapse_notes, "; ") + "\n";
    for (const auto& [method, values] : method_settings(table)) {
      std::vector<std::string> pairs;
      for (size_t i = 0; i < values.size(); ++i)
        pairs.push_back(table.setting_titles[i] + " = " + values[i]);
      out += fmt::format("% settings of {}: {}\n", method, join(pairs, ", "));
    }
  } else {
    std::vector<std::string> header;
    for (const auto& t : table.row_titles) header.push_back(csv_field(t));
    for (const auto& t : table.setting_titles) header.push_back(csv_field(t));
    header.push_back("n");
    for (const auto& c : table.columns) header.push_back(csv_field(c.title));
    if (!collapse_notes.empty()) header.push_back("collapse");
    out += join(header, ",") + "\n";
    for (size_t r = 0; r < table.rows.size(); ++r) {
      std::vector<std::string> cells;
      for (const auto& label : table.rows[r].labels) cells.push_back(csv_field(label));
      for (const auto& value : table.rows[r].settings) cells.push_back(csv_field(value));
      cells.push_back(count_text(table.rows[r]));
      for (size_t c = 0; c < table.columns.size(); ++c)
        cells.push_back(csv_field(cell_text(table.rows[r], c) + (best[r][c] ? "*" : "")));
      if (!collapse_notes.empty()) cells.push_back(csv_field(join(table.rows[r].collapses, "; ")));
      out += join(cells, ",") + "\n";
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> plots(const Table& table,
                                                       const std::vector<RunData>& runs) {
  std::vector<std::pair<std::string, std::string>> out;
  // Loss per run, in table row order.
  std::map<int64_t, const RunData*> by_id;
  for (const auto& r : runs) by_id[r.run.id] = &r;
  std::vector<Series> losses;
  for (const auto& row : table.rows) {
    for (int64_t id : row.run_ids) {
      const RunData* r = by_id.at(id);
      if (r->loss.empty()) continue;
      std::string label;
      for (size_t j = 0; j < table.row_keys.size(); ++j)
        label += table.row_titles[j] + "=" + row.labels[j] + ", ";
      losses.push_back({label + fmt::format("seed {}", r->run.seed), r->loss});
    }
  }
  if (!losses.empty()) {
    ChartOptions o;
    o.title = fmt::format("Training loss ({})", table.experiment);
    o.x_label = "epoch";
    o.y_label = "loss";
    out.emplace_back(table.experiment + "_loss.svg", line_chart(losses, o));
  }
  // Accuracy against each numeric swept key.
  for (size_t k = 0; k < table.row_keys.size(); ++k) {
    std::set<double> xs;
    bool numeric = true;
    for (const auto& row : table.rows) {
      double x = 0;
      numeric &= parse_number(row.labels[k], x);
      xs.insert(x);
    }
    if (!numeric || xs.size() < 2) continue;
    // One series per (accuracy column, setting of the other keys).
    std::map<std::pair<size_t, std::string>, Series> series;
    for (const auto& row : table.rows) {
      std::vector<std::string> others;
      for (size_t j = 0; j < row.labels.size(); ++j)
        if (j != k) others.push_back(table.row_titles[j] + "=" + row.labels[j]);
      const std::string rest = join(others, ", ");
      double x = 0;
      parse_number(row.labels[k], x);
      for (size_t c = 0; c < table.columns.size(); ++c) {
        if (table.columns[c].kind != Kind::kPercent || row.cells[c].n == 0) continue;
        auto& s = series[{c, rest}];
        s.label = table.columns[c].title + (rest.empty() ? "" : " (" + rest + ")");
        s.points.emplace_back(x, 100 * row.cells[c].mean);
      }
    }
    std::vector<Series> lines;
    for (auto& [key, s] : series) {
      std::sort(s.points.begin(), s.points.end());
      lines.push_back(s);
    }
    if (lines.empty()) continue;
    ChartOptions o;
    o.title = fmt::format("Top-1 accuracy vs {} ({})", table.row_titles[k], table.experiment);
    o.x_label = table.row_keys[k];
    o.y_label = "top-1 accuracy (%)";
    o.log_x = *xs.begin() > 0 && *xs.rbegin() / *xs.begin() >= 10;
    std::string file = table.row_keys[k];
    std::replace(file.begin(), file.end(), '.', '_');
    out.emplace_back(table.experiment + "_" + file + ".svg", line_chart(lines, o));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> generate(const Store& store,
                                                          const std::vector<std::string>& names,
                                                          Format format, bool with_plots) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& name : names.empty() ? experiments(store) : names) {
    const auto runs = load_runs(store, name);
    const Table table = build_table(name, runs);
    out.emplace_back(name + "." + extension(format), render(table, format));
    if (with_plots) {
      for (auto& plot : plots(table, runs)) out.push_back(std::move(plot));
    }
  }
  return out;
}

}  // namespace swav::report
