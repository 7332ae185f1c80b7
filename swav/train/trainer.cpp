#include "swav/train/trainer.h"

#include <ATen/autocast_mode.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "swav/data/device_multicrop.h"
#include "swav/data/loader.h"
#include "swav/data/multicrop.h"
#include "swav/models/batch_norm.h"
#include "swav/models/weights.h"
#include "swav/optim/larc.h"
#include "swav/optim/schedule.h"
#include "swav/train/collapse.h"
#include "swav/util/error.h"
#include "swav/util/progress.h"
#include "swav/util/text.h"
#include "swav/util/zip_check.h"

namespace swav {

namespace {

int64_t local_cuda_index = -1;  // set_local_cuda_index; -1: one process, "cuda" is the current GPU

}  // namespace

void set_local_cuda_index(int64_t index) {
  local_cuda_index = index;
}

torch::Device parse_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  if (name.rfind("cuda", 0) == 0) {
    if (!torch::cuda::is_available()) {
      fail("train.device: '{}' asked for, but no CUDA device is available (use \"cpu\")", name);
    }
    torch::Device device(name);
    const auto count = static_cast<int64_t>(torch::cuda::device_count());
    if (local_cuda_index >= 0) {
      if (device.has_index()) {
        fail(
            "train.device: '{}' names one GPU, but this run has several processes and each needs "
            "its own: use \"cuda\" (the process with LOCAL_RANK r uses GPU r)",
            name);
      }
      if (local_cuda_index >= count) {
        fail(
            "train.device: 'cuda' on the process with local rank {} needs GPU {}, but this node "
            "has {} CUDA devices: start at most {} processes per node",
            local_cuda_index, local_cuda_index, count, count);
      }
      return {torch::kCUDA, static_cast<c10::DeviceIndex>(local_cuda_index)};
    }
    if (device.has_index() && device.index() >= count) {
      fail("train.device: '{}' does not exist ({} CUDA devices)", name, count);
    }
    return device;
  }
  fail("train.device: '{}' is not a device (expected \"cpu\", \"cuda\" or \"cuda:N\")", name);
}

Trainer::Trainer(const ExperimentOptions& options, Method& method, const ImageSet& train,
                 std::string checkpoint_path, Collective& collective)
    : options_(options),
      method_(method),
      train_(train),
      checkpoint_path_(std::move(checkpoint_path)),
      collective_(collective),
      device_(parse_device(options.train.device)) {}

namespace {

// bfloat16 autocast on CUDA for the forward pass of one step (the backward pass follows the
// forward's dtypes by itself). Restores the previous state on exit.
class AutocastScope {
 public:
  explicit AutocastScope(bool enabled) : enabled_(enabled) {
    if (!enabled_) return;
    previous_ = at::autocast::is_autocast_enabled(at::kCUDA);
    previous_dtype_ = at::autocast::get_autocast_dtype(at::kCUDA);
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, true);
    at::autocast::increment_nesting();
  }
  ~AutocastScope() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(at::kCUDA, previous_);
    at::autocast::set_autocast_dtype(at::kCUDA, previous_dtype_);
  }
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool enabled_;
  bool previous_ = false;
  at::ScalarType previous_dtype_ = at::kBFloat16;
};

}  // namespace

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  }
}

void broadcast_state(torch::nn::Module& module, Collective& collective) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters()) collective.broadcast(p);
  for (auto& b : module.buffers()) {
    if (b.defined()) collective.broadcast(b);
  }
}

void average_gradients(torch::nn::Module& module, Collective& collective) {
  torch::NoGradGuard no_grad;
  // One all-reduce per dtype over a flat copy of every defined gradient, then copied back.
  std::map<at::ScalarType, std::vector<torch::Tensor>> by_dtype;
  for (auto& p : module.parameters()) {
    if (p.grad().defined()) by_dtype[p.grad().scalar_type()].push_back(p.mutable_grad());
  }
  const double world = static_cast<double>(collective.world_size());
  for (auto& [dtype, grads] : by_dtype) {
    std::vector<torch::Tensor> flat;
    for (const auto& g : grads) flat.push_back(g.reshape({-1}));
    auto buffer = torch::cat(flat);
    collective.all_reduce_sum(buffer);
    buffer.div_(world);
    int64_t offset = 0;
    for (auto& g : grads) {
      g.copy_(buffer.narrow(0, offset, g.numel()).view_as(g));
      offset += g.numel();
    }
  }
}

