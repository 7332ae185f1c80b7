// Range and cross-field checks of resolved options. Comparisons are written so that NaN fails them.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "swav/config/config.h"
#include "swav/config/detail.h"
#include "swav/util/error.h"

namespace swav::config_detail {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + toml_string(s);
  return out;
}

bool is_device(const std::string& d) {
  if (d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
  return std::all_of(d.begin() + 5, d.end(), [](unsigned char c) { return std::isdigit(c); });
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

void check_data(const Checker& c, const DataOptions& d) {
  c.one_of(d.format, {"fashion_mnist", "cifar_binary", "image_folder", "synthetic"}, "data.format");
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
  c.at_least(d.image_size, 0, "data.image_size");
  c.at_least(d.train_limit, 0, "data.train_limit");
  c.at_least(d.test_limit, 0, "data.test_limit");
  c.at_least(d.synthetic_classes, 2, "data.synthetic_classes");
  c.at_least(d.synthetic_train_per_class, 1, "data.synthetic_train_per_class");
  c.at_least(d.synthetic_test_per_class, 1, "data.synthetic_test_per_class");
  c.at_least(d.synthetic_size, 1, "data.synthetic_size");
  c.require(d.synthetic_channels == 1 || d.synthetic_channels == 3, "data.synthetic_channels",
            std::to_string(d.synthetic_channels), "must be 1 or 3");
}

void check_augment(const Checker& c, const AugmentOptions& a) {
  c.require(!a.crops.empty(), "augment.crops", "[]", "needs at least one crop group");
  for (size_t i = 0; i < a.crops.size(); ++i) {
    const auto& crop = a.crops[i];
    const std::string key = fmt::format("augment.crops[{}]", i);
    c.at_least(crop.size, 1, key + ".size");
    c.at_least(crop.count, 1, key + ".count");
    c.require(crop.min_scale > 0 && crop.min_scale <= crop.max_scale && crop.max_scale <= 1, key,
              toml_crop(crop), "needs 0 < min_scale <= max_scale <= 1");
  }
  c.positive(a.min_ratio, "augment.min_ratio");
  c.require(a.max_ratio >= a.min_ratio, "augment.max_ratio", toml_float(a.max_ratio),
            fmt::format("must be >= augment.min_ratio ({})", toml_float(a.min_ratio)));
  c.probability(a.flip_prob, "augment.flip_prob");
  c.probability(a.jitter_prob, "augment.jitter_prob");
  c.non_negative(a.brightness, "augment.brightness");
  c.non_negative(a.contrast, "augment.contrast");
  c.non_negative(a.saturation, "augment.saturation");
  c.require(a.hue >= 0 && a.hue <= 0.5, "augment.hue", toml_float(a.hue), "must be in [0, 0.5]");
  c.probability(a.grayscale_prob, "augment.grayscale_prob");
  c.probability(a.blur_prob, "augment.blur_prob");
  c.positive(a.blur_sigma_min, "augment.blur_sigma_min");
  c.require(a.blur_sigma_max >= a.blur_sigma_min, "augment.blur_sigma_max",
            toml_float(a.blur_sigma_max),
            fmt::format("must be >= augment.blur_sigma_min ({})", toml_float(a.blur_sigma_min)));
  c.require(a.mean.size() == 1 || a.mean.size() == 3, "augment.mean", toml_array(a.mean),
            "needs 1 entry (one channel) or 3 (RGB)");
  c.require(a.std.size() == a.mean.size(), "augment.std", toml_array(a.std),
            fmt::format("needs as many entries as augment.mean ({})", a.mean.size()));
  for (size_t i = 0; i < a.std.size(); ++i) c.positive(a.std[i], fmt::format("augment.std[{}]", i));
  c.require(a.device == "cpu" || a.device == "cuda", "augment.device", toml_string(a.device),
            "must be \"cpu\" or \"cuda\"");
  c.at_least(a.workers, 0, "augment.workers");
  c.at_least(a.prefetch, 1, "augment.prefetch");
}

void check_model(const Checker& c, const ModelOptions& m) {
  c.one_of(m.arch, {"resnet18", "resnet50", "convnet"}, "model.arch");
  c.one_of(m.stem, {"imagenet", "cifar"}, "model.stem");
  c.positive(m.width, "model.width");
  c.at_least(m.hidden_dim, 0, "model.hidden_dim");
  c.at_least(m.output_dim, 1, "model.output_dim");
  c.require(!m.prototypes.empty(), "model.prototypes", "[]", "needs at least one prototype head");
  for (size_t i = 0; i < m.prototypes.size(); ++i) {
    c.at_least(m.prototypes[i], 1, fmt::format("model.prototypes[{}]", i));
  }
}

void check_swav(const Checker& c, const SwavOptions& s, const AugmentOptions& a) {
  c.positive(s.epsilon, "swav.epsilon");
  c.at_least(s.sinkhorn_iterations, 1, "swav.sinkhorn_iterations");
  c.positive(s.temperature, "swav.temperature");
  int64_t total_crops = 0;
  for (const auto& crop : a.crops) total_crops += crop.count;
  const std::string assign = toml_array(s.crops_for_assign);
  c.require(!s.crops_for_assign.empty(), "swav.crops_for_assign", assign,
            "needs at least one crop index");
  std::set<int64_t> seen;
  for (int64_t index : s.crops_for_assign) {
    c.require(index >= 0 && index < total_crops, "swav.crops_for_assign", assign,
              fmt::format("index {} is outside the {} crops of augment.crops (valid: 0..{})", index,
                          total_crops, total_crops - 1));
    c.require(seen.insert(index).second, "swav.crops_for_assign", assign,
              fmt::format("index {} appears twice", index));
  }
  c.at_least(s.queue_length, 0, "swav.queue_length");
  c.at_least(s.epoch_queue_starts, 0, "swav.epoch_queue_starts");
  c.at_least(s.freeze_prototypes_niters, 0, "swav.freeze_prototypes_niters");
}

void check_optim(const Checker& c, const OptimOptions& o, const TrainOptions& t) {
  c.non_negative(o.base_lr, "optim.base_lr");
  c.non_negative(o.final_lr, "optim.final_lr");
  c.non_negative(o.start_warmup, "optim.start_warmup");
  c.at_least(o.warmup_epochs, 0, "optim.warmup_epochs");
  c.require(o.warmup_epochs <= t.epochs, "optim.warmup_epochs", std::to_string(o.warmup_epochs),
            fmt::format("must be <= train.epochs ({})", t.epochs));
  c.momentum(o.momentum, "optim.momentum");
  c.non_negative(o.weight_decay, "optim.weight_decay");
  c.positive(o.larc_trust, "optim.larc_trust");
  c.positive(o.larc_eps, "optim.larc_eps");
}

void check_train(const Checker& c, const TrainOptions& t) {
  c.at_least(t.epochs, 1, "train.epochs");
  c.at_least(t.batch_size, 1, "train.batch_size");
  c.require(is_device(t.device), "train.device", toml_string(t.device),
            "must be \"cpu\", \"cuda\" or \"cuda:N\"");
  c.at_least(t.seed, 0, "train.seed");
  c.at_least(t.threads, 0, "train.threads");
  c.at_least(t.checkpoint_every, 1, "train.checkpoint_every");
  c.at_least(t.log_every, 1, "train.log_every");
  c.require(t.precision == "fp32" || t.precision == "bf16", "train.precision",
            toml_string(t.precision), "must be \"fp32\" or \"bf16\"");
  c.require(t.precision == "fp32" || t.device != "cpu", "train.precision", toml_string(t.precision),
            "bf16 autocast needs train.device = \"cuda\"");
}

void check_eval(const Checker& c, const EvalOptions& e) {
  for (size_t i = 0; i < e.knn_k.size(); ++i)
    c.at_least(e.knn_k[i], 1, fmt::format("eval.knn_k[{}]", i));
  c.positive(e.knn_temperature, "eval.knn_temperature");
  c.at_least(e.linear_epochs, 1, "eval.linear_epochs");
  c.positive(e.linear_lr, "eval.linear_lr");
  c.momentum(e.linear_momentum, "eval.linear_momentum");
  c.non_negative(e.linear_weight_decay, "eval.linear_weight_decay");
  c.at_least(e.linear_batch_size, 1, "eval.linear_batch_size");
  c.at_least(e.batch_size, 1, "eval.batch_size");
}

}  // namespace

void validate_options(const ExperimentOptions& o,
                      const std::function<std::string(const std::string&)>& locate) {
  Checker c(locate);
  c.require(!o.name.empty() && o.name != "." && o.name != ".." &&
                o.name.find_first_of("/\\") == std::string::npos,
            "name", toml_string(o.name),
            "must be a non-empty name without '/' (it names runs/<name>)");
  c.one_of(o.method, known_methods(), "method");
  check_data(c, o.data);
  check_augment(c, o.augment);
  check_model(c, o.model);
  check_swav(c, o.swav, o.augment);
  check_optim(c, o.optim, o.train);
  check_train(c, o.train);
  c.require(o.augment.device == "cpu" || o.train.device != "cpu", "augment.device",
            toml_string(o.augment.device), "\"cuda\" needs train.device = \"cuda\"");
  check_eval(c, o.eval);
}

}  // namespace swav::config_detail
