#include <catch2/catch.hpp>

#include "../helpers.h"
#include "swav/optim/schedule.h"

using swav::test::reference;

TEST_CASE("warmup-cosine schedule matches the reference learning rates", "[optim][schedule]") {
  const auto& c = reference()["warmup_cosine"];
  swav::OptimOptions options;
  options.start_warmup = c["start_warmup"].get<double>();
  options.base_lr = c["base_lr"].get<double>();
  options.final_lr = c["final_lr"].get<double>();
  options.warmup_epochs = c["warmup_epochs"].get<int64_t>();
  swav::WarmupCosine schedule(options, c["iters_per_epoch"].get<int64_t>(),
                              c["epochs"].get<int64_t>());
  const auto expected = c["lr"].get<std::vector<double>>();
  REQUIRE(schedule.total_iterations() == static_cast<int64_t>(expected.size()));
  // The reference file's warmup steps by (base - start) / warmup_iters; the official script's
  // numpy.linspace(start_warmup, base_lr, warmup_iters) steps by (base - start) /
  // (warmup_iters - 1), which is what the schedule follows. So the file is the reference for the
  // cosine part, and the warmup is checked against linspace's definition.
  const int64_t warmup = options.warmup_epochs * c["iters_per_epoch"].get<int64_t>();
  for (size_t it = 0; it < expected.size(); ++it) {
    INFO("iteration " << it);
    const auto i = static_cast<int64_t>(it);
    const double want = i < warmup
                            ? options.start_warmup + (options.base_lr - options.start_warmup) *
                                                         static_cast<double>(i) /
                                                         static_cast<double>(warmup - 1)
                            : expected[it];
    CHECK(std::abs(schedule.lr(i) - want) <= 1e-9);
  }
  // Both ends of the warmup, as linspace gives them.
  CHECK(schedule.lr(0) == Approx(options.start_warmup));
  CHECK(schedule.lr(warmup - 1) == Approx(options.base_lr));
  CHECK(schedule.lr(warmup) == Approx(options.base_lr));
}

TEST_CASE("warmup-cosine schedule edge cases", "[optim][schedule]") {
  swav::OptimOptions options;
  options.base_lr = 0.6;
  options.final_lr = 0.0006;
  options.warmup_epochs = 0;  // the batch-256 setting: no warmup
  swav::WarmupCosine schedule(options, 5, 4);
  CHECK(schedule.lr(0) == Approx(0.6));
  CHECK(schedule.lr(10) == Approx(0.0006 + 0.5 * (0.6 - 0.0006)));  // half way: cos = 0
  CHECK(schedule.lr(19) > 0.0006);
  CHECK(schedule.lr(20) == Approx(0.0006));  // past the end it stays at final_lr
  CHECK(schedule.lr(1000) == Approx(0.0006));
  for (int64_t it = 1; it < 20; ++it) CHECK(schedule.lr(it) < schedule.lr(it - 1));

  options.warmup_epochs = 5;
  CHECK_THROWS(swav::WarmupCosine(options, 5, 4));
  CHECK_THROWS(swav::WarmupCosine(options, 0, 10));
}
