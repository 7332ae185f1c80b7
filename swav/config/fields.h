// Every key of an experiment file, described once: its name, the options field it sets, what it
// means, and the rules its value must satisfy on its own. The reader (TOML -> options), the
// canonical writer (options -> TOML, the text config_hash hashes), the schema of valid keys, the
// per-key checks of the validator and `run_experiment --keys` all walk these lists. Defaults are
// the member initialisers of options.h.
//
// Adding an option: a member in options.h and one `v.key(...)` line here, in the position its key
// takes in the canonical TOML (a new key at the end of its section keeps every earlier config hash
// as long as its default is left out of older runs' hashes: see HashedUnlessDefault). Rules that
// relate two keys (min <= max, crops_for_assign inside the crops, ...) go in validate.cpp.
//
// Internal to swav/config (config.cpp, validate.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "swav/config/options.h"

namespace swav::config_detail {

// --- what a key's value must satisfy on its own ------------------------------------------------
// Numeric rules apply to a number, or to every element of an array (errors name `key[i]`).

struct AtLeast {  // integers: >= min
  int64_t min;
};
struct Positive {};     // > 0
struct NonNegative {};  // >= 0
struct Probability {};  // in [0, 1]
struct Momentum {};     // in [0, 1)
struct Between {        // in [low, high], either end open; `rule` is the message
  double low, high;
  bool open_low, open_high;
  const char* rule;
};
struct OneOf {  // strings
  std::vector<std::string> allowed;
};
struct NotEmpty {  // arrays; `rule` is the message, e.g. "needs at least one prototype head"
  const char* rule;
};
template <class T>
struct Satisfies {  // anything else: `ok(value)` must hold; `rule` is the message
  bool (*ok)(const T&);
  const char* rule;
};

// --- how a key enters the config hash ------------------------------------------------------------
// By default every key is hashed. These tags, given with the rules, change that.
struct NotHashed {};            // says where things go or how fast they run, never what is learned
struct HashedUnlessDefault {};  // added after runs were stored: left out while it holds its
                                // declared default (the member's initialiser), so the hashes of
                                // those runs stay the same

// --- methods and their option tables -------------------------------------------------------------

/// A training method and the [section] of options only it reads ("" when it has none). Sections
/// of other methods are neither checked nor hashed (except [swav], hashed for every method because
/// runs were stored that way before the baselines existed).
struct MethodInfo {
  const char* name;
  const char* section;
};
inline const std::vector<MethodInfo>& method_infos() {
  static const std::vector<MethodInfo> methods = {{"swav", "swav"},
                                                  {"simclr", "simclr"},
                                                  {"deepcluster_v1", "deepcluster_v1"},
                                                  {"deepcluster_v2", "deepcluster"},
                                                  {"sela", "sela"},
                                                  {"sela_v2", "sela_v2"},
                                                  {"pcl", "pcl"}};
  return methods;
}

inline std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& m : method_infos()) names.emplace_back(m.name);
  return names;
}

// --- predicates of Satisfies ---------------------------------------------------------------------

inline bool is_run_name(const std::string& n) {
  return !n.empty() && n != "." && n != ".." && n.find_first_of("/\\") == std::string::npos;
}
inline bool is_device(const std::string& d) {
  if (d == "cpu" || d == "cuda") return true;
  if (d.rfind("cuda:", 0) != 0 || d.size() == 5 || d.size() > 8) return false;
  for (size_t i = 5; i < d.size(); ++i)
    if (d[i] < '0' || d[i] > '9') return false;
  return true;
}
inline bool one_or_three(const std::vector<double>& v) {
  return v.size() == 1 || v.size() == 3;
}
inline bool one_or_three_channels(const int64_t& c) {
  return c == 1 || c == 3;
}
inline bool is_protocol_name(const std::string& n) {
  return !n.empty() && n.find_first_of(": /") == std::string::npos;
}

// --- the field lists -----------------------------------------------------------------------------
// describe(v, options) calls, for every key in canonical order,
//   v.key(name, member, doc, rules and tags...)      a value
//   v.section(name, member, doc)                      a [name] table: describe(v', member)
//   v.inline_tables(name, vector, doc)                an array of inline tables (augment.crops)
//   v.table_sections(name, vector, doc)               [[name]] tables, written last (eval.transfer)
// `S` is the struct, const or not, so that readers and writers share the list.

template <class S, class T>
using If = std::enable_if_t<std::is_same_v<std::remove_const_t<S>, T>, int>;

