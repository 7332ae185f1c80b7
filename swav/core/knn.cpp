#include "swav/core/knn.h"

#include <algorithm>

namespace swav {

torch::Tensor weighted_knn_predict(const torch::Tensor& train, const torch::Tensor& train_labels,
                                   const torch::Tensor& test, int64_t k, double temperature,
                                   int64_t classes, int64_t chunk) {
  TORCH_CHECK(train.dim() == 2 && test.dim() == 2 && train.size(1) == test.size(1),
              "weighted_knn: train [N, D] and test [M, D] must share D; got ", train.sizes(),
              " and ", test.sizes());
  TORCH_CHECK(train.size(0) >= 1, "weighted_knn: no training samples");
  TORCH_CHECK(train_labels.dim() == 1 && train_labels.size(0) == train.size(0),
              "weighted_knn: need one label per training sample; got ", train_labels.sizes(),
              " for ", train.size(0));
  TORCH_CHECK(k >= 1 && classes >= 1 && chunk >= 1 && temperature > 0,
              "weighted_knn: need k, classes, chunk >= 1 and temperature > 0; got k=", k,
              " classes=", classes, " chunk=", chunk, " temperature=", temperature);
  torch::NoGradGuard no_grad;
  namespace F = torch::nn::functional;
  const auto norm = F::NormalizeFuncOptions().dim(1);
  auto train_n = F::normalize(train.detach(), norm);
  auto test_n = F::normalize(test.detach().to(train_n.device(), train_n.scalar_type()), norm);
  auto labels = train_labels.to(train_n.device(), torch::kLong);
  TORCH_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() < classes,
              "weighted_knn: training labels must lie in [0, ", classes, ")");
  k = std::min<int64_t>(k, train.size(0));

  const int64_t M = test.size(0);
  auto predictions =
      torch::empty({M}, torch::TensorOptions().dtype(torch::kLong).device(train_n.device()));
  auto train_t = train_n.t();
  for (int64_t start = 0; start < M; start += chunk) {
    const int64_t end = std::min(start + chunk, M);
    auto sim = torch::mm(test_n.slice(0, start, end), train_t);  // [c, N] cosine similarities
    auto [top_sim, top_idx] = sim.topk(k, 1);
    auto votes = torch::zeros({end - start, classes}, top_sim.options());
    votes.scatter_add_(1, labels.index_select(0, top_idx.reshape({-1})).reshape(top_idx.sizes()),
                       (top_sim / temperature).exp());
    // argmax returns the first maximal index, i.e. ties go to the lowest class.
    predictions.slice(0, start, end).copy_(votes.argmax(1));
  }
  return predictions;
}

double weighted_knn_accuracy(const torch::Tensor& train, const torch::Tensor& train_labels,
                             const torch::Tensor& test, const torch::Tensor& test_labels, int64_t k,
                             double temperature, int64_t classes) {
  TORCH_CHECK(test_labels.dim() == 1 && test_labels.size(0) == test.size(0),
              "weighted_knn_accuracy: need one label per test sample");
  if (test.size(0) == 0) return 0.0;
  auto predictions = weighted_knn_predict(train, train_labels, test, k, temperature, classes);
  return predictions.eq(test_labels.to(predictions.device(), torch::kLong))
      .to(torch::kFloat64)
      .mean()
      .item<double>();
}

}  // namespace swav
