// The extension point: a self-supervised method owns its networks and its loss; the Trainer owns
// the loop. SwAV and every baseline implement this interface and are built by name through the
// registry (swav/run/registry.h).
#pragma once
#include <torch/torch.h>

#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/data/loader.h"
#include "swav/dist/collective.h"
#include "swav/models/backbone.h"
#include "swav/optim/larc.h"

namespace swav {

/// What every method is built from besides its own options table ([swav], [simclr], ...): the
/// network's shape, the training split's size and the few run settings methods read. A method
/// sees nothing else of the experiment.
struct MethodSetup {
  ModelOptions model;        // backbone, projection head, prototype heads
  AugmentOptions augment;    // how views are made and normalised (DeepCluster-v2 fills its bank
                             // with views; whole-image passes normalise with augment.mean/std)
  int64_t in_channels = 3;   // image channels
  int64_t dataset_size = 0;  // images in the training split
  int64_t seed = 0;          // train.seed: cluster, label and bank draws
  int64_t epochs = 0;        // train.epochs (SeLa spreads its label steps over them)
  int64_t batch_size = 0;    // train.batch_size per process
  int64_t world_size = 1;    // processes training together; the global batch is
                             // batch_size * world_size (queues hold whole global batches)
  double weight_decay = 0;   // optim.weight_decay (DeepCluster's classifier)
  int64_t pass_batch_size = 256;  // eval.batch_size: batches of the passes over the whole split

  static MethodSetup from(const ExperimentOptions& options, int64_t in_channels,
                          int64_t dataset_size, int64_t world_size = 1) {
    MethodSetup s;
    s.model = options.model;
    s.augment = options.augment;
    s.in_channels = in_channels;
    s.dataset_size = dataset_size;
    s.seed = options.train.seed;
    s.epochs = options.train.epochs;
    s.batch_size = options.train.batch_size;
    s.world_size = world_size;
    s.weight_decay = options.optim.weight_decay;
    s.pass_batch_size = options.eval.batch_size;
    return s;
  }
};

/// What a method sees of the run: device, the collective, the position in training.
struct StepContext {
  torch::Device device = torch::kCPU;
  Collective* collective = &single_process();
  int64_t epoch = 0;      // current epoch (0-based)
  int64_t iteration = 0;  // global iteration (0-based) over the whole run
  int64_t iters_per_epoch = 0;
  int64_t global_batch = 0;  // batch size x world size
  double lr = 0;
  bool channels_last = false;           // convolution inputs in NHWC (train.channels_last)
  const ImageSet* train_set = nullptr;  // the training split (methods that pass over all of it:
                                        // DeepCluster, SeLa, PCL); set by the Trainer
};

/// A batch view on the step's device, in the step's memory format. The copy is asynchronous when
/// the view is in pinned host memory (the loader pins its batches for CUDA runs).
inline torch::Tensor device_view(const torch::Tensor& view, const StepContext& ctx) {
  auto v = view.to(ctx.device, /*non_blocking=*/true);
  return ctx.channels_last && v.dim() == 4 ? v.contiguous(at::MemoryFormat::ChannelsLast) : v;
}

/// device_view() of each view of a batch, in crop order.
inline std::vector<torch::Tensor> device_views(const std::vector<torch::Tensor>& views,
                                               const StepContext& ctx) {
  std::vector<torch::Tensor> out;
  out.reserve(views.size());
  for (const auto& v : views) out.push_back(device_view(v, ctx));
  return out;
}

/// What a training step returns.
struct StepOutput {
  torch::Tensor loss;  // scalar, with grad
  // Extra scalars of the step (e.g. PCL's info_nce and proto_nce): shown on the progress lines
  // and stored per epoch as their mean over the epoch's steps (metric of the same name).
  std::vector<std::pair<std::string, torch::Tensor>> logs;
};

/// Named scalars a method reports (e.g. at the end of an epoch).
using Scalars = std::vector<std::pair<std::string, double>>;

/// What the Trainer's collapse watch (swav/train/collapse.h) compares a method's run with.
struct CollapseReference {
  /// The loss of uniform predictions: ln K for a cross-entropy over K clusters (averaged over
  /// heads as the loss is). NaN: the method has no such level and is not watched.
  double chance_loss = std::numeric_limits<double>::quiet_NaN();
  int64_t frozen_iterations = 0;  // first iterations in which the clusters are not trained
  int64_t clusters = 0;           // K of the head whose "prototype_usage" the method reports
  int64_t assigned_crops = 0;     // crops per image that are assigned a cluster
};

class Method {
 public:
  virtual ~Method() = default;