template <class V, class S, If<S, CropGroup> = 0>
void describe(V& v, S& c) {
  v.key("size", c.size, "output side length in pixels", AtLeast{1});
  v.key("count", c.count, "crops of this size per image", AtLeast{1});
  v.key("min_scale", c.min_scale,
        "smallest crop area, as a share of the image area (RandomResizedCrop's scale range)");
  v.key("max_scale", c.max_scale, "largest crop area, as a share of the image area");
}

template <class V, class S, If<S, DataOptions> = 0>
void describe(V& v, S& d) {
  v.key("format", d.format,
        "\"fashion_mnist\" (IDX + gzip), \"cifar_binary\", \"image_folder\" (one sub-folder per "
        "class in each split) or \"synthetic\" (a generated toy set for tests)",
        OneOf{{"fashion_mnist", "cifar_binary", "image_folder", "synthetic"}});
  v.key("root", d.root, "dataset folder (unused for \"synthetic\")");
  v.key("train_split", d.train_split, "image_folder: sub-folder of the training split");
  v.key("test_split", d.test_split, "image_folder: sub-folder of the evaluation split");
  v.key("image_size", d.image_size,
        "image_folder: resize every image to this square side in pixels when decoding; 0 keeps "
        "the files' size (then all images must share one size)",
        AtLeast{0});
  v.key("train_limit", d.train_limit,
        "use only the first N training images, class-balanced; 0 = all", AtLeast{0});
  v.key("test_limit", d.test_limit, "the same for the evaluation split; 0 = all", AtLeast{0});
  v.key("cache_dir", d.cache_dir,
        "where decoded uint8 images are cached; empty = ~/.cache/swav-bench/data", NotHashed{});
  v.key("decode", d.decode,
        "image_folder: \"cache\" decodes every image once, resized to an image_size square, into "
        "a uint8 cache (fast for small sets: N x image_size^2 x 3 bytes of disk and memory); "
        "\"stream\" reads and decodes each sample's file for its views, cropping on the image's "
        "own size as torchvision does, so memory does not grow with the set (ImageNet); its "
        "evaluation view is the short side resized to image_size and the centre square",
        OneOf{{"cache", "stream"}}, HashedUnlessDefault{});
  v.key("skip_corrupt", d.skip_corrupt,
        "stream: a file that cannot be decoded is skipped with a warning (another sample's views "
        "take its place) and counted in the store, instead of failing the run",
        HashedUnlessDefault{});
  v.key("synthetic_classes", d.synthetic_classes, "synthetic: number of classes", AtLeast{2});
  v.key("synthetic_train_per_class", d.synthetic_train_per_class,
        "synthetic: training images per class", AtLeast{1});
  v.key("synthetic_test_per_class", d.synthetic_test_per_class,
        "synthetic: evaluation images per class", AtLeast{1});
  v.key("synthetic_size", d.synthetic_size, "synthetic: image side in pixels", AtLeast{1});
  v.key("synthetic_channels", d.synthetic_channels, "synthetic: 1 (gray) or 3 (RGB)",
        Satisfies<int64_t>{one_or_three_channels, "must be 1 or 3"});
}