namespace {

/// The layout of a checkpoint's records. Raise it when a change makes older checkpoints unreadable
/// (renamed modules, another optimiser state); a checkpoint of another format is refused by name.
/// Checkpoints from before this record (none) are read as format 1.
constexpr int64_t kCheckpointFormat = 1;

/// Rank r's part of a multi-process checkpoint: its method state (SwAV's queue holds its own
/// features) and random state, for the checkpoint of `epochs_done` epochs.
std::string rank_file(const std::string& checkpoint, int64_t rank, int64_t epochs_done) {
  return fmt::format("{}.rank{}.epoch{}", checkpoint, rank, epochs_done);
}

/// Removes the existing rank parts of `checkpoint` whose names start with `prefix` (all ranks:
/// ".rank"; one rank: ".rank<r>.epoch"), except `keep`.
void remove_rank_parts(const std::string& checkpoint, const std::string& prefix,
                       const std::string& keep = "") {
  namespace fs = std::filesystem;
  const fs::path path(checkpoint);
  const std::string stem = path.filename().string() + prefix;
  std::error_code ec;
  const fs::path folder = path.has_parent_path() ? path.parent_path() : fs::path(".");
  for (const auto& entry : fs::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(stem, 0) == 0 && entry.path() != fs::path(keep)) fs::remove(entry.path(), ec);
  }
}

/// Written next to the target, then renamed: a kill never leaves a half-written file.
void save_atomically(torch::serialize::OutputArchive& archive, const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const fs::path tmp = target.string() + ".tmp";
  // Serialised in memory first: LibTorch's file writer, when a write fails (a full disk),
  // throws again from its destructor and terminates the process instead of reporting it.
  std::string bytes;
  archive.save_to([&](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  std::string problem;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) problem = std::strerror(errno);
  }
  std::error_code ec;
  if (problem.empty()) {
    fs::rename(tmp, target, ec);
    if (!ec) return;
    problem = ec.message();
  }
  fs::remove(tmp, ec);
  fail(
      "checkpoint {}: cannot be written ({}): a full disk, a file size limit or no permission? "
      "The previous checkpoint, if any, is kept, and the run resumes from it once the cause is "
      "removed",
      path, problem);
}

}  // namespace

void remove_checkpoint(const std::string& checkpoint_path) {
  std::error_code ec;
  std::filesystem::remove(checkpoint_path, ec);
  std::filesystem::remove(checkpoint_path + ".tmp", ec);
  remove_rank_parts(checkpoint_path, ".rank");
}

void Trainer::save_checkpoint(int64_t epochs_done, LarcSgd& optimizer) const {
  const int64_t world = collective_.world_size(), rank = collective_.rank();
  // What each process holds of its own: the method's state, the epoch count, the random state.
  auto write_process_state = [&](torch::serialize::OutputArchive& archive) {
    method_.save_state(archive);
    archive.write("meta/epochs_done", torch::tensor(epochs_done));
    archive.write("meta/rng_cpu", at::detail::getDefaultCPUGenerator().get_state());
  };
  if (world > 1) {
    // Every rank but 0 writes its part first; rank 0's checkpoint, written after all of them, is
    // what makes the epoch's checkpoint exist. Parts of older epochs go once it does.
    if (rank > 0) {
      torch::serialize::OutputArchive part;
      write_process_state(part);
      save_atomically(part, rank_file(checkpoint_path_, rank, epochs_done));
    }
    collective_.barrier();
  }
  if (rank == 0) {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive model;
    method_.module().save(model);
    archive.write("model", model);
    torch::serialize::OutputArchive optim;
    optimizer.save(optim);
    archive.write("optimizer", optim);
    write_process_state(archive);
    archive.write("meta/world_size", torch::tensor(world));
    archive.write("meta/format", torch::tensor(kCheckpointFormat));
    save_atomically(archive, checkpoint_path_);
  }
  if (world > 1) {
    collective_.barrier();
    if (rank > 0) {
      remove_rank_parts(checkpoint_path_, fmt::format(".rank{}.epoch", rank),
                        rank_file(checkpoint_path_, rank, epochs_done));
    }
  }
}

