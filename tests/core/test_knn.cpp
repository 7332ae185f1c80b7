#include <catch2/catch.hpp>

#include "../helpers.h"
#include "swav/core/knn.h"

using swav::test::json_tensor;
using swav::test::reference;

namespace {

struct KnnCase {
  torch::Tensor train, train_labels, test, test_labels, predictions;
  int64_t k, classes;
  double temperature;
};

KnnCase load() {
  const auto& c = reference()["weighted_knn"];
  return {json_tensor(c["train_features"]),
          json_tensor(c["train_labels"]).to(torch::kLong),
          json_tensor(c["test_features"]),
          json_tensor(c["test_labels"]).to(torch::kLong),
          json_tensor(c["predictions"]).to(torch::kLong),
          c["k"].get<int64_t>(),
          c["classes"].get<int64_t>(),
          c["temperature"].get<double>()};
}

}  // namespace

TEST_CASE("weighted kNN reproduces the reference predictions", "[core][knn]") {
  auto c = load();
  for (const auto dtype : {torch::kFloat64, torch::kFloat32}) {
    auto predicted = swav::weighted_knn_predict(c.train.to(dtype), c.train_labels, c.test.to(dtype),
                                                c.k, c.temperature, c.classes);
    INFO("dtype " << dtype);
    CHECK(predicted.scalar_type() == torch::kLong);
    CHECK(torch::equal(predicted, c.predictions));
  }
  const double expected = c.predictions.eq(c.test_labels).to(torch::kFloat64).mean().item<double>();
  CHECK(swav::weighted_knn_accuracy(c.train, c.train_labels, c.test, c.test_labels, c.k,
                                    c.temperature, c.classes) == Approx(expected));
}

TEST_CASE("weighted kNN gives the same predictions for any chunk size", "[core][knn]") {
  auto train = torch::randn({200, 16});
  auto labels = torch::randint(0, 7, {200}, torch::kLong);
  auto test = torch::randn({53, 16});
  auto whole = swav::weighted_knn_predict(train, labels, test, 20, 0.1, 7, 1024);
  for (const int64_t chunk : {1, 2, 7, 16, 52, 53}) {
    INFO("chunk " << chunk);
    CHECK(torch::equal(swav::weighted_knn_predict(train, labels, test, 20, 0.1, 7, chunk), whole));
  }
}

TEST_CASE("weighted kNN breaks ties towards the lowest class and clamps k", "[core][knn]") {
  // Two identical training points of classes 2 and 1: equal votes.
  auto train = torch::tensor({{1.0, 0.0}, {1.0, 0.0}, {-1.0, 0.0}});
  auto labels = torch::tensor({2, 1, 3}, torch::kLong);
  auto test = torch::tensor({{2.0, 0.0}});
  CHECK(swav::weighted_knn_predict(train, labels, test, 2, 0.1, 4).item<int64_t>() == 1);
  // k beyond N uses all N points; the far point votes with a small weight.
  CHECK(swav::weighted_knn_predict(train, labels, test, 100, 0.1, 4).item<int64_t>() == 1);
  // Scaling features changes nothing: similarity is cosine.
  CHECK(swav::weighted_knn_predict(train * 5, labels, test * 0.01, 3, 0.1, 4).item<int64_t>() == 1);
}

TEST_CASE("weighted kNN rejects malformed input", "[core][knn]") {
  auto train = torch::randn({4, 3});
  auto labels = torch::tensor({0, 1, 0, 1}, torch::kLong);
  CHECK_THROWS(swav::weighted_knn_predict(train, labels, torch::randn({2, 4}), 2, 0.1, 2));
  CHECK_THROWS(
      swav::weighted_knn_predict(train, labels.slice(0, 0, 3), torch::randn({2, 3}), 2, 0.1, 2));
  CHECK_THROWS(
      swav::weighted_knn_predict(train, labels, torch::randn({2, 3}), 2, 0.1, 1));  // label 1
  CHECK_THROWS(swav::weighted_knn_predict(train, labels, torch::randn({2, 3}), 0, 0.1, 2));
}