template <class V, class S, If<S, AugmentOptions> = 0>
void describe(V& v, S& a) {
  v.inline_tables("crops", a.crops,
                  "multi-crop groups {size, count, min_scale, max_scale}, largest first; crops "
                  "are numbered group by group (the paper: 2 x 224 at 0.14-1, 6 x 96 at "
                  "0.05-0.14)");
  v.key("min_ratio", a.min_ratio, "smallest crop aspect ratio (width / height); torchvision: 3/4",
        Positive{});
  v.key("max_ratio", a.max_ratio, "largest crop aspect ratio; torchvision: 4/3");
  v.key("flip_prob", a.flip_prob, "probability of a horizontal flip", Probability{});
  v.key("jitter_prob", a.jitter_prob, "probability of colour jitter (the paper: 0.8)",
        Probability{});
  v.key("brightness", a.brightness,
        "jitter strength: brightness factor drawn from [1 - b, 1 + b] (torchvision ColorJitter; "
        "the paper: 0.8 x s with s = 1)",
        NonNegative{});
  v.key("contrast", a.contrast, "jitter strength: contrast factor from [1 - c, 1 + c]",
        NonNegative{});
  v.key("saturation", a.saturation, "jitter strength: saturation factor from [1 - s, 1 + s]",
        NonNegative{});
  v.key("hue", a.hue, "jitter strength: hue shift from [-h, h] turns of the colour wheel",
        Between{0, 0.5, false, false, "must be in [0, 0.5]"});
  v.key("grayscale_prob", a.grayscale_prob, "probability of converting a view to grayscale",
        Probability{});
  v.key("blur_prob", a.blur_prob,
        "probability of a Gaussian blur (the paper: 0.5; for crops well under 224 px see "
        "docs/SWAV_SMALL_SCALE.md)",
        Probability{});
  v.key("blur_sigma_min", a.blur_sigma_min,
        "smallest blur sigma in pixels of the crop (the paper's 0.1 is for 224 px crops)",
        Positive{});
  v.key("blur_sigma_max", a.blur_sigma_max, "largest blur sigma in pixels of the crop");
  v.key("mean", a.mean,
        "normalisation mean per channel in [0, 1] units; one value for every channel",
        Satisfies<std::vector<double>>{one_or_three, "needs 1 entry (one channel) or 3 (RGB)"});
  v.key("std", a.std, "normalisation standard deviation per channel, as many as mean", Positive{});
  v.key("device", a.device,
        "where views are made: \"cpu\" (worker threads) or \"cuda\" (on the training GPU, from "
        "the uint8 images kept there)",
        Satisfies<std::string>{[](const std::string& d) { return d == "cpu" || d == "cuda"; },
                               "must be \"cpu\" or \"cuda\""});
  v.key("workers", a.workers, "CPU threads making views ahead of the training step; 0 = inline",
        AtLeast{0}, NotHashed{});
  v.key("prefetch", a.prefetch, "batches of views prepared ahead", AtLeast{1}, NotHashed{});
}

template <class V, class S, If<S, ModelOptions> = 0>
void describe(V& v, S& m) {
  v.key("arch", m.arch, "backbone: \"resnet18\", \"resnet50\" or \"convnet\" (small, for tests)",
        OneOf{{"resnet18", "resnet50", "convnet"}});
  v.key("stem", m.stem,
        "\"imagenet\" (7x7 stride-2 conv and max-pool) or \"cifar\" (3x3 stride-1 conv, no pool)",
        OneOf{{"imagenet", "cifar"}});
  v.key("width", m.width, "channel width multiplier of the backbone", Positive{});
  v.key("hidden_dim", m.hidden_dim, "projection head hidden size; 0 = a linear head", AtLeast{0});
  v.key("output_dim", m.output_dim, "embedding size (the paper: 128)", AtLeast{1});
  v.key("prototypes", m.prototypes,
        "prototype count of each head (the paper: [3000] on ImageNet); DeepCluster-v2 and SeLa "
        "use one head per entry",
        NotEmpty{"needs at least one prototype head"}, AtLeast{1});
  v.key("init", m.init,
        "a PyTorch checkpoint whose weights start the backbone (torch.save of a state dict with "
        "torchvision's names or ours, as export_weights writes; a \"module.\" prefix and a "
        "\"state_dict\" wrapper are fine); \"\" = random initialisation",
        HashedUnlessDefault{});
  v.key("init_strict", m.init_strict,
        "model.init: a backbone tensor missing from the file or of another shape is an error; "
        "false loads what fits and lists the rest in the trial's log",
        HashedUnlessDefault{});
}

template <class V, class S, If<S, SwavOptions> = 0>
void describe(V& v, S& s) {
  v.key("epsilon", s.epsilon,
        "Sinkhorn's entropic regularisation: codes are exp(scores / epsilon); lower is sharper "
        "(the paper: 0.05 at K = 3000, batch 4096)",
        Positive{});
  v.key("sinkhorn_iterations", s.sinkhorn_iterations,
        "Sinkhorn-Knopp normalisation rounds per batch (the paper: 3)", AtLeast{1});
  v.key("temperature", s.temperature, "softmax temperature of the swapped prediction", Positive{});
  v.key("crops_for_assign", s.crops_for_assign,
        "crops whose codes are computed and predicted from the other crops (the two large ones)");
  v.key("queue_length", s.queue_length,
        "embeddings kept from earlier batches for Sinkhorn, per process and assigned crop; a "
        "multiple of train.batch_size; 0 = no queue (the paper: 3840 at batch 256)",
        AtLeast{0});
  v.key("epoch_queue_starts", s.epoch_queue_starts,
        "epoch at which the queue is created (the paper: 15)", AtLeast{0});
  v.key("freeze_prototypes_niters", s.freeze_prototypes_niters,
        "iterations at the start during which the prototypes get no update (the paper: 313, one "
        "epoch at batch 4096)",
        AtLeast{0});
}

