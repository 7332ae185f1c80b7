// Shared setup for the baseline tests: the tiny synthetic experiment configured per method.
#pragma once
#include <string>
#include <vector>

#include "helpers.h"
#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/data/loader.h"
#include "swav/data/multicrop.h"
#include "swav/train/method.h"

namespace swav::test {

/// tiny_experiment() set up for `method` with small clusters, queues and no warm-up, so every
/// part of the method runs within a few dozen steps.
inline ExperimentOptions tiny_baseline(const std::string& method) {
  ExperimentOptions o = tiny_experiment();
  o.method = method;
  o.model.prototypes = {12, 10};
  if (method == "deepcluster_v1") o.model.prototypes = {12};  // one classifier
  o.optim.exclude_bias_bn = method == "simclr";
  o.pcl.queue_length = 64;
  o.pcl.warmup_epochs = 1;
  o.pcl.clusters = {8, 16};
  o.pcl.negative_prototypes = 6;
  o.pcl.kmeans_iterations = 5;
  o.pcl.kmeans_restarts = 2;
  o.pcl.momentum = 0.99;
  o.simclr.temperature = 0.5;
  o.sela.lambda = 10;
  o.sela.label_steps = 100;  // more than epochs: a label step at every epoch start
  o.sela.schedule = "linear";
  return o;
}

/// The first `count` batches of `epoch` of `train`.
inline std::vector<Batch> tiny_batches(const ExperimentOptions& o, const ImageSet& train,
                                       int64_t epoch, int64_t count) {
  MultiCrop crops(o.augment, 7);
  EpochLoader loader(train, crops, o.train.batch_size, 7, epoch);
  std::vector<Batch> out;
  while (auto b = loader.next()) {
    if (static_cast<int64_t>(out.size()) == count) break;
    out.push_back(*b);
  }
  return out;
}

}  // namespace swav::test
