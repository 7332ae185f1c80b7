#include <catch2/catch.hpp>

#include "helpers.h"
#include "swav/core/sinkhorn.h"
#include "swav/data/image_set.h"
#include "swav/data/loader.h"
#include "swav/data/multicrop.h"
#include "swav/method/swav.h"
#include "swav/optim/larc.h"

using namespace swav;

namespace {

struct Fixture {
  ExperimentOptions options = test::tiny_experiment();
  ImageSet train;
  Fixture() { train = load_split(options.data, Split::kTrain); }

  std::vector<Batch> batches(int64_t epoch, int64_t count) {
    MultiCrop crops(options.augment, 7);
    EpochLoader loader(train, crops, options.train.batch_size, 7, epoch);
    std::vector<Batch> out;
    while (auto b = loader.next()) {
      if (static_cast<int64_t>(out.size()) == count) break;
      out.push_back(*b);
    }
    return out;
  }
};

StepContext context(int64_t global_batch) {
  StepContext ctx;
  ctx.global_batch = global_batch;
  return ctx;
}

}  // namespace

TEST_CASE("SwAV queue is a FIFO of past embeddings, used only once full", "[method][swav]") {
  Fixture f;
  f.options.swav.queue_length = 2 * f.options.train.batch_size + 5;  // rounded down to 2 batches
  torch::manual_seed(0);
  SwavMethod method(MethodSetup::from(f.options, f.train.channels(), f.train.size()),
                    f.options.swav);
  auto ctx = context(f.options.train.batch_size);
  method.on_epoch_start(ctx);
  REQUIRE(method.queue().defined());
  const int64_t B = f.options.train.batch_size;
  CHECK(method.queue().sizes() == torch::IntArrayRef({2, 2 * B, f.options.model.output_dim}));

  auto batches = f.batches(0, 3);
  std::vector<torch::Tensor> snapshots;
  for (int i = 0; i < 3; ++i) {
    method.step(batches[i], ctx);
    snapshots.push_back(method.queue().clone());
    CHECK(method.queue_filled() == std::min<int64_t>(2 * B, (i + 1) * B));
  }
  // What was at the front moves back by one batch; the oldest falls off the end.
  CHECK(torch::equal(snapshots[1].narrow(1, B, B), snapshots[0].narrow(1, 0, B)));
  CHECK(torch::equal(snapshots[2].narrow(1, B, B), snapshots[1].narrow(1, 0, B)));
  CHECK_FALSE(torch::equal(snapshots[2].narrow(1, 0, B), snapshots[1].narrow(1, 0, B)));
  // Before the first step nothing is written; rows are unit embeddings once written.
  auto norms = snapshots[1].norm(2, 2);
  CHECK(torch::allclose(norms, torch::ones_like(norms), 1e-5, 1e-5));
}

TEST_CASE("SwAV queue starts at epoch_queue_starts", "[method][swav]") {
  Fixture f;
  f.options.swav.queue_length = 32;
  f.options.swav.epoch_queue_starts = 2;
  SwavMethod method(MethodSetup::from(f.options, f.train.channels(), f.train.size()),
                    f.options.swav);
  auto ctx = context(f.options.train.batch_size);
  ctx.epoch = 1;
  method.on_epoch_start(ctx);
  CHECK_FALSE(method.queue().defined());
  ctx.epoch = 2;
  method.on_epoch_start(ctx);
  CHECK(method.queue().defined());
}

TEST_CASE("SwAV prototypes stay unchanged while frozen and change after", "[method][swav]") {
  Fixture f;
  f.options.swav.freeze_prototypes_niters = 2;
  torch::manual_seed(3);
  SwavMethod method(MethodSetup::from(f.options, f.train.channels(), f.train.size()),
                    f.options.swav);
  method.network()->prototypes->normalize();
  LarcSgd optimizer(method.parameters(), f.options.optim);
  optimizer.set_lr(0.5);
  auto ctx = context(f.options.train.batch_size);
  method.on_epoch_start(ctx);
  auto batches = f.batches(0, 4);
  auto head_before = method.network()->head->parameters()[0].detach().clone();
  for (int64_t it = 0; it < 4; ++it) {
    ctx.iteration = it;
    auto before = method.network()->prototypes->weight(0).detach().clone();
    auto out = method.step(batches[it], ctx);
    optimizer.zero_grad();
    out.loss.backward();
    method.after_backward(ctx);
    optimizer.step();
    auto after = method.network()->prototypes->weight(0).detach();
    const double change = (after - before).abs().max().item<double>();
    INFO("iteration " << it << " change " << change);
    if (it < 2) {
      CHECK(change < 1e-6);  // only the (idempotent) row normalisation touched them
    } else {
      CHECK(change > 1e-5);
    }
  }
  // The rest of the network trained all along.
  CHECK_FALSE(torch::equal(head_before, method.network()->head->parameters()[0]));
}

TEST_CASE("SwAV averages the loss over prototype heads", "[method][swav]") {
  Fixture f;
  auto batch = f.batches(0, 1)[0];
  auto ctx = context(f.options.train.batch_size);
  torch::manual_seed(4);
  SwavMethod single(MethodSetup::from(f.options, f.train.channels(), f.train.size()),
                    f.options.swav);
  f.options.model.prototypes = {12, 12};
  torch::manual_seed(4);  // same draws: backbone, head and first prototype head are identical
  SwavMethod twin(MethodSetup::from(f.options, f.train.channels(), f.train.size()), f.options.swav);
  {
    torch::NoGradGuard no_grad;
    twin.network()->prototypes->weight(1).copy_(twin.network()->prototypes->weight(0));
  }
  single.on_epoch_start(ctx);
  twin.on_epoch_start(ctx);
  const double one = single.step(batch, ctx).loss.item<double>();
  const double two = twin.step(batch, ctx).loss.item<double>();
  CHECK(std::isfinite(one));
  CHECK(one > 0);
  CHECK(two == Approx(one).epsilon(1e-6));
  auto usage = single.on_epoch_end(ctx);
  REQUIRE(usage.size() == 2);
  CHECK(usage[0].first == "prototype_usage");
  CHECK(usage[0].second > 0);
  CHECK(usage[0].second <= 1);
  // The codes' mean entropy as a share of ln K: neither one-hot nor uniform.
  CHECK(usage[1].first == "code_entropy");
  CHECK(usage[1].second > 0.1);
  CHECK(usage[1].second < 0.99);
  // The same share computed here from the codes of the step's scores (the forward pass in train
  // mode depends only on the batch, and the step changed no parameter).
  {
    torch::NoGradGuard no_grad;
    auto scores = single.network()->forward(batch.views).second[0];
    const int64_t B = batch.views[0].size(0);
    double entropy = 0;
    for (int64_t crop : f.options.swav.crops_for_assign) {
      auto q = sinkhorn_codes(scores.narrow(0, crop * B, B), f.options.swav.epsilon,
                              f.options.swav.sinkhorn_iterations, SinkhornImpl::kFused);
      entropy -= (q * q.log()).sum().item<double>();
    }
    entropy /= static_cast<double>(B * f.options.swav.crops_for_assign.size()) * std::log(12.0);
    CHECK(usage[1].second == Approx(entropy).epsilon(1e-5));
  }
}
