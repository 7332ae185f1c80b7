// Weighted k-nearest-neighbour classification (the kNN monitor of SSL papers).
#pragma once
#include <torch/torch.h>

namespace swav {

/// Predicts labels of `test` features by weighted kNN over `train` features.
///
/// train: [N, D], train_labels: int64 [N] in [0, classes), test: [M, D]. Features are L2-normalised
/// inside; similarity is cosine. The k nearest training samples vote for their class with weight
/// exp(sim / temperature); returns int64 [M], the class with the largest total (ties: lowest class).
/// Processes test rows in chunks of `chunk` so memory stays O(chunk * N).
torch::Tensor weighted_knn_predict(const torch::Tensor& train, const torch::Tensor& train_labels,
                                   const torch::Tensor& test, int64_t k, double temperature,
                                   int64_t classes, int64_t chunk = 1024);

/// Top-1 accuracy (in [0, 1]) of weighted_knn_predict against test_labels.
double weighted_knn_accuracy(const torch::Tensor& train, const torch::Tensor& train_labels,
                             const torch::Tensor& test, const torch::Tensor& test_labels, int64_t k,
                             double temperature, int64_t classes);

}  // namespace swav
