// Paper-style tables and plots regenerated from the results store (what apps/make_tables prints).
//
// One table per experiment, built from its finished runs:
//  - rows: the distinct settings of the config keys that differ between the runs (found by diffing
//    the stored resolved configs); train.seed is never a row key: runs differing only in the seed
//    share a row, which shows mean +- std (sample std) over them and their count n;
//  - columns: the evaluation metrics present (kNN per k, linear probe, SwAV linear, semi-supervised
//    per fraction, NMI / ARI, transfer), then seconds per epoch and the last epoch's prototype
//    usage from the metrics table;
//  - the best value of each column (highest, or lowest for time) is marked when a column has at
//    least two rows: bold in Markdown and LaTeX, a trailing '*' in CSV.
// A named layout (method comparison, multi-crop, epsilon, prototypes, batch size / queue) is chosen
// from the keys that vary and sets the title and the row-key headers. The output depends only on
// the store's contents: rows are sorted, numbers use fixed formats.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "swav/store/store.h"

namespace swav::report {

enum class Format { kMarkdown, kLatex, kCsv };

/// "md", "latex", "csv" -> Format; anything else throws UserError naming the value.
Format parse_format(const std::string& name);
/// The file extension of a format: "md", "tex", "csv".
std::string extension(Format format);

/// How a column's numbers are shown.
enum class Kind {
  kPercent,  // accuracy in [0, 1], shown x100 with 2 decimals
  kRatio,    // NMI, ARI: 3 decimals
  kSeconds,  // 1 decimal, lower is better
  kUsage,    // share in [0, 1], shown x100 with 1 decimal
};

struct Column {
  std::string id;     // "eval:knn/top1_k20", "metric:seconds", ...
  std::string title;  // "kNN k=20"
  Kind kind = Kind::kPercent;
};

/// The table column an `evals` row is shown in ("knn"/"top1_k20" -> "kNN k=20", "transfer:cifar:
/// linear"/"top1_best" -> "cifar linear", ...), or false for rows tables leave out (top1_last,
/// knn_init, raw cluster counts). The run report (run_report.h) names rows the same way.
bool eval_column(const std::string& protocol, const std::string& metric, Column& column);

/// Mean, sample standard deviation (0 for one value) and count of one cell's values.
struct Stat {
  double mean = 0, std = 0;
  int64_t n = 0;  // 0: no value (shown as "-")
};
Stat summarize(const std::vector<double>& values);

struct Row {
  std::vector<std::string> labels;     // one per row key, display form
  std::vector<std::string> settings;   // one per setting key, display form
  std::vector<int64_t> run_ids;        // the runs (seeds) pooled in this row, ascending
  std::vector<std::string> collapses;  // "run N: <what>, from epoch E" for each flagged run
  std::vector<Stat> cells;             // one per column
};

struct Table {
  std::string experiment;
  std::string layout;  // "single", "method", "multicrop", "epsilon", ...
  std::string title;
  std::vector<std::string> row_keys;    // config keys that vary (dotted paths)
  std::vector<std::string> row_titles;  // their headers
  // When the method varies: keys whose value the method alone fixes (each method's own heads,
  // learning rate, ...). They are each method's settings, not an ablation axis, so they make no
  // rows; Markdown lists them in a second table, LaTeX in comments, CSV as extra columns.
  std::vector<std::string> setting_keys;
  std::vector<std::string> setting_titles;
  std::vector<Column> columns;
  std::vector<Row> rows;
};

/// A finished run's data as the tables use it.
struct RunData {
  RunRecord run;
  std::map<std::string, std::string> config;    // flattened resolved config: dotted key -> text
  std::map<std::string, double> evals;          // "protocol/metric" -> value
  std::vector<std::pair<double, double>> loss;  // (epoch, loss)
  std::vector<double> epoch_seconds;
  double prototype_usage = -1;  // last epoch's, or -1 when not logged
  int collapse = 0;             // OR of the collapse watch's flags over the epochs (0 = none)
  int64_t collapse_epoch = -1;  // first flagged epoch (0-based), -1 when none
};

/// Flattens a resolved config (to_toml text) into dotted keys; values in display form (strings
/// unquoted, arrays without brackets, augment.crops as "2x224[0.14,1] + 6x96[0.05,0.14]").
/// Throws UserError naming `what` when the text is not TOML.
std::map<std::string, std::string> flatten_config(const std::string& toml_text,
                                                  const std::string& what);

/// Experiments with at least one finished run, sorted by name.
std::vector<std::string> experiments(const Store& store);

/// The finished runs of one experiment, loaded. Throws UserError when there are none.
std::vector<RunData> load_runs(const Store& store, const std::string& experiment);

/// The table of one experiment.
Table build_table(const std::string& experiment, const std::vector<RunData>& runs);

/// The table as Markdown (a heading, a one-line legend, a pipe table), LaTeX (a booktabs tabular
/// in a table environment) or CSV (one header line; mean +- std cells). Ends with a newline.
std::string render(const Table& table, Format format);

/// SVG plots of one experiment: "<experiment>_loss.svg" (training loss per epoch, one line per
/// run) and, for each numeric row key with at least two values, "<experiment>_<key>.svg"
/// (accuracy columns against that key's value; one line per column and setting of the other
/// keys). Returns (file name, SVG text) pairs.
std::vector<std::pair<std::string, std::string>> plots(const Table& table,
                                                       const std::vector<RunData>& runs);

/// Every output for the experiments `names` (all experiments with finished runs when empty):
/// "<experiment>.<md|tex|csv>" for each and, with `with_plots`, its plots. Throws UserError for a
/// name without finished runs.
std::vector<std::pair<std::string, std::string>> generate(const Store& store,
                                                          const std::vector<std::string>& names,
                                                          Format format, bool with_plots);

}  // namespace swav::report
