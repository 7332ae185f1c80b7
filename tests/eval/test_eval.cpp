#include <catch2/catch.hpp>

#include "eval/evaluate.h"
#include "eval/features.h"
#include "eval/linear_probe.h"
#include "helpers.h"
#include "swav/data/image_set.h"

using namespace swav;

TEST_CASE("linear probe learns linearly separable features and not shuffled labels", "[eval]") {
  // Gaussian clusters around 5 class means: a linear layer separates them almost perfectly.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(11);
  const int64_t classes = 5, dim = 16;
  auto means = torch::randn({classes, dim}, gen) * 3;
  auto make = [&](int64_t n) {
    auto labels = torch::randint(classes, {n}, gen, torch::kLong);
    auto x = means.index_select(0, labels) + torch::randn({n, dim}, gen);
    return std::make_pair(x, labels);
  };
  auto [train_x, train_y] = make(1000);
  auto [test_x, test_y] = make(400);
  EvalOptions options;
  options.linear_epochs = 10;
  auto result = linear_probe(train_x, train_y, test_x, test_y, classes, options, 1);
  CHECK(result.best_top1 > 0.95);
  CHECK(result.epoch_top1.size() == 10);
  CHECK(result.best_top1 >= result.last_top1);

  // Labels unrelated to the features: no better than chance (0.2) plus noise.
  auto random_train_y = torch::randint(classes, {1000}, gen, torch::kLong);
  auto random_test_y = torch::randint(classes, {400}, gen, torch::kLong);
  auto chance = linear_probe(train_x, random_train_y, test_x, random_test_y, classes, options, 1);
  CHECK(chance.last_top1 < 0.32);
}

TEST_CASE("feature extraction is deterministic, batch-size independent and restores the mode",
          "[eval]") {
  auto options = test::tiny_experiment();
  auto data = load_split(options.data, Split::kTest);
  torch::manual_seed(5);
  auto backbone = make_backbone(options.model, data.channels());
  backbone->train();
  auto a =
      extract_features(*backbone, data, options.augment.mean, options.augment.std, torch::kCPU, 7);
  auto b =
      extract_features(*backbone, data, options.augment.mean, options.augment.std, torch::kCPU, 32);
  CHECK(a.sizes() == torch::IntArrayRef({data.size(), backbone->feature_dim()}));
  CHECK(torch::allclose(a, b, 1e-5, 1e-5));
  CHECK(backbone->is_training());
}

TEST_CASE("evaluate_encoder reports every configured protocol", "[eval]") {
  auto options = test::tiny_experiment();
  options.eval.knn_k = {3, 10};
  auto train = load_split(options.data, Split::kTrain);
  auto test = load_split(options.data, Split::kTest);
  torch::manual_seed(6);
  auto backbone = make_backbone(options.model, train.channels());
  auto results = evaluate_encoder(*backbone, train, test, options, torch::kCPU, true);
  std::vector<std::string> names;
  for (const auto& r : results) {
    names.push_back(r.protocol + "/" + r.metric);
    CHECK(r.dataset == "synthetic/test");
    CHECK(r.value >= 0);
    CHECK(r.value <= 1);
  }
  CHECK(names == std::vector<std::string>{"knn/top1_k3", "knn/top1_k10", "linear/top1_best",
                                          "linear/top1_last"});
}