  virtual std::string name() const = 0;
  /// The module holding every trainable network (moved to the device, saved in checkpoints,
  /// switched between train and eval mode by the Trainer).
  virtual torch::nn::Module& module() = 0;
  /// The backbone every evaluation uses (eval never depends on the method).
  virtual std::shared_ptr<BackboneImpl> encoder() = 0;
  /// Parameters the optimiser updates with the run's [optim] settings.
  virtual std::vector<torch::Tensor> parameters() { return module().parameters(); }
  /// Every group the optimiser updates: parameters() on the run's settings, and any tensors that
  /// need settings of their own (DeepCluster's classifier: no momentum, no LARC). The Trainer
  /// builds its optimiser from these; the default is parameters() alone.
  virtual std::vector<ParamGroup> parameter_groups() { return {ParamGroup(parameters())}; }

  /// Called after weights from outside (model.init) were copied into encoder(), before training:
  /// a method that keeps a copy of the encoder (PCL's key network) takes them too.
  virtual void on_encoder_loaded() {}
  /// Called once before the first epoch of a fresh run (not on resume).
  virtual void on_train_start(const ImageSet& train, StepContext& ctx) {}
  /// Called at the start of every epoch (also the first after a resume).
  virtual void on_epoch_start(StepContext& ctx) {}
  /// The epoch's samples when the method chooses them (DeepCluster draws them uniformly over its
  /// clusters), called after on_epoch_start: exactly one entry per training image (indices into
  /// the training set, repeats allowed), the same on every process; the Trainer takes each
  /// process's share as it does of its own order. Empty (the default): a seeded permutation.
  virtual std::vector<int64_t> epoch_samples(const StepContext& ctx) { return {}; }
  /// Forward the crops of one batch and return the loss.
  virtual StepOutput step(const Batch& batch, StepContext& ctx) = 0;
  /// Between backward and the optimiser step (e.g. SwAV drops prototype gradients while frozen).
  virtual void after_backward(StepContext& ctx) {}
  /// After the optimiser step (e.g. momentum-encoder updates).
  virtual void after_step(StepContext& ctx) {}
  /// Scalars summarising the finished epoch (e.g. prototype usage); called once per epoch.
  virtual Scalars on_epoch_end(StepContext& ctx) { return {}; }
  /// The chance level and cluster counts the collapse watch judges this method's epochs by; the
  /// default (no chance level) turns the watch off.
  virtual CollapseReference collapse_reference() const { return {}; }

  /// Cluster ids (int64 [B], in [0, num_clusters())) of normalised images [B, C, H, W] on the
  /// module's device: the argmax prototype of each image, for cluster-quality evaluation. The
  /// caller puts module() in eval mode and disables grad. Undefined for methods without clusters.
  virtual torch::Tensor assign(const torch::Tensor& images) { return {}; }
  /// How many clusters assign() chooses from; 0 when the method has none.
  virtual int64_t num_clusters() const { return 0; }

  /// State beyond module() parameters and buffers (queues, memory banks, labels), so resume is
  /// exact.
  virtual void save_state(torch::serialize::OutputArchive& archive) const {}
  virtual void load_state(torch::serialize::InputArchive& archive) {}
};

}  // namespace swav
