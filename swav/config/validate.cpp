// Range and cross-field checks of resolved options. Comparisons are written so that NaN fails them.
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string_view>
#include <type_traits>

#include "swav/config/config.h"
#include "swav/config/detail.h"
#include "swav/config/fields.h"
#include "swav/util/error.h"

namespace swav::config_detail {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + toml_string(s);
  return out;
}

/// Throws "<where>: <key> = <value>: <rule>" when a rule does not hold.
class Checker {
 public:
  explicit Checker(const std::function<std::string(const std::string&)>& locate)
      : locate_(locate) {}

  void require(bool ok, const std::string& key, const std::string& value,
               const std::string& rule) const {
    if (!ok) fail("{}: {} = {}: {}", locate_(key), key, value, rule);
  }
  void at_least(int64_t v, int64_t min, const std::string& key) const {
    require(v >= min, key, std::to_string(v), fmt::format("must be >= {}", min));
  }
  void positive(double v, const std::string& key) const {
    require(v > 0, key, toml_float(v), "must be > 0");
  }
  void non_negative(double v, const std::string& key) const {
    require(v >= 0, key, toml_float(v), "must be >= 0");
  }
  void probability(double v, const std::string& key) const {
    require(v >= 0 && v <= 1, key, toml_float(v), "must be a probability in [0, 1]");
  }
  void momentum(double v, const std::string& key) const {
    require(v >= 0 && v < 1, key, toml_float(v), "must be in [0, 1)");
  }
  void one_of(const std::string& v, const std::vector<std::string>& allowed,
              const std::string& key) const {
    require(std::find(allowed.begin(), allowed.end(), v) != allowed.end(), key, toml_string(v),
            "must be one of " + join(allowed));
  }

 private:
  const std::function<std::string(const std::string&)>& locate_;
};

/// Applies the rules of fields.h to every key they describe. A section owned by a method (see
/// MethodInfo) is checked only when that method runs: a SwAV run ignores [pcl].
class FieldChecker {
 public:
  FieldChecker(const Checker& c, std::string prefix, const std::string& method)
      : c_(c), prefix_(std::move(prefix)), method_(method) {}

  template <class T, class... Rules>
  void key(std::string_view name, const T& value, const char*, const Rules&... rules) {
    const std::string key = path(name);
    (apply(key, value, rules), ...);
  }
  template <class S>
  void section(std::string_view name, const S& options, const char*) {
    for (const auto& m : method_infos()) {
      if (name == m.section && method_ != m.name) return;
    }
    FieldChecker sub(c_, path(name), method_);
    describe(sub, options);
  }
  template <class S>
  void inline_tables(std::string_view name, const std::vector<S>& tables, const char*) {
    elements(name, tables);
  }
  template <class S>
  void table_sections(std::string_view name, const std::vector<S>& tables, const char*) {
    elements(name, tables);
  }

 private:
  template <class S>
  void elements(std::string_view name, const std::vector<S>& tables) {
    for (size_t i = 0; i < tables.size(); ++i) {
      FieldChecker sub(c_, fmt::format("{}[{}]", path(name), i), method_);
      describe(sub, tables[i]);
    }
  }
  std::string path(std::string_view name) const {
    return prefix_.empty() ? std::string(name) : prefix_ + "." + std::string(name);
  }

  // Numeric rules on an array apply to each element.
  template <class Rule>
  static constexpr bool kNumeric =
      std::is_same_v<Rule, AtLeast> || std::is_same_v<Rule, Positive> ||
      std::is_same_v<Rule, NonNegative> || std::is_same_v<Rule, Probability> ||
      std::is_same_v<Rule, Momentum> || std::is_same_v<Rule, Between>;
  template <class T, class Rule, std::enable_if_t<kNumeric<Rule>, int> = 0>
  void apply(const std::string& key, const std::vector<T>& values, const Rule& rule) {
    for (size_t i = 0; i < values.size(); ++i)
      apply(fmt::format("{}[{}]", key, i), values[i], rule);
  }
  void apply(const std::string& key, int64_t v, const AtLeast& r) { c_.at_least(v, r.min, key); }
  void apply(const std::string& key, double v, const Positive&) { c_.positive(v, key); }
  void apply(const std::string& key, double v, const NonNegative&) { c_.non_negative(v, key); }
  void apply(const std::string& key, double v, const Probability&) { c_.probability(v, key); }
  void apply(const std::string& key, double v, const Momentum&) { c_.momentum(v, key); }
  void apply(const std::string& key, double v, const Between& r) {
    const bool low = r.open_low ? v > r.low : v >= r.low;
    const bool high = r.open_high ? v < r.high : v <= r.high;
    c_.require(low && high, key, toml_float(v), r.rule);
  }
  void apply(const std::string& key, const std::string& v, const OneOf& r) {
    c_.one_of(v, r.allowed, key);
  }
  template <class T>
  void apply(const std::string& key, const std::vector<T>& v, const NotEmpty& r) {
    c_.require(!v.empty(), key, "[]", r.rule);
  }
  template <class T>
  void apply(const std::string& key, const T& v, const Satisfies<T>& r) {
    c_.require(r.ok(v), key, text(v), r.rule);
  }
  template <class T>
  void apply(const std::string&, const T&, const NotHashed&) {}
  template <class T>
  void apply(const std::string&, const T&, const HashedUnlessDefault&) {}