template <class V, class S, If<S, SimclrOptions> = 0>
void describe(V& v, S& s) {
  v.key("temperature", s.temperature,
        "NT-Xent temperature (0.1 on ImageNet at large batch, 0.5 on CIFAR)", Positive{});
}

template <class V, class S, If<S, DeepClusterOptions> = 0>
void describe(V& v, S& d) {
  v.key("crops_for_assign", d.crops_for_assign,
        "crops whose embeddings fill the memory bank that k-means clusters");
  v.key("temperature", d.temperature, "softmax temperature of the cross-entropy", Positive{});
  v.key("kmeans_iterations", d.kmeans_iterations, "Lloyd iterations per head and epoch",
        AtLeast{1});
}

template <class V, class S, If<S, DeepClusterV1Options> = 0>
void describe(V& v, S& d) {
  v.key("pca_dim", d.pca_dim, "PCA-whitening dimension of the features before k-means", AtLeast{1});
  v.key("kmeans_iterations", d.kmeans_iterations,
        "Lloyd iterations per epoch (Euclidean, as faiss in the reference)", AtLeast{1});
}

template <class V, class S, If<S, SelaOptions> = 0>
void describe(V& v, S& s) {
  v.key("lambda", s.lambda, "power on the softmax P before Sinkhorn (25 on ImageNet, 10 on CIFAR)",
        Positive{});
  v.key("label_steps", s.label_steps, "label optimisations over the whole run", AtLeast{1});
  v.key("schedule", s.schedule,
        "when they happen: \"quadratic\" (more early, the ImageNet recipe) or \"linear\"",
        OneOf{{"quadratic", "linear"}});
  v.key("sinkhorn_tolerance", s.sinkhorn_tolerance,
        "stop Sinkhorn when sum |c / c_new - 1| < this (checked every 10 iterations)", Positive{});
}

template <class V, class S, If<S, SelaV2Options> = 0>
void describe(V& v, S& s) {
  v.key("crops_for_assign", s.crops_for_assign, "crops whose embeddings fill the memory bank");
  v.key("temperature", s.temperature, "softmax temperature of the cross-entropy", Positive{});
  v.key("epsilon", s.epsilon, "Sinkhorn regularisation of the bank assignment", Positive{});
  v.key("sinkhorn_iterations", s.sinkhorn_iterations, "Sinkhorn iterations over the bank",
        AtLeast{1});
}

template <class V, class S, If<S, PclOptions> = 0>
void describe(V& v, S& p) {
  v.key("temperature", p.temperature, "InfoNCE temperature; also the concentration's mean",
        Positive{});
  v.key("momentum", p.momentum, "EMA momentum of the key encoder", Momentum{});
  v.key("queue_length", p.queue_length, "negative keys, rounded down to whole batches", AtLeast{0});
  v.key("warmup_epochs", p.warmup_epochs, "InfoNCE-only epochs before clustering starts",
        AtLeast{0});
  v.key("clusters", p.clusters, "k-means cluster counts, one per granularity",
        NotEmpty{"needs at least one granularity"}, AtLeast{2});
  v.key("negative_prototypes", p.negative_prototypes,
        "negative centroids sampled per granularity (r in the paper)", AtLeast{1});
  v.key("kmeans_iterations", p.kmeans_iterations, "Lloyd iterations per k-means run", AtLeast{1});
  v.key("kmeans_restarts", p.kmeans_restarts,
        "seeded k-means runs per granularity; the best objective is kept", AtLeast{1});
}

template <class V, class S, If<S, OptimOptions> = 0>
void describe(V& v, S& o) {
  v.key("base_lr", o.base_lr,
        "peak learning rate, reached after the warm-up (the paper: 4.8 at batch 4096, 0.6 at "
        "256)",
        NonNegative{});
  v.key("final_lr", o.final_lr, "learning rate at the end of the cosine decay", NonNegative{});
  v.key("start_warmup", o.start_warmup, "learning rate at the first warm-up iteration",
        NonNegative{});
  v.key("warmup_epochs", o.warmup_epochs,
        "epochs of linear warm-up from start_warmup to base_lr; 0 = none", AtLeast{0});
  v.key("momentum", o.momentum, "SGD momentum", Momentum{});
  v.key("weight_decay", o.weight_decay, "L2 weight decay (the paper: 1e-6)", NonNegative{});
  v.key("larc", o.larc, "wrap SGD in LARC (layer-wise adaptive rates)");
  v.key("larc_trust", o.larc_trust, "LARC trust coefficient", Positive{});
  v.key("larc_clip", o.larc_clip,
        "LARC clipping mode: the adaptive rate never exceeds the global one (the reference runs "
        "without)");
  v.key("larc_eps", o.larc_eps, "LARC's guard against dividing by a zero gradient norm",
        Positive{});
  v.key("exclude_bias_bn", o.exclude_bias_bn,
        "1-D parameters (batch norm, biases) get neither LARC adaptation nor weight decay, as "
        "SimCLR's LARS; false = every tensor, as SwAV",
        HashedUnlessDefault{});
}

