// Batches of multi-crop views, prepared ahead on worker threads.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"

namespace swav {

/// One training batch.
struct Batch {
  std::vector<torch::Tensor> views;  // one per crop: float [B, C, s, s]
  torch::Tensor indices;             // int64 [B]: sample indices into the ImageSet
  torch::Tensor labels;              // int64 [B]: ground truth (only for monitoring)
};

/// Iterates one epoch in a shuffled order fixed by (seed, epoch); drops the last partial batch.
/// Batches are produced by a background thread (which uses MultiCrop's workers) `prefetch` ahead.
/// For multi-process runs, `rank`/`world_size` take a disjoint share of each epoch's permutation.
/// The ImageSet and MultiCrop are referenced, not copied: they must outlive the loader. Destroying
/// the loader mid-epoch stops the producer after the batch it is preparing. With render_views
/// false, batches carry indices and labels only (views are made on the device: DeviceMultiCrop).
class EpochLoader {
 public:
  EpochLoader(const ImageSet& set, const MultiCrop& crops, int64_t batch_size, uint64_t seed,
              int64_t epoch, int64_t prefetch = 2, int64_t rank = 0, int64_t world_size = 1,
              bool render_views = true);
  /// The same over a given order (this rank's share, e.g. from shard_order): batches are its
  /// consecutive blocks of batch_size; a trailing partial batch is dropped. Indices may repeat.
  EpochLoader(const ImageSet& set, const MultiCrop& crops, int64_t batch_size,
              std::vector<int64_t> order, int64_t epoch, int64_t prefetch = 2,
              bool render_views = true);
  ~EpochLoader();
  EpochLoader(const EpochLoader&) = delete;
  EpochLoader& operator=(const EpochLoader&) = delete;

  /// Number of batches in this epoch (for this rank).
  int64_t num_batches() const;
  /// Next batch; std::nullopt after the last one. Rethrows any error raised while preparing.
  std::optional<Batch> next();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The epoch's sample order (for this rank), as EpochLoader uses it: a permutation fixed by
/// (seed, epoch), truncated to a multiple of batch_size * world_size, then split by rank as
/// shard_order splits it.
std::vector<int64_t> epoch_order(int64_t dataset_size, int64_t batch_size, uint64_t seed,
                                 int64_t epoch, int64_t rank = 0, int64_t world_size = 1);

/// This rank's share of an epoch's full order, as epoch_order takes it: the order truncated to a
/// multiple of batch_size * world_size, rank r taking every world_size-th entry from entry r (as
/// torch's DistributedSampler). Step i's batches of all ranks together are then the entries
/// [i * batch_size * world_size, (i + 1) * batch_size * world_size): the batch one process with
/// batch_size * world_size takes at step i, so W processes train on what one process would.
std::vector<int64_t> shard_order(const std::vector<int64_t>& order, int64_t batch_size,
                                 int64_t rank = 0, int64_t world_size = 1);

}  // namespace swav
