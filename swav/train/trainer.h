// The one training loop, shared by SwAV and every baseline.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/dist/collective.h"
#include "swav/train/method.h"

namespace swav {

class LarcSgd;

/// Converts a module's 4-D parameters (convolution weights) to the channels-last memory format in
/// place (tensor identity kept, so optimisers built before or after see the same tensors).
void to_channels_last(torch::nn::Module& module);

/// Copies rank 0's parameters and buffers into every process's `module` (a multi-process run
/// starts from one set of weights).
void broadcast_state(torch::nn::Module& module, Collective& collective);

/// Replaces every defined parameter gradient of `module` by its mean over the processes (one
/// all-reduce per dtype over a flat buffer). With each process's loss the mean over its own
/// batch, this is the gradient of the mean loss over the global batch.
void average_gradients(torch::nn::Module& module, Collective& collective);

/// Deletes a checkpoint with everything that belongs to it: the file, a half-written `.tmp`, and
/// the other ranks' parts of a multi-process checkpoint. Missing files are fine.
void remove_checkpoint(const std::string& checkpoint_path);

/// What fit() did.
struct TrainSummary {
  int64_t first_epoch = 0;             // 0 for a fresh run, else the epoch resumed at
  int64_t epochs = 0;                  // epochs completed in total
  std::vector<Scalars> epoch_metrics;  // metrics of the epochs run by this call
  double seconds = 0;
};

/// Runs epochs x steps of a Method: learning-rate schedule, SGD + LARC, the method's hooks,
/// per-epoch metrics (loss, lr, seconds, images_per_sec, plus the method's own), a progress line
/// with an ETA, and checkpoints every `train.checkpoint_every` epochs and at the end. A checkpoint
/// holds the model, optimiser state, the method's state (queues, banks), the schedule position and
/// the RNG state, so a run resumed from it continues exactly as if it had not stopped. With
/// several processes, rank 0 writes that file (with the world size) and every other rank r writes
/// its own method state and RNG state to `<checkpoint>.rank<r>.epoch<e>` before it; a resume needs
/// the same number of processes and a folder every process sees.
class Trainer {
 public:
  /// Called after each epoch with its 0-based index and metrics (the runner writes them to the
  /// store).
  using EpochCallback = std::function<void(int64_t epoch, const Scalars& metrics)>;

  Trainer(const ExperimentOptions& options, Method& method, const ImageSet& train,
          std::string checkpoint_path, Collective& collective = single_process());

  void on_epoch(EpochCallback callback) { callback_ = std::move(callback); }
  /// Progress lines on stdout (default on); a label prefixes them.
  void set_progress(bool enabled, std::string label = "") {
    progress_ = enabled;
    label_ = std::move(label);
  }
  /// Stops after this many epochs in this call (simulates an interruption in tests); -1 = no limit.
  void stop_after(int64_t epochs) { stop_after_ = epochs; }

  /// Trains up to options.train.epochs, resuming from the checkpoint when it exists. A non-finite
  /// loss throws UserError naming the epoch and iteration.
  TrainSummary fit();

  torch::Device device() const { return device_; }

 private:
  void save_checkpoint(int64_t epochs_done, LarcSgd& optimizer) const;
  bool load_checkpoint(int64_t& epochs_done, LarcSgd& optimizer);

  ExperimentOptions options_;
  Method& method_;
  const ImageSet& train_;
  std::string checkpoint_path_;
  Collective& collective_;
  torch::Device device_;
  EpochCallback callback_;
  bool progress_ = true;
  std::string label_;
  int64_t stop_after_ = -1;
};

/// The device named by "cpu", "cuda" or "cuda:N"; UserError if CUDA is asked for and not available.
/// In a process of a multi-process run (set_local_cuda_index), "cuda" is that process's GPU and
/// "cuda:N" is refused: every process needs a GPU of its own.
torch::Device parse_device(const std::string& name);

/// Makes "cuda" mean GPU `index` in this process (run_experiment passes LOCAL_RANK when it is one
/// of several processes).
void set_local_cuda_index(int64_t index);

}  // namespace swav
