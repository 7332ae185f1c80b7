#include "eval/linear_probe.h"

#include <cmath>

namespace swav {

LinearProbeResult linear_probe(const torch::Tensor& train_features,
                               const torch::Tensor& train_labels,
                               const torch::Tensor& test_features, const torch::Tensor& test_labels,
                               int64_t classes, const EvalOptions& options, uint64_t seed) {
  TORCH_CHECK(train_features.size(0) == train_labels.size(0),
              "linear_probe: feature/label count mismatch");
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t n = train_features.size(0), dim = train_features.size(1);
  torch::nn::Linear linear(dim, classes);
  {
    torch::NoGradGuard no_grad;
    linear->weight.normal_(0.0, 0.01, generator);
    linear->bias.zero_();
  }
  torch::optim::SGD sgd(linear->parameters(), torch::optim::SGDOptions(options.linear_lr)
                                                  .momentum(options.linear_momentum)
                                                  .weight_decay(options.linear_weight_decay));
  const int64_t batch = std::min(options.linear_batch_size, n);
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  const int64_t total_steps = steps_per_epoch * options.linear_epochs;

  auto accuracy = [&] {
    torch::NoGradGuard no_grad;
    auto predicted = linear->forward(test_features).argmax(1);
    return predicted.eq(test_labels).to(torch::kFloat64).mean().item<double>();
  };

  LinearProbeResult result;
  int64_t it = 0;
  for (int64_t epoch = 0; epoch < options.linear_epochs; ++epoch) {
    auto order = torch::randperm(n, generator, torch::kLong);
    for (int64_t begin = 0; begin < n; begin += batch, ++it) {
      // Cosine to 0 per iteration.
      const double lr = 0.5 * options.linear_lr * (1 + std::cos(M_PI * it / total_steps));
      for (auto& group : sgd.param_groups()) group.options().set_lr(lr);
      auto idx = order.narrow(0, begin, std::min(batch, n - begin));
      auto loss = torch::nn::functional::cross_entropy(
          linear->forward(train_features.index_select(0, idx)), train_labels.index_select(0, idx));
      sgd.zero_grad();
      loss.backward();
      sgd.step();
    }
    const double top1 = accuracy();
    result.epoch_top1.push_back(top1);
    if (top1 > result.best_top1 || epoch == 0) {
      result.best_top1 = top1;
      result.best_epoch = epoch;
    }
  }
  result.last_top1 = result.epoch_top1.empty() ? 0 : result.epoch_top1.back();
  return result;
}

}  // namespace swav
