#include <catch2/catch.hpp>

#include "swav/dist/collective.h"

TEST_CASE("single-process collective leaves tensors unchanged", "[dist]") {
  auto& c = swav::single_process();
  auto t = torch::arange(4, torch::kFloat32);
  auto before = t.clone();
  c.all_reduce_sum(t);
  CHECK(torch::equal(t, before));
  CHECK(c.world_size() == 1);
  CHECK(torch::equal(c.all_gather_cat(t), before));
}
