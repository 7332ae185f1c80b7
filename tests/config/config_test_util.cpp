#include "config_test_util.h"

namespace swav::test {

void check_same_options(const ExperimentOptions& a, const ExperimentOptions& b) {
  CHECK(a.name == b.name);
  CHECK(a.method == b.method);
  CHECK(a.db == b.db);
  CHECK(a.run_dir == b.run_dir);

  CHECK(a.data.format == b.data.format);
  CHECK(a.data.root == b.data.root);
  CHECK(a.data.train_split == b.data.train_split);
  CHECK(a.data.test_split == b.data.test_split);
  CHECK(a.data.image_size == b.data.image_size);
  CHECK(a.data.train_limit == b.data.train_limit);
  CHECK(a.data.test_limit == b.data.test_limit);
  CHECK(a.data.cache_dir == b.data.cache_dir);
  CHECK(a.data.synthetic_classes == b.data.synthetic_classes);
  CHECK(a.data.synthetic_train_per_class == b.data.synthetic_train_per_class);
  CHECK(a.data.synthetic_test_per_class == b.data.synthetic_test_per_class);
  CHECK(a.data.synthetic_size == b.data.synthetic_size);
  CHECK(a.data.synthetic_channels == b.data.synthetic_channels);

  REQUIRE(a.augment.crops.size() == b.augment.crops.size());
  for (size_t i = 0; i < a.augment.crops.size(); ++i) {
    CHECK(a.augment.crops[i].size == b.augment.crops[i].size);
    CHECK(a.augment.crops[i].count == b.augment.crops[i].count);
    CHECK(a.augment.crops[i].min_scale == b.augment.crops[i].min_scale);
    CHECK(a.augment.crops[i].max_scale == b.augment.crops[i].max_scale);
  }
  CHECK(a.augment.min_ratio == b.augment.min_ratio);
  CHECK(a.augment.max_ratio == b.augment.max_ratio);
  CHECK(a.augment.flip_prob == b.augment.flip_prob);
  CHECK(a.augment.jitter_prob == b.augment.jitter_prob);
  CHECK(a.augment.brightness == b.augment.brightness);
  CHECK(a.augment.contrast == b.augment.contrast);
  CHECK(a.augment.saturation == b.augment.saturation);
  CHECK(a.augment.hue == b.augment.hue);
  CHECK(a.augment.grayscale_prob == b.augment.grayscale_prob);
  CHECK(a.augment.blur_prob == b.augment.blur_prob);
  CHECK(a.augment.blur_sigma_min == b.augment.blur_sigma_min);
  CHECK(a.augment.blur_sigma_max == b.augment.blur_sigma_max);
  CHECK(a.augment.mean == b.augment.mean);
  CHECK(a.augment.std == b.augment.std);
  CHECK(a.augment.workers == b.augment.workers);
  CHECK(a.augment.prefetch == b.augment.prefetch);

  CHECK(a.model.arch == b.model.arch);
  CHECK(a.model.stem == b.model.stem);
  CHECK(a.model.width == b.model.width);
  CHECK(a.model.hidden_dim == b.model.hidden_dim);
  CHECK(a.model.output_dim == b.model.output_dim);
  CHECK(a.model.prototypes == b.model.prototypes);

  CHECK(a.swav.epsilon == b.swav.epsilon);
  CHECK(a.swav.sinkhorn_iterations == b.swav.sinkhorn_iterations);
  CHECK(a.swav.temperature == b.swav.temperature);
  CHECK(a.swav.crops_for_assign == b.swav.crops_for_assign);
  CHECK(a.swav.queue_length == b.swav.queue_length);
  CHECK(a.swav.epoch_queue_starts == b.swav.epoch_queue_starts);
  CHECK(a.swav.freeze_prototypes_niters == b.swav.freeze_prototypes_niters);

  CHECK(a.optim.base_lr == b.optim.base_lr);
  CHECK(a.optim.final_lr == b.optim.final_lr);
  CHECK(a.optim.start_warmup == b.optim.start_warmup);
  CHECK(a.optim.warmup_epochs == b.optim.warmup_epochs);
  CHECK(a.optim.momentum == b.optim.momentum);
  CHECK(a.optim.weight_decay == b.optim.weight_decay);
  CHECK(a.optim.larc == b.optim.larc);
  CHECK(a.optim.larc_trust == b.optim.larc_trust);
  CHECK(a.optim.larc_clip == b.optim.larc_clip);
  CHECK(a.optim.larc_eps == b.optim.larc_eps);

  CHECK(a.train.epochs == b.train.epochs);
  CHECK(a.train.batch_size == b.train.batch_size);
  CHECK(a.train.device == b.train.device);
  CHECK(a.train.seed == b.train.seed);
  CHECK(a.train.threads == b.train.threads);
  CHECK(a.train.checkpoint_every == b.train.checkpoint_every);
  CHECK(a.train.log_every == b.train.log_every);

  CHECK(a.eval.knn_k == b.eval.knn_k);
  CHECK(a.eval.knn_temperature == b.eval.knn_temperature);
  CHECK(a.eval.linear == b.eval.linear);
  CHECK(a.eval.linear_epochs == b.eval.linear_epochs);
  CHECK(a.eval.linear_lr == b.eval.linear_lr);
  CHECK(a.eval.linear_momentum == b.eval.linear_momentum);
  CHECK(a.eval.linear_weight_decay == b.eval.linear_weight_decay);
  CHECK(a.eval.linear_batch_size == b.eval.linear_batch_size);
  CHECK(a.eval.untrained_baseline == b.eval.untrained_baseline);
  CHECK(a.eval.batch_size == b.eval.batch_size);
}

ExperimentOptions customised_options() {
  ExperimentOptions o;
  o.name = "custom-run";
  o.db = "/tmp/with space/results.db";
  o.run_dir = "/tmp/runs/custom";
  auto& d = o.data;
  d.format = "synthetic";
  d.root = "C:\\data \"quoted\"\ttab \xc3\xa9";  // escapes and UTF-8 must survive
  d.train_split = "tr";
  d.test_split = "te";
  d.image_size = 64;
  d.train_limit = 1000;
  d.test_limit = 200;
  d.cache_dir = "/cache";
  d.synthetic_classes = 7;
  d.synthetic_train_per_class = 11;
  d.synthetic_test_per_class = 3;
  d.synthetic_size = 24;
  d.synthetic_channels = 1;
  auto& a = o.augment;
  a.crops = {{32, 2, 0.25, 1.0}, {16, 4, 0.05, 0.25}};
  a.min_ratio = 0.5;
  a.max_ratio = 2.0;
  a.flip_prob = 0.25;
  a.jitter_prob = 0.7;
  a.brightness = 0.4;
  a.contrast = 0.3;
  a.saturation = 0.2;
  a.hue = 0.1;
  a.grayscale_prob = 0.15;
  a.blur_prob = 0.0;
  a.blur_sigma_min = 0.2;
  a.blur_sigma_max = 1.5;
  a.mean = {0.12345678901234567};
  a.std = {1.0 / 3.0};
  a.workers = 5;
  a.prefetch = 3;
  auto& m = o.model;
  m.arch = "convnet";
  m.stem = "cifar";
  m.width = 0.5;
  m.hidden_dim = 0;
  m.output_dim = 32;
  m.prototypes = {10, 20, 30};
  auto& s = o.swav;
  s.epsilon = 0.03;
  s.sinkhorn_iterations = 5;
  s.temperature = 0.2;
  s.crops_for_assign = {1, 0, 5};
  s.queue_length = 384;
  s.epoch_queue_starts = 2;
  s.freeze_prototypes_niters = 7;
  auto& op = o.optim;
  op.base_lr = 0.6;
  op.final_lr = 1e-7;
  op.start_warmup = 0.0;
  op.warmup_epochs = 2;
  op.momentum = 0.8;
  op.weight_decay = 1.5e-5;
  op.larc = false;
  op.larc_trust = 0.02;
  op.larc_clip = true;
  op.larc_eps = 1e-9;
  auto& t = o.train;
  t.epochs = 3;
  t.batch_size = 16;
  t.device = "cuda:1";
  t.seed = 7;
  t.threads = 2;
  t.checkpoint_every = 2;
  t.log_every = 5;
  auto& e = o.eval;
  e.knn_k = {1, 5};
  e.knn_temperature = 0.07;
  e.linear = false;
  e.linear_epochs = 9;
  e.linear_lr = 0.05;
  e.linear_momentum = 0.0;
  e.linear_weight_decay = 0.0;
  e.linear_batch_size = 32;
  e.untrained_baseline = false;
  e.batch_size = 8;
  return o;
}

}  // namespace swav::test
