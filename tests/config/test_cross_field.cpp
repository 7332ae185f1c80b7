// The cross-field rules added with sweeps: queue vs batch, queue vs epochs, crop groups, channels.
#include <catch2/catch.hpp>

#include "config_test_util.h"
#include "swav/config/config.h"

using Catch::Contains;
using swav::parse_experiment;
using swav::test::user_error;

namespace {

const std::string kBase =
    "[data]\nformat = \"synthetic\"\n[train]\nepochs = 20\nbatch_size = 256\n";

std::string error_of(const std::string& extra) {
  return user_error([&] { parse_experiment(kBase + extra, "exp.toml"); });
}

}  // namespace

TEST_CASE("the queue holds whole batches and must be used before training ends",
          "[config][validate]") {
  CHECK(parse_experiment(kBase + "[swav]\nqueue_length = 3840\n", "exp.toml").swav.queue_length ==
        3840);  // 15 batches of 256
  CHECK_THAT(error_of("[swav]\n\nqueue_length = 3000\n"),
             Contains("exp.toml:8: swav.queue_length = 3000") &&
                 Contains("multiple of train.batch_size (256)"));
  // Below one batch: allowed, and as in the reference it rounds to no queue.
  CHECK(parse_experiment(kBase + "[swav]\nqueue_length = 100\n", "exp.toml").swav.queue_length ==
        100);
  CHECK_THAT(error_of("[swav]\nqueue_length = 512\nepoch_queue_starts = 20\n"),
             Contains("swav.epoch_queue_starts = 20") && Contains("< train.epochs (20)"));
  // The override that breaks the rule is named.
  CHECK_THAT(user_error([] {
               parse_experiment(kBase + "[swav]\nqueue_length = 512\n", "exp.toml",
                                {"train.batch_size=200"});
             }),
             Contains("swav.queue_length = 512") && Contains("(200)"));
}

TEST_CASE("crop groups: large to small, at least two crops", "[config][validate]") {
  CHECK_THAT(error_of("[augment]\ncrops = [{ size = 16, count = 2 },\n"
                      "          { size = 32, count = 2 }]\n"),
             Contains("exp.toml:8: augment.crops[1].size = 32") &&
                 Contains("from large to small") && Contains("augment.crops[0].size is 16"));
  CHECK_THAT(
      error_of("[augment]\ncrops = [{ size = 16, count = 1 }]\n[swav]\ncrops_for_assign = [0]\n"),
      Contains("augment.crops = 1 crop(s)") && Contains("at least 2 crops"));
}

TEST_CASE("normalisation statistics match the channels the data format fixes",
          "[config][validate]") {
  CHECK_THAT(user_error([] {
               parse_experiment("[data]\nformat = \"synthetic\"\nsynthetic_channels = 1\n",
                                "e.toml");
             }),
             Contains("augment.mean = [0.485, 0.456, 0.406]") && Contains("(1 channel)"));
  CHECK(parse_experiment(
            "[data]\nformat = \"synthetic\"\nsynthetic_channels = 1\n[augment]\nmean = [0.5]\n"
            "std = [0.2]\n",
            "e.toml")
            .augment.mean.size() == 1);
  // One value for three channels is broadcast, as the augmentation does.
  CHECK(parse_experiment("[data]\nformat = \"synthetic\"\n[augment]\nmean = [0.5]\nstd = [0.2]\n",
                         "e.toml")
            .augment.mean.size() == 1);
}
