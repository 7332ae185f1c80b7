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
  // Crops are numbered group by group; the large views come first, as in the paper (2x224 + 6x96):
  // crops_for_assign = [0, 1] then names the large ones.
  for (size_t i = 1; i < a.crops.size(); ++i) {
    c.require(a.crops[i].size <= a.crops[i - 1].size, fmt::format("augment.crops[{}].size", i),
              std::to_string(a.crops[i].size),
              fmt::format("crop groups must be ordered from large to small (augment.crops[{}].size "
                          "is {})",
                          i - 1, a.crops[i - 1].size));
  }
  c.require(a.device == "cpu" || a.device == "cuda", "augment.device", toml_string(a.device),
            "must be \"cpu\" or \"cuda\"");
  c.at_least(a.workers, 0, "augment.workers");
  c.at_least(a.prefetch, 1, "augment.prefetch");
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
  c.positive(s.epsilon, "swav.epsilon");
  c.at_least(s.sinkhorn_iterations, 1, "swav.sinkhorn_iterations");
  c.positive(s.temperature, "swav.temperature");
  const int64_t crops = total_crops(a);
  check_assign_crops(c, s.crops_for_assign, a, "swav.crops_for_assign");
  c.require(crops >= 2, "augment.crops", std::to_string(crops) + " crop(s)",
            "needs at least 2 crops in total (each assigned crop is predicted from the others)");
  c.at_least(s.queue_length, 0, "swav.queue_length");
  c.at_least(s.epoch_queue_starts, 0, "swav.epoch_queue_starts");
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
  c.at_least(s.freeze_prototypes_niters, 0, "swav.freeze_prototypes_niters");
}