bool Trainer::load_checkpoint(int64_t& epochs_done, LarcSgd& optimizer) {
  if (checkpoint_path_.empty() || !std::filesystem::exists(checkpoint_path_)) return false;
  torch::serialize::InputArchive archive;
  try {
    check_zip_integrity(checkpoint_path_, true);
    archive.load_from(checkpoint_path_, device_);
  } catch (const c10::Error& e) {
    fail("checkpoint {}: cannot be read ({}); delete it to start the run afresh", checkpoint_path_,
         e.what_without_backtrace());
  }
  // Checkpoints from before multi-process runs hold no world size: one process wrote them.
  int64_t saved_world = 1;
  if (torch::Tensor w; archive.try_read("meta/world_size", w)) saved_world = w.item<int64_t>();
  const int64_t world = collective_.world_size();
  if (saved_world != world) {
    fail(
        "checkpoint {}: written by a run of {} process(es), this run has {}; resume with {} "
        "(the per-process queues and random states cannot be split or merged exactly), or delete "
        "it to start the run afresh",
        checkpoint_path_, saved_world, world, saved_world);
  }
  if (torch::Tensor f;
      archive.try_read("meta/format", f) && f.item<int64_t>() != kCheckpointFormat) {
    fail(
        "checkpoint {}: written in checkpoint format {} by another version of the program; this "
        "version reads format {}. Resume it with the version that wrote it, or move it away to "
        "start the run afresh (the file is left as it is)",
        checkpoint_path_, f.item<int64_t>(), kCheckpointFormat);
  }
  torch::Tensor done, rng;
  try {
    torch::serialize::InputArchive model, optim;
    archive.read("model", model);
    if (const auto wrong = archive_mismatches(method_.module(), model); !wrong.empty()) {
      fail(
          "checkpoint {}: does not fit this run's model ({} tensor(s): {}): written by another "
          "version of the program? Resume it with the version that wrote it, or move it away to "
          "start the run afresh (the file is left as it is)",
          checkpoint_path_, wrong.size(), first_few(wrong));
    }
    method_.module().load(model);
    archive.read("optimizer", optim);
    optimizer.load(optim);
    method_.load_state(archive);
    archive.read("meta/epochs_done", done);
    archive.read("meta/rng_cpu", rng);
  } catch (const c10::Error& e) {
    // A missing or mis-shaped tensor: the model, optimiser or method state of another program
    // version (or of a file put there by hand); the run's own checkpoints always fit.
    fail(
        "checkpoint {}: does not fit this run ({}): written by another version of the program? "
        "Resume it with the version that wrote it, or move it away to start the run afresh (the "
        "file is left as it is)",
        checkpoint_path_, e.what_without_backtrace());
  }
  epochs_done = done.item<int64_t>();
  if (collective_.rank() > 0) {
    // This rank's own method state and random state, of the same epoch.
    const std::string part_path = rank_file(checkpoint_path_, collective_.rank(), epochs_done);
    torch::serialize::InputArchive part;
    try {
      check_zip_integrity(part_path, true);
      part.load_from(part_path, device_);
    } catch (const c10::Error& e) {
      fail(
          "checkpoint {}: rank {}'s part {} cannot be read ({}); the trial folder must be on a "
          "file system every process sees; delete the checkpoint to start afresh",
          checkpoint_path_, collective_.rank(), part_path, e.what_without_backtrace());
    }
    method_.load_state(part);
    part.read("meta/rng_cpu", rng);
  }
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // shares the global state
  generator.set_state(rng.cpu());
  return true;
}