template <class V, class S, If<S, TrainOptions> = 0>
void describe(V& v, S& t) {
  v.key("epochs", t.epochs, "passes over the training split", AtLeast{1});
  v.key("batch_size", t.batch_size, "images per step and process", AtLeast{1});
  v.key("device", t.device, "\"cpu\", \"cuda\" or \"cuda:N\"",
        Satisfies<std::string>{is_device, "must be \"cpu\", \"cuda\" or \"cuda:N\""});
  v.key("seed", t.seed, "seeds weights, data order and augmentation", AtLeast{0});
  v.key("threads", t.threads, "intra-op CPU threads; 0 = all cores", AtLeast{0}, NotHashed{});
  v.key("checkpoint_every", t.checkpoint_every,
        "epochs between checkpoints (there is always one at the end)", AtLeast{1}, NotHashed{});
  v.key("log_every", t.log_every, "steps between progress lines and metric reads", AtLeast{1},
        NotHashed{});
  v.key("precision", t.precision,
        "\"fp32\", or \"bf16\": CUDA autocast to bfloat16 in the forward pass (Sinkhorn and the "
        "loss stay float32)",
        OneOf{{"fp32", "bf16"}});
  v.key("channels_last", t.channels_last,
        "NHWC memory format for convolutions (faster on tensor cores)");
  v.key("sync_bn", t.sync_bn,
        "several processes: batch-norm statistics over the global batch, as the paper's multi-GPU "
        "runs (synchronised batch norm); false: each process normalises its own batch. No effect "
        "on one process",
        HashedUnlessDefault{});
  v.key("collapse_loss_margin", t.collapse_loss_margin,
        "SwAV: flag an epoch whose loss is within this share of ln K, once the prototypes have "
        "trained a whole epoch; 0 turns that check off (low prototype usage is still flagged)",
        Between{0, 1, false, true, "must be in [0, 1) (a share of ln K; 0 turns the check off)"},
        NotHashed{});
  v.key("stop_on_collapse", t.stop_on_collapse,
        "end the trial as failed at the first flagged epoch instead of training on", NotHashed{});
}

template <class V, class S, If<S, TransferOptions> = 0>
void describe(V& v, S& t) {
  v.key("name", t.name, "names the protocol rows: \"transfer:<name>:knn\"",
        Satisfies<std::string>{
            is_protocol_name,
            "must be a non-empty name without ':', '/' or spaces (it names the protocol rows)"});
  v.key("mean", t.mean, "normalisation mean of this dataset",
        Satisfies<std::vector<double>>{one_or_three, "needs 1 entry (one channel) or 3 (RGB)"});
  v.key("std", t.std, "normalisation standard deviation of this dataset", Positive{});
  describe(v, t.data);  // the keys of [data], flat in the same table
}