  static std::string text(const std::string& v) { return toml_string(v); }
  static std::string text(int64_t v) { return std::to_string(v); }
  static std::string text(const std::vector<double>& v) { return toml_array(v); }

  const Checker& c_;
  std::string prefix_;
  const std::string& method_;
};

// --- rules that relate keys (each key's own rules are in fields.h) -----------------------------

void check_data(const Checker& c, const DataOptions& d) {
  if (d.format != "synthetic") {
    c.require(
        !d.root.empty(), "data.root", toml_string(d.root),
        fmt::format("must name the dataset folder (data.format = {})", toml_string(d.format)));
  }
  if (d.format == "image_folder") {
    c.require(!d.train_split.empty(), "data.train_split", toml_string(d.train_split),
              "must not be empty");
    c.require(!d.test_split.empty(), "data.test_split", toml_string(d.test_split),
              "must not be empty");
  }
  if (d.decode == "stream") {
    c.require(d.format == "image_folder", "data.decode", toml_string(d.decode),
              fmt::format("\"stream\" reads image folders only (data.format = {})",
                          toml_string(d.format)));
    c.require(d.image_size > 0, "data.decode", toml_string(d.decode),
              "\"stream\" needs data.image_size > 0: the side of the evaluation views");
  }
  c.require(!d.skip_corrupt || d.decode == "stream", "data.skip_corrupt", "true",
            "applies to data.decode = \"stream\" (the cache decodes every file before training)");
}

void check_augment(const Checker& c, const AugmentOptions& a) {
  c.require(!a.crops.empty(), "augment.crops", "[]", "needs at least one crop group");
  for (size_t i = 0; i < a.crops.size(); ++i) {
    const auto& crop = a.crops[i];
    c.require(crop.min_scale > 0 && crop.min_scale <= crop.max_scale && crop.max_scale <= 1,
              fmt::format("augment.crops[{}]", i), toml_crop(crop),
              "needs 0 < min_scale <= max_scale <= 1");
  }
  // Crops are numbered group by group; the large views come first, as in the paper (2x224 + 6x96):
  // crops_for_assign = [0, 1] then names the large ones.
  for (size_t i = 1; i < a.crops.size(); ++i) {
    c.require(a.crops[i].size <= a.crops[i - 1].size, fmt::format("augment.crops[{}].size", i),
              std::to_string(a.crops[i].size),
              fmt::format("crop groups must be ordered from large to small (augment.crops[{}].size "
                          "is {})",
                          i - 1, a.crops[i - 1].size));
  }
  c.require(a.max_ratio >= a.min_ratio, "augment.max_ratio", toml_float(a.max_ratio),
            fmt::format("must be >= augment.min_ratio ({})", toml_float(a.min_ratio)));
  c.require(a.blur_sigma_max >= a.blur_sigma_min, "augment.blur_sigma_max",
            toml_float(a.blur_sigma_max),
            fmt::format("must be >= augment.blur_sigma_min ({})", toml_float(a.blur_sigma_min)));
  c.require(a.std.size() == a.mean.size(), "augment.std", toml_array(a.std),
            fmt::format("needs as many entries as augment.mean ({})", a.mean.size()));
}

/// Normalisation statistics need one entry, or one per image channel, where the format fixes the
/// channels.
void check_channels(const Checker& c, const DataOptions& d, const AugmentOptions& a) {
  int64_t channels = 0;
  if (d.format == "fashion_mnist") channels = 1;
  if (d.format == "cifar_binary") channels = 3;
  if (d.format == "synthetic") channels = d.synthetic_channels;
  if (channels == 0) return;  // image_folder: known only when the images are read
  const auto n = static_cast<int64_t>(a.mean.size());
  c.require(
      n == 1 || n == channels, "augment.mean", toml_array(a.mean),
      channels == 1
          ? fmt::format("needs 1 entry for data.format = {} (1 channel)", toml_string(d.format))
          : fmt::format("needs 1 entry (used for every channel) or {} for data.format = "
                        "{} ({} channels)",
                        channels, toml_string(d.format), channels));
}

int64_t total_crops(const AugmentOptions& a) {
  int64_t total = 0;
  for (const auto& crop : a.crops) total += crop.count;
  return total;
}

void check_assign_crops(const Checker& c, const std::vector<int64_t>& crops,
                        const AugmentOptions& a, const std::string& key) {
  const int64_t total = total_crops(a);
  const std::string value = toml_array(crops);
  c.require(!crops.empty(), key, value, "needs at least one crop index");
  std::set<int64_t> seen;
  for (int64_t index : crops) {
    c.require(index >= 0 && index < total, key, value,
              fmt::format("index {} is outside the {} crops of augment.crops (valid: 0..{})", index,
                          total, total - 1));
    c.require(seen.insert(index).second, key, value, fmt::format("index {} appears twice", index));
  }
}