// Baselines: each table is checked only when its method runs (a SwAV run ignores [pcl]).
void check_baselines(const Checker& c, const ExperimentOptions& o) {
  const int64_t crops = total_crops(o.augment);
  if (o.method == "simclr" || o.method == "pcl") {
    c.require(crops >= 2, "augment.crops", std::to_string(crops) + " crops",
              fmt::format("method '{}' compares views: it needs at least 2 crops", o.method));
  }
  if (o.method == "simclr") c.positive(o.simclr.temperature, "simclr.temperature");
  if (o.method == "deepcluster_v2") {
    const auto& d = o.deepcluster;
    check_assign_crops(c, d.crops_for_assign, o.augment, "deepcluster.crops_for_assign");
    c.positive(d.temperature, "deepcluster.temperature");
    c.at_least(d.kmeans_iterations, 1, "deepcluster.kmeans_iterations");
  }
  if (o.method == "deepcluster_v1") {
    const auto& d = o.deepcluster_v1;
    c.at_least(d.pca_dim, 1, "deepcluster_v1.pca_dim");
    c.at_least(d.kmeans_iterations, 1, "deepcluster_v1.kmeans_iterations");
    c.require(o.model.prototypes.size() == 1, "model.prototypes", toml_array(o.model.prototypes),
              "method 'deepcluster_v1' has one classifier: give one cluster count, e.g. [10000]");
  }
  if (o.method == "sela") {
    const auto& s = o.sela;
    c.positive(s.lambda, "sela.lambda");
    c.at_least(s.label_steps, 1, "sela.label_steps");
    c.one_of(s.schedule, {"quadratic", "linear"}, "sela.schedule");
    c.positive(s.sinkhorn_tolerance, "sela.sinkhorn_tolerance");
  }
  if (o.method == "sela_v2") {
    const auto& s = o.sela_v2;
    check_assign_crops(c, s.crops_for_assign, o.augment, "sela_v2.crops_for_assign");
    c.positive(s.temperature, "sela_v2.temperature");
    c.positive(s.epsilon, "sela_v2.epsilon");
    c.at_least(s.sinkhorn_iterations, 1, "sela_v2.sinkhorn_iterations");
  }
  if (o.method == "pcl") {
    const auto& p = o.pcl;
    c.positive(p.temperature, "pcl.temperature");
    c.momentum(p.momentum, "pcl.momentum");
    c.at_least(p.queue_length, 0, "pcl.queue_length");
    c.at_least(p.warmup_epochs, 0, "pcl.warmup_epochs");
    c.require(!p.clusters.empty(), "pcl.clusters", "[]", "needs at least one granularity");
    for (size_t i = 0; i < p.clusters.size(); ++i)
      c.at_least(p.clusters[i], 2, fmt::format("pcl.clusters[{}]", i));
    c.at_least(p.negative_prototypes, 1, "pcl.negative_prototypes");
    c.at_least(p.kmeans_iterations, 1, "pcl.kmeans_iterations");
    c.at_least(p.kmeans_restarts, 1, "pcl.kmeans_restarts");
  }
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
  c.require(t.collapse_loss_margin >= 0 && t.collapse_loss_margin < 1,
            "train.collapse_loss_margin", toml_float(t.collapse_loss_margin),
            "must be in [0, 1) (a share of ln K; 0 turns the check off)");
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
  c.at_least(e.swav_linear_epochs, 1, "eval.swav_linear_epochs");
  c.require(e.swav_linear_min_scale > 0 && e.swav_linear_min_scale <= 1,
            "eval.swav_linear_min_scale", toml_float(e.swav_linear_min_scale), "must be in (0, 1]");
  c.require(e.center_crop > 0 && e.center_crop <= 1, "eval.center_crop", toml_float(e.center_crop),
            "must be in (0, 1]");
  c.require(!e.semi_fractions.empty() || !e.semi_supervised, "eval.semi_fractions", "[]",
            "needs at least one fraction when eval.semi_supervised = true");
  for (size_t i = 0; i < e.semi_fractions.size(); ++i) {
    const double f = e.semi_fractions[i];
    c.require(f > 0 && f <= 1, fmt::format("eval.semi_fractions[{}]", i), toml_float(f),
              "must be a share of the training labels in (0, 1]");
  }
  c.at_least(e.semi_epochs, 1, "eval.semi_epochs");
  c.non_negative(e.semi_lr, "eval.semi_lr");
  c.non_negative(e.semi_head_lr, "eval.semi_head_lr");
  c.momentum(e.semi_momentum, "eval.semi_momentum");
  c.non_negative(e.semi_weight_decay, "eval.semi_weight_decay");
  c.at_least(e.semi_batch_size, 1, "eval.semi_batch_size");
  c.at_least(e.semi_seed, 0, "eval.semi_seed");
  std::set<std::string> names;
  for (size_t i = 0; i < e.transfer.size(); ++i) {
    const auto& t = e.transfer[i];
    const std::string key = fmt::format("eval.transfer[{}]", i);
    c.require(!t.name.empty() && t.name.find_first_of(": /") == std::string::npos, key + ".name",
              toml_string(t.name),
              "must be a non-empty name without ':', '/' or spaces (it names the protocol rows)");
    c.require(names.insert(t.name).second, key + ".name", toml_string(t.name),
              "names another [[eval.transfer]] too");
    c.one_of(t.data.format, {"fashion_mnist", "cifar_binary", "image_folder", "synthetic"},
             key + ".format");
    if (t.data.format != "synthetic")
      c.require(!t.data.root.empty(), key + ".root", toml_string(t.data.root),
                "must name the dataset folder");
    c.at_least(t.data.image_size, 0, key + ".image_size");
    c.at_least(t.data.train_limit, 0, key + ".train_limit");
    c.at_least(t.data.test_limit, 0, key + ".test_limit");
    c.require(t.mean.size() == 1 || t.mean.size() == 3, key + ".mean", toml_array(t.mean),
              "needs 1 entry (one channel) or 3 (RGB)");
    c.require(t.std.size() == t.mean.size(), key + ".std", toml_array(t.std),
              fmt::format("needs as many entries as {}.mean ({})", key, t.mean.size()));
    for (size_t j = 0; j < t.std.size(); ++j)
      c.positive(t.std[j], fmt::format("{}.std[{}]", key, j));
  }
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
  // Each table's own ranges first, so a bad value is reported as itself and not through a
  // cross-field rule that reads it (train.epochs = 0 is "must be >= 1", not a warmup error).
  check_data(c, o.data);
  check_augment(c, o.augment);
  check_model(c, o.model);
  check_train(c, o.train);
  // Like the baselines' tables, [swav] is checked only when SwAV runs.
  if (o.method == "swav") check_swav(c, o.swav, o.augment, o.train);
  check_channels(c, o.data, o.augment);
  check_baselines(c, o);
  check_optim(c, o.optim, o.train);
  c.require(o.augment.device == "cpu" || o.train.device != "cpu", "augment.device",
            toml_string(o.augment.device), "\"cuda\" needs train.device = \"cuda\"");
  check_eval(c, o.eval);
}

}  // namespace swav::config_detail