TrainSummary Trainer::fit() {
  const auto& train = options_.train;
  Stopwatch total;
  method_.module().to(device_);
  if (train.channels_last) to_channels_last(method_.module());
  const int64_t world = collective_.world_size();
  if (world > 1) {
    // Every process starts from rank 0's weights and buffers; batch norm spans all processes.
    broadcast_state(method_.module(), collective_);
    if (train.sync_bn) sync_batch_norm(method_.module(), &collective_);
  }
  LarcSgd optimizer(method_.parameter_groups(), options_.optim);
  MultiCrop crops(options_.augment, static_cast<uint64_t>(train.seed));
  crops.set_pinned_output(device_.is_cuda());
  // augment.device = "cuda": the loader only draws the order; views are made on the GPU.
  std::unique_ptr<DeviceMultiCrop> device_crops;
  if (options_.augment.device != "cpu") {
    device_crops = std::make_unique<DeviceMultiCrop>(crops, train_, device_);
  }

  const int64_t iters_per_epoch = train_.size() / (train.batch_size * world);
  if (iters_per_epoch == 0) {
    fail("train.batch_size: {} x {} processes is larger than the training set ({} images)",
         train.batch_size, world, train_.size());
  }
  WarmupCosine schedule(options_.optim, iters_per_epoch, train.epochs);
  const CollapseWatch collapse(method_.collapse_reference(), options_, iters_per_epoch);

  StepContext ctx;
  ctx.device = device_;
  ctx.collective = &collective_;
  ctx.iters_per_epoch = iters_per_epoch;
  ctx.global_batch = train.batch_size * world;
  ctx.channels_last = train.channels_last;
  const bool bf16 = train.precision == "bf16" && device_.is_cuda();
  ctx.train_set = &train_;

  TrainSummary summary;
  int64_t epochs_done = 0;
  if (load_checkpoint(epochs_done, optimizer)) {
    summary.first_epoch = epochs_done;
  } else {
    method_.on_train_start(train_, ctx);
  }

  const int64_t total_steps = (train.epochs - epochs_done) * iters_per_epoch;
  int64_t steps_done = 0;
  Stopwatch since_start;
  for (int64_t epoch = epochs_done; epoch < train.epochs; ++epoch) {
    if (stop_after_ >= 0 && epoch - summary.first_epoch >= stop_after_) break;
    Stopwatch epoch_clock;
    ctx.epoch = epoch;
    method_.module().train();
    method_.on_epoch_start(ctx);
    std::vector<int64_t> order = method_.epoch_samples(ctx);
    if (order.empty()) {
      order = epoch_order(train_.size(), train.batch_size, static_cast<uint64_t>(train.seed), epoch,
                          collective_.rank(), world);
    } else {
      // Same length as the permutation, so iters_per_epoch and the lr schedule do not change.
      TORCH_CHECK(static_cast<int64_t>(order.size()) == train_.size(), "method '", method_.name(),
                  "': epoch_samples gave ", order.size(), " samples for ", train_.size(),
                  " images");
      order = shard_order(order, train.batch_size, collective_.rank(), world);
    }
    EpochLoader loader(train_, crops, train.batch_size, std::move(order), epoch,
                       options_.augment.prefetch, /*render_views=*/device_crops == nullptr);
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device_));
    // The method's extra scalars (StepOutput::logs), summed on the device like the loss, with the
    // number of steps that gave each, in the order they first appear.
    struct LogSum {
      std::string name;
      torch::Tensor sum;
      int64_t steps = 0;
    };
    std::vector<LogSum> log_sums;
    int64_t step = 0;
    double last_loss = std::nan("");
    while (auto batch = loader.next()) {
      if (device_crops) {
        const auto* idx = batch->indices.data_ptr<int64_t>();
        batch->views = device_crops->make_views(
            std::vector<int64_t>(idx, idx + batch->indices.numel()), epoch);
      }
      ctx.iteration = epoch * iters_per_epoch + step;
      ctx.lr = schedule.lr(ctx.iteration);
      optimizer.set_lr(ctx.lr);
      StepOutput out = [&] {
        AutocastScope autocast(bf16);
        return method_.step(*batch, ctx);
      }();
      optimizer.zero_grad();
      out.loss.backward();
      if (world > 1) average_gradients(method_.module(), collective_);
      method_.after_backward(ctx);
      optimizer.step();
      method_.after_step(ctx);
      loss_sum += out.loss.detach().to(torch::kFloat64);
      for (const auto& [name, value] : out.logs) {
        auto it = std::find_if(log_sums.begin(), log_sums.end(),
                               [&key = name](const LogSum& entry) { return entry.name == key; });
        if (it == log_sums.end())
          it = log_sums.insert(log_sums.end(), LogSum{name, loss_sum.new_zeros({}), 0});
        it->sum += value.detach().to(torch::kFloat64).reshape({});
        ++it->steps;
      }
      ++step;
      ++steps_done;
      const bool last = step == iters_per_epoch;
      if (step % train.log_every == 0 || last) {
        // The loss is read from the device only here, once per logging interval. With several
        // processes it is the mean over them, so all of them stop at the same step on a NaN.
        if (world > 1) {
          auto loss = out.loss.detach().to(torch::kCPU, torch::kFloat64).reshape({1}).clone();
          collective_.all_reduce_sum(loss);
          last_loss = loss.item<double>() / static_cast<double>(world);
        } else {
          last_loss = out.loss.item<double>();
        }
        if (!std::isfinite(last_loss)) {
          fail(
              "training diverged: the loss is {} at epoch {} iteration {} (lr {:.4g}); lower "
              "optim.base_lr or check the data",
              last_loss, epoch, ctx.iteration, ctx.lr);
        }
        if (progress_) {
          const double elapsed = since_start.seconds();
          const double eta = elapsed / steps_done * (total_steps - steps_done);
          const double ips = static_cast<double>(step * train.batch_size) / epoch_clock.seconds();
          std::string extra;  // the method's own scalars of this step
          for (const auto& [name, value] : out.logs)
            extra += fmt::format("  {} {:.4f}", name, value.item<double>());
          print_progress(
              fmt::format("{}epoch {}/{}  step {}/{}  loss {:.4f}{}  lr {:.4g}  {:.0f} img/s  "
                          "ETA {}",
                          label_, epoch + 1, train.epochs, step, iters_per_epoch, last_loss, extra,
                          ctx.lr, ips, format_duration(eta)),
              last);
        }
      }
    }
    const double seconds = epoch_clock.seconds();
    if (world > 1) {
      // The epoch's mean over every process's steps (each loss is its process's batch mean).
      collective_.all_reduce_sum(loss_sum);
      loss_sum.div_(static_cast<double>(world));
      for (auto& log : log_sums) {
        collective_.all_reduce_sum(log.sum);
        log.sum.div_(static_cast<double>(world));
      }
    }
    const double mean_loss = loss_sum.item<double>() / static_cast<double>(step);
    if (!std::isfinite(mean_loss)) {
      fail("training diverged: the mean loss of epoch {} is {}", epoch, mean_loss);
    }
    Scalars metrics = {
        {"loss", mean_loss},
        {"lr", ctx.lr},
        {"seconds", seconds},
        {"images_per_sec", static_cast<double>(step * train.batch_size * world) / seconds}};
    for (const auto& log : log_sums)
      metrics.emplace_back(log.name, log.sum.item<double>() / static_cast<double>(log.steps));
    for (auto& kv : method_.on_epoch_end(ctx)) metrics.push_back(kv);
    // data.skip_corrupt: how many files of the training set were found undecodable so far.
    if (train_.streamed() && train_.files->skip_corrupt)
      metrics.emplace_back("corrupt_files_skipped",
                           static_cast<double>(train_.files->corrupt->count()));
    std::vector<CollapseFinding> findings;
    if (collapse.active()) {
      metrics.emplace_back("loss_over_chance", collapse.loss_over_chance(metrics));
      findings = collapse.judge(epoch, metrics);
      if (!findings.empty()) {
        metrics.emplace_back("collapse", static_cast<double>(collapse_flag(findings)));
        if (collective_.rank() == 0) {
          fmt::print(stderr, "{}{}", label_, describe(findings, epoch));
          std::fflush(stderr);
        }
      }
    }
    summary.epoch_metrics.push_back(metrics);
    summary.epochs = epoch + 1;
    if (callback_) callback_(epoch, metrics);
    if (!findings.empty() && train.stop_on_collapse) {
      // The epoch's metrics, with the flag, are stored; no checkpoint is written for it.
      fail("training stopped at epoch {} (train.stop_on_collapse = true): {}; remedies: {}",
           epoch + 1, findings[0].what, fmt::join(findings[0].remedies, "; "));
    }
    const bool final_epoch = epoch + 1 == train.epochs;
    if (!checkpoint_path_.empty() && (final_epoch || (epoch + 1) % train.checkpoint_every == 0)) {
      save_checkpoint(epoch + 1, optimizer);
    }
  }
  if (summary.epochs == 0) summary.epochs = epochs_done;
  summary.seconds = total.seconds();
  return summary;
}

}  // namespace swav
