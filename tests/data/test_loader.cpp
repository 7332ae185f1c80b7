// EpochLoader and epoch_order.
#include <catch2/catch.hpp>

#include <set>

#include "swav/data/image_set.h"
#include "swav/data/loader.h"
#include "swav/util/error.h"

namespace {

swav::ImageSet small_set(int64_t per_class) {
  swav::DataOptions options;
  options.synthetic_channels = 1;
  options.synthetic_size = 12;
  options.synthetic_train_per_class = per_class;
  return swav::make_synthetic(options, swav::Split::kTrain);
}

swav::AugmentOptions small_crops() {
  swav::AugmentOptions o;
  o.crops = {{12, 2, 0.3, 1.0}, {6, 2, 0.1, 0.4}};
  o.mean = {0.5};
  o.std = {0.25};
  return o;
}

}  // namespace

TEST_CASE("epoch_order is a seeded, truncated, rank-split permutation", "[data]") {
  auto order = swav::epoch_order(103, 10, 5, 0);
  REQUIRE(order.size() == 100);
  CHECK(std::set<int64_t>(order.begin(), order.end()).size() == 100);
  CHECK(*std::max_element(order.begin(), order.end()) < 103);
  CHECK(order == swav::epoch_order(103, 10, 5, 0));
  CHECK(order != swav::epoch_order(103, 10, 5, 1));
  CHECK(order != swav::epoch_order(103, 10, 6, 0));

  // Two ranks: alternate entries of the same permutation, disjoint, 50 each; each step's two
  // batches of 10 are together the single process's step of batch 20.
  auto r0 = swav::epoch_order(103, 10, 5, 0, 0, 2), r1 = swav::epoch_order(103, 10, 5, 0, 1, 2);
  REQUIRE(r0.size() == 50);
  REQUIRE(r1.size() == 50);
  const auto whole = swav::epoch_order(103, 20, 5, 0);
  for (size_t i = 0; i < 50; ++i) {
    CHECK(r0[i] == order[2 * i]);
    CHECK(r1[i] == order[2 * i + 1]);
  }
  for (size_t step = 0; step < 5; ++step) {
    std::set<int64_t> ranks(r0.begin() + 10 * step, r0.begin() + 10 * (step + 1));
    ranks.insert(r1.begin() + 10 * step, r1.begin() + 10 * (step + 1));
    CHECK(ranks == std::set<int64_t>(whole.begin() + 20 * step, whole.begin() + 20 * (step + 1)));
  }
  // Three ranks of batch 10 need multiples of 30: 90 samples, 30 each.
  CHECK(swav::epoch_order(103, 10, 5, 0, 2, 3).size() == 30);
  CHECK(swav::epoch_order(5, 10, 5, 0).empty());
}

TEST_CASE("EpochLoader yields the epoch's order with matching labels and views", "[data]") {
  auto set = small_set(7);  // 70 samples
  swav::MultiCrop crops(small_crops(), 3);
  swav::EpochLoader loader(set, crops, 8, 3, 2, 2);
  CHECK(loader.num_batches() == 8);
  const auto order = swav::epoch_order(70, 8, 3, 2);
  std::vector<int64_t> seen;
  while (auto batch = loader.next()) {
    REQUIRE(batch->views.size() == 4);
    CHECK(batch->views[2].sizes() == torch::IntArrayRef({8, 1, 6, 6}));
    CHECK(torch::equal(batch->labels, set.labels.index_select(0, batch->indices)));
    std::vector<int64_t> idx(batch->indices.data_ptr<int64_t>(),
                             batch->indices.data_ptr<int64_t>() + 8);
    auto expected = crops.make_views(set, idx, 2);
    for (size_t k = 0; k < 4; ++k) CHECK(torch::equal(batch->views[k], expected[k]));
    seen.insert(seen.end(), idx.begin(), idx.end());
  }
  CHECK(seen == order);
  CHECK_FALSE(loader.next().has_value());
}

TEST_CASE("EpochLoader rethrows errors from the producer", "[data]") {
  auto set = small_set(4);
  auto o = small_crops();
  o.mean = {0.5, 0.5};  // two values for one-channel images
  swav::MultiCrop crops(o, 1);
  swav::EpochLoader loader(set, crops, 4, 1, 0);
  CHECK_THROWS_AS(loader.next(), swav::UserError);
  CHECK_FALSE(loader.next().has_value());
}

TEST_CASE("EpochLoader shuts down cleanly mid-epoch", "[data]") {
  auto set = small_set(50);
  swav::MultiCrop crops(small_crops(), 1);
  { swav::EpochLoader untouched(set, crops, 10, 1, 0, 1); }
  swav::EpochLoader loader(set, crops, 10, 1, 0, 1);
  REQUIRE(loader.next().has_value());
  REQUIRE(loader.next().has_value());
  // The destructor runs with the producer blocked on a full queue; the test finishing is the check.
}