template <class V, class S, If<S, EvalOptions> = 0>
void describe(V& v, S& e) {
  v.key("knn_k", e.knn_k, "neighbour counts of the weighted kNN classifier", AtLeast{1});
  v.key("knn_temperature", e.knn_temperature, "temperature of the kNN vote weights exp(cos / t)",
        Positive{});
  v.key("linear", e.linear, "train a linear probe on precomputed frozen features");
  v.key("linear_epochs", e.linear_epochs, "linear probe epochs", AtLeast{1});
  v.key("linear_lr", e.linear_lr, "linear probe SGD learning rate, cosine to 0", Positive{});
  v.key("linear_momentum", e.linear_momentum, "linear probe SGD momentum", Momentum{});
  v.key("linear_weight_decay", e.linear_weight_decay, "linear probe weight decay", NonNegative{});
  v.key("linear_batch_size", e.linear_batch_size, "linear probe batch", AtLeast{1});
  v.key("untrained_baseline", e.untrained_baseline,
        "also evaluate the network at initialisation with kNN: the floor every run must beat");
  v.key("batch_size", e.batch_size, "feature extraction batch", AtLeast{1});
  v.key("swav_linear", e.swav_linear,
        "the paper's linear protocol: a linear layer on the frozen backbone trained on augmented "
        "crops (random resized crop + flip), tested on a centre crop, with the linear_* "
        "optimiser");
  v.key("swav_linear_epochs", e.swav_linear_epochs, "epochs of that protocol (the paper: 100)",
        AtLeast{1});
  v.key("swav_linear_min_scale", e.swav_linear_min_scale,
        "its random resized crop's smallest area share",
        Between{0, 1, true, false, "must be in (0, 1]"});
  v.key("center_crop", e.center_crop, "test crop side as a share of the image (224 of 256)",
        Between{0, 1, true, false, "must be in (0, 1]"});
  v.key("semi_supervised", e.semi_supervised,
        "fine-tune backbone and a new linear head on class-balanced subsets of the labels");
  v.key("semi_fractions", e.semi_fractions,
        "shares of the training labels kept (the paper: 1%, 10%)",
        Between{0, 1, true, false, "must be a share of the training labels in (0, 1]"});
  v.key("semi_epochs", e.semi_epochs, "fine-tuning epochs", AtLeast{1});
  v.key("semi_lr", e.semi_lr, "backbone learning rate, cosine to 0", NonNegative{});
  v.key("semi_head_lr", e.semi_head_lr, "head learning rate, cosine to 0", NonNegative{});
  v.key("semi_momentum", e.semi_momentum, "fine-tuning SGD momentum", Momentum{});
  v.key("semi_weight_decay", e.semi_weight_decay, "fine-tuning weight decay", NonNegative{});
  v.key("semi_batch_size", e.semi_batch_size, "fine-tuning batch", AtLeast{1});
  v.key("semi_seed", e.semi_seed, "seed of the label subsets and their order; 0 = train.seed",
        AtLeast{0});
  v.key("clusters", e.clusters,
        "cluster quality of the argmax prototype assignments (NMI, ARI, usage), for methods "
        "with prototypes");
  v.table_sections("transfer", e.transfer,
                   "[[eval.transfer]] tables: kNN and linear probe on another dataset, its "
                   "images resized to the first crop size; keys name, mean, std and those of "
                   "[data]");
}

template <class V, class S, If<S, ExperimentOptions> = 0>
void describe(V& v, S& o) {
  v.key("name", o.name, "experiment name; runs go to runs/<name>/<trial>",
        Satisfies<std::string>{is_run_name,
                               "must be a non-empty name without '/' (it names runs/<name>)"},
        NotHashed{});
  v.key("method", o.method, "training method", OneOf{method_names()});
  v.key("db", o.db,
        "SQLite results store; empty = $SWAV_BENCH_DB, else swav_bench.db in the working "
        "directory",
        NotHashed{});
  v.key("run_dir", o.run_dir, "checkpoints and logs; empty = runs/<name>", NotHashed{});
  v.section("data", o.data, "where the images come from");
  v.section("augment", o.augment,
            "multi-crop augmentation: random resized crop, flip, colour jitter, grayscale, "
            "blur, normalise");
  v.section("model", o.model, "backbone, projection head and prototypes");
  v.section("swav", o.swav, "SwAV: swapped prediction of Sinkhorn codes between crops");
  v.section("simclr", o.simclr, "SimCLR: backbone, the model's projection head, NT-Xent");
  v.section("deepcluster", o.deepcluster, "DeepCluster-v2 (method \"deepcluster_v2\")");
  v.section("deepcluster_v1", o.deepcluster_v1,
            "DeepCluster: k-means on PCA-whitened backbone features, one classifier of "
            "model.prototypes[0] clusters");
  v.section("sela", o.sela, "SeLa: self-labelling of the whole training set");
  v.section("sela_v2", o.sela_v2,
            "SeLa-v2: DeepCluster-v2 with Sinkhorn assignment over the memory bank");
  v.section("pcl", o.pcl, "PCL: MoCo with ProtoNCE");
  v.section("optim", o.optim, "SGD with LARC and the per-iteration learning-rate schedule");
  v.section("train", o.train, "the training loop");
  v.section("eval", o.eval, "evaluation of the frozen encoder");
}

}  // namespace swav::config_detail
