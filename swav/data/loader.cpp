#include "swav/data/loader.h"

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "swav/data/rng.h"

namespace swav {

std::vector<int64_t> epoch_order(int64_t dataset_size, int64_t batch_size, uint64_t seed,
                                 int64_t epoch, int64_t rank, int64_t world_size) {
  TORCH_CHECK(
      dataset_size >= 0 && batch_size > 0 && world_size > 0 && rank >= 0 && rank < world_size,
      "epoch_order: bad arguments");
  std::vector<int64_t> order(dataset_size);
  std::iota(order.begin(), order.end(), 0);
  data::Rng rng(
      {static_cast<uint64_t>(data::Stream::kEpochOrder), seed, static_cast<uint64_t>(epoch)});
  for (int64_t i = dataset_size - 1; i > 0; --i) {  // Fisher-Yates
    std::swap(order[i], order[rng.below(static_cast<uint64_t>(i + 1))]);
  }
  return shard_order(order, batch_size, rank, world_size);
}

std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t batch_size,
                                 int64_t rank, int64_t world_size) {
  TORCH_CHECK(batch_size > 0 && world_size > 0 && rank >= 0 && rank < world_size,
              "shard_order: bad arguments");
  // Every rank gets the same number of full batches; rank r takes entries r, r + W, r + 2W, ...
  // (torch's DistributedSampler), so step i's batches of all ranks together are entries
  // [i * B * W, (i + 1) * B * W) of the order: the batch one process of batch B * W takes at step
  // i.
  const auto size = static_cast<int64_t>(order.size());
  const int64_t per_rank = size / (batch_size * world_size) * batch_size;
  std::vector<int64_t> share(static_cast<size_t>(per_rank));
  for (int64_t i = 0; i < per_rank; ++i) share[i] = order[i * world_size + rank];
  return share;
}

struct EpochLoader::State {
  const ImageSet& set;
  const MultiCrop& crops;
  int64_t batch_size;
  int64_t epoch;
  int64_t prefetch;
  std::vector<int64_t> order;

  std::mutex mutex;
  std::condition_variable changed;
  std::deque<Batch> ready;
  bool render = true;  // make the views here (false: the device makes them)
  bool done = false;   // the producer has finished (or failed)
  bool stop = false;   // the consumer is going away
  std::exception_ptr error;
  std::thread producer;

  State(const ImageSet& s, const MultiCrop& c) : set(s), crops(c) {}

  int64_t num_batches() const { return static_cast<int64_t>(order.size()) / batch_size; }

  void produce() {
    try {
      const int64_t* all_labels = set.labels.data_ptr<int64_t>();
      for (int64_t b = 0; b < num_batches(); ++b) {
        {
          std::unique_lock<std::mutex> lock(mutex);
          changed.wait(lock, [&] { return stop || static_cast<int64_t>(ready.size()) < prefetch; });
          if (stop) break;
        }
        std::vector<int64_t> idx(order.begin() + b * batch_size,
                                 order.begin() + (b + 1) * batch_size);
        Batch batch;
        if (render) batch.views = crops.make_views(set, idx, epoch);
        batch.indices = torch::tensor(idx, torch::kInt64);
        batch.labels = torch::empty({batch_size}, torch::kInt64);
        int64_t* labels = batch.labels.data_ptr<int64_t>();
        for (int64_t i = 0; i < batch_size; ++i) labels[i] = all_labels[idx[i]];
        std::lock_guard<std::mutex> lock(mutex);
        ready.push_back(std::move(batch));
        changed.notify_all();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      error = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mutex);
    done = true;
    changed.notify_all();
  }
};

EpochLoader::EpochLoader(const ImageSet& set, const MultiCrop& crops, int64_t batch_size,
                         uint64_t seed, int64_t epoch, int64_t prefetch, int64_t rank,
                         int64_t world_size, bool render_views)
    : EpochLoader(set, crops, batch_size,
                  epoch_order(set.size(), batch_size, seed, epoch, rank, world_size), epoch,
                  prefetch, render_views) {}

EpochLoader::EpochLoader(const ImageSet& set, const MultiCrop& crops, int64_t batch_size,
                         std::vector<int64_t> order, int64_t epoch, int64_t prefetch,
                         bool render_views)
    : state_(std::make_unique<State>(set, crops)) {
  TORCH_CHECK(set.labels.defined() && set.labels.scalar_type() == torch::kInt64 &&
                  set.labels.is_contiguous() && set.labels.numel() == set.size(),
              "EpochLoader: ImageSet.labels must be a contiguous int64 [N] tensor");
  state_->batch_size = batch_size;
  state_->epoch = epoch;
  state_->prefetch = std::max<int64_t>(1, prefetch);
  state_->render = render_views;
  for (int64_t i : order) {
    TORCH_CHECK(i >= 0 && i < set.size(), "EpochLoader: sample index ", i, " outside the set of ",
                set.size());
  }
  state_->order = std::move(order);
  State* s = state_.get();
  s->producer = std::thread([s] { s->produce(); });
}

EpochLoader::~EpochLoader() {
  {
    std::lock_guard<std::mutex> lock(state_->mutex);
    state_->stop = true;
  }
  state_->changed.notify_all();
  state_->producer.join();  // at most the batch in progress is finished first
}

int64_t EpochLoader::num_batches() const {
  return state_->num_batches();
}

std::optional<Batch> EpochLoader::next() {
  std::unique_lock<std::mutex> lock(state_->mutex);
  state_->changed.wait(lock, [&] { return !state_->ready.empty() || state_->done; });
  if (!state_->ready.empty()) {
    Batch batch = std::move(state_->ready.front());
    state_->ready.pop_front();
    state_->changed.notify_all();
    return batch;
  }
  if (state_->error) {
    auto error = state_->error;
    state_->error = nullptr;  // reported once; later calls see the end of the epoch
    std::rethrow_exception(error);
  }
  return std::nullopt;
}

}  // namespace swav