void check_swav(const Checker& c, const SwavOptions& s, const AugmentOptions& a,
                const TrainOptions& t) {
  const int64_t crops = total_crops(a);
  check_assign_crops(c, s.crops_for_assign, a, "swav.crops_for_assign");
  c.require(crops >= 2, "augment.crops", std::to_string(crops) + " crop(s)",
            "needs at least 2 crops in total (each assigned crop is predicted from the others)");
  // The queue holds whole batches: when it is created its length is rounded down to a multiple of
  // the global batch (train.batch_size x processes), as in the reference. A length that is not a
  // multiple of train.batch_size would silently lose its remainder, so it is refused, except below
  // one batch: that rounds to 0, no queue, as the reference does with the batch-4096 recipe (3840).
  if (s.queue_length > 0) {
    c.require(s.queue_length < t.batch_size || s.queue_length % t.batch_size == 0,
              "swav.queue_length", std::to_string(s.queue_length),
              fmt::format("must be a multiple of train.batch_size ({}): the queue holds whole "
                          "batches (a length below one batch means no queue)",
                          t.batch_size));
    c.require(s.epoch_queue_starts < t.epochs, "swav.epoch_queue_starts",
              std::to_string(s.epoch_queue_starts),
              fmt::format("must be < train.epochs ({}) when swav.queue_length > 0, else the queue "
                          "is never used (set queue_length = 0 for no queue)",
                          t.epochs));
  }
}

// Baselines: each is checked only when its method runs (a SwAV run ignores [pcl]).
void check_baselines(const Checker& c, const ExperimentOptions& o) {
  const int64_t crops = total_crops(o.augment);
  if (o.method == "simclr" || o.method == "pcl") {
    c.require(crops >= 2, "augment.crops", std::to_string(crops) + " crops",
              fmt::format("method '{}' compares views: it needs at least 2 crops", o.method));
  }
  if (o.method == "deepcluster_v2") {
    check_assign_crops(c, o.deepcluster.crops_for_assign, o.augment,
                       "deepcluster.crops_for_assign");
  }
  if (o.method == "deepcluster_v1") {
    c.require(o.model.prototypes.size() == 1, "model.prototypes", toml_array(o.model.prototypes),
              "method 'deepcluster_v1' has one classifier: give one cluster count, e.g. [10000]");
  }
  if (o.method == "sela_v2") {
    check_assign_crops(c, o.sela_v2.crops_for_assign, o.augment, "sela_v2.crops_for_assign");
  }
}

void check_optim(const Checker& c, const OptimOptions& o, const TrainOptions& t) {
  c.require(o.warmup_epochs <= t.epochs, "optim.warmup_epochs", std::to_string(o.warmup_epochs),
            fmt::format("must be <= train.epochs ({})", t.epochs));
}

void check_train(const Checker& c, const TrainOptions& t) {
  c.require(t.precision == "fp32" || t.device != "cpu", "train.precision", toml_string(t.precision),
            "bf16 autocast needs train.device = \"cuda\"");
}

void check_eval(const Checker& c, const EvalOptions& e) {
  c.require(!e.semi_fractions.empty() || !e.semi_supervised, "eval.semi_fractions", "[]",
            "needs at least one fraction when eval.semi_supervised = true");
  std::set<std::string> names;
  for (size_t i = 0; i < e.transfer.size(); ++i) {
    const auto& t = e.transfer[i];
    const std::string key = fmt::format("eval.transfer[{}]", i);
    c.require(names.insert(t.name).second, key + ".name", toml_string(t.name),
              "names another [[eval.transfer]] too");
    if (t.data.format != "synthetic")
      c.require(!t.data.root.empty(), key + ".root", toml_string(t.data.root),
                "must name the dataset folder");
    c.require(t.std.size() == t.mean.size(), key + ".std", toml_array(t.std),
              fmt::format("needs as many entries as {}.mean ({})", key, t.mean.size()));
  }
}

}  // namespace

void validate_options(const ExperimentOptions& o,
                      const std::function<std::string(const std::string&)>& locate) {
  Checker c(locate);
  // Each key's own rules first, so that a bad value is reported as itself and not through a rule
  // that relates it to another key (train.epochs = 0 is "must be >= 1", not a warm-up error).
  FieldChecker fields(c, "", o.method);
  describe(fields, o);
  check_data(c, o.data);
  check_augment(c, o.augment);
  check_train(c, o.train);
  if (o.method == "swav") check_swav(c, o.swav, o.augment, o.train);
  check_channels(c, o.data, o.augment);
  check_baselines(c, o);
  check_optim(c, o.optim, o.train);
  c.require(o.augment.device == "cpu" || o.train.device != "cpu", "augment.device",
            toml_string(o.augment.device), "\"cuda\" needs train.device = \"cuda\"");
  c.require(o.augment.device == "cpu" || o.data.decode != "stream", "augment.device",
            toml_string(o.augment.device),
            "\"cuda\" crops a decoded set held on the GPU; data.decode = \"stream\" decodes on "
            "the CPU workers");
  check_eval(c, o.eval);
}

}  // namespace swav::config_detail
