#include "eval/finetune.h"

#include <algorithm>
#include <cmath>

#include "eval/views.h"

namespace swav {

namespace {

double cosine(double base, int64_t it, int64_t total) {
  return 0.5 * base * (1 + std::cos(M_PI * static_cast<double>(it) / static_cast<double>(total)));
}

std::vector<int64_t> to_vector(const torch::Tensor& t) {
  auto c = t.to(torch::kCPU, torch::kLong).contiguous();
  return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
}

// Top-1 of `logits_of(features)` over `test` through the centre view.
double test_top1(BackboneImpl& backbone, torch::nn::Linear& head, const ImageSet& test,
                 const ViewFn& view, torch::Device device, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  int64_t correct = 0;
  for (int64_t begin = 0; begin < test.size(); begin += batch_size) {
    const int64_t n = std::min(batch_size, test.size() - begin);
    auto x = view(image_rows(test, begin, n)).to(device);
    auto predicted = head->forward(backbone.forward(x)).argmax(1).to(torch::kCPU);
    correct += predicted.eq(test.labels.narrow(0, begin, n)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(test.size());
}

torch::nn::Linear new_head(int64_t dim, int64_t classes, at::Generator& generator,
                           torch::Device device) {
  torch::nn::Linear head(dim, classes);
  {
    torch::NoGradGuard no_grad;
    head->weight.normal_(0.0, 0.01, generator);
    head->bias.zero_();
  }
  head->to(device);
  return head;
}

}  // namespace

LinearProbeResult swav_linear_protocol(BackboneImpl& backbone, const ImageSet& train,
                                       const ImageSet& test, int64_t size,
                                       const std::vector<double>& mean,
                                       const std::vector<double>& std, const EvalOptions& eval,
                                       int64_t workers, torch::Device device, uint64_t seed) {
  const bool was_training = backbone.is_training();
  backbone.eval();  // frozen, BN on running statistics
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto head = new_head(backbone.feature_dim(), train.num_classes, generator, device);
  torch::optim::SGD sgd(head->parameters(), torch::optim::SGDOptions(eval.linear_lr)
                                                .momentum(eval.linear_momentum)
                                                .weight_decay(eval.linear_weight_decay));
  const MultiCrop augment =
      eval_augmentation(size, eval.swav_linear_min_scale, mean, std, workers, seed);
  const ViewFn view = [&](const torch::Tensor& images) {
    return center_view(images, size, eval.center_crop, mean, std, images.size(3));
  };
  const int64_t n = train.size();
  const int64_t batch = std::min(eval.linear_batch_size, n);
  const int64_t total = ((n + batch - 1) / batch) * eval.swav_linear_epochs;

  LinearProbeResult result;
  int64_t it = 0;
  for (int64_t epoch = 0; epoch < eval.swav_linear_epochs; ++epoch) {
    const auto order = to_vector(torch::randperm(n, generator, torch::kLong));
    for (int64_t begin = 0; begin < n; begin += batch, ++it) {
      const std::vector<int64_t> idx(order.begin() + begin,
                                     order.begin() + std::min(n, begin + batch));
      torch::Tensor features;
      {
        torch::NoGradGuard no_grad;
        features = backbone.forward(augment.make_views(train, idx, epoch)[0].to(device));
      }
      auto labels = train.labels.index_select(0, torch::tensor(idx, torch::kLong)).to(device);
      for (auto& group : sgd.param_groups())
        group.options().set_lr(cosine(eval.linear_lr, it, total));
      auto loss = torch::nn::functional::cross_entropy(head->forward(features), labels);
      sgd.zero_grad();
      loss.backward();
      sgd.step();
    }
    const double top1 = test_top1(backbone, head, test, view, device, eval.batch_size);
    result.epoch_top1.push_back(top1);
    if (epoch == 0 || top1 > result.best_top1) {
      result.best_top1 = top1;
      result.best_epoch = epoch;
    }
  }
  result.last_top1 = result.epoch_top1.back();
  backbone.train(was_training);
  return result;
}

std::vector<int64_t> balanced_subset(const torch::Tensor& labels, int64_t classes, double fraction,
                                     uint64_t seed) {
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const auto all = to_vector(labels);
  std::vector<int64_t> chosen;
  for (int64_t c = 0; c < classes; ++c) {
    std::vector<int64_t> members;
    for (size_t i = 0; i < all.size(); ++i)
      if (all[i] == c) members.push_back(static_cast<int64_t>(i));
    if (members.empty()) continue;
    const auto n = static_cast<int64_t>(members.size());
    const int64_t keep = std::clamp<int64_t>(
        static_cast<int64_t>(std::nearbyint(fraction * static_cast<double>(n))), 1, n);
    const auto order = to_vector(torch::randperm(n, generator, torch::kLong));
    for (int64_t j = 0; j < keep; ++j) chosen.push_back(members[order[j]]);
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

SemiSupervisedResult semi_supervised_protocol(BackboneImpl& backbone, const ImageSet& train,
                                              const ImageSet& test, double fraction, int64_t size,
                                              const std::vector<double>& mean,
                                              const std::vector<double>& std,
                                              const EvalOptions& eval, int64_t workers,
                                              torch::Device device, uint64_t seed) {
  const bool was_training = backbone.is_training();
  const auto saved = save_state(backbone);
  auto generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto head = new_head(backbone.feature_dim(), train.num_classes, generator, device);

  // Two parameter groups with their own lr (a backbone without parameters gets none).
  std::vector<torch::optim::OptimizerParamGroup> groups;
  std::vector<double> base_lr;
  auto add_group = [&](std::vector<torch::Tensor> params, double lr) {
    if (params.empty()) return;
    groups.emplace_back(std::move(params), std::make_unique<torch::optim::SGDOptions>(
                                               torch::optim::SGDOptions(lr)
                                                   .momentum(eval.semi_momentum)
                                                   .weight_decay(eval.semi_weight_decay)));
    base_lr.push_back(lr);
  };
  add_group(backbone.parameters(), eval.semi_lr);
  add_group(head->parameters(), eval.semi_head_lr);
  torch::optim::SGD sgd(std::move(groups), torch::optim::SGDOptions(eval.semi_lr));

  const MultiCrop augment =
      eval_augmentation(size, eval.swav_linear_min_scale, mean, std, workers, seed);
  const ViewFn view = [&](const torch::Tensor& images) {
    return center_view(images, size, eval.center_crop, mean, std, images.size(3));
  };
  SemiSupervisedResult result;
  result.fraction = fraction;
  const auto subset = balanced_subset(train.labels, train.num_classes, fraction, seed);
  const auto n = static_cast<int64_t>(subset.size());
  result.labelled = n;
  const int64_t batch = std::min(eval.semi_batch_size, n);
  const int64_t total = ((n + batch - 1) / batch) * eval.semi_epochs;

  int64_t it = 0;
  for (int64_t epoch = 0; epoch < eval.semi_epochs; ++epoch) {
    backbone.train();
    const auto order = to_vector(torch::randperm(n, generator, torch::kLong));
    for (int64_t begin = 0; begin < n; begin += batch, ++it) {
      std::vector<int64_t> idx;
      for (int64_t j = begin; j < std::min(n, begin + batch); ++j) idx.push_back(subset[order[j]]);
      if (idx.size() < 2) continue;  // BN cannot train on one image
      auto x = augment.make_views(train, idx, epoch)[0].to(device);
      auto labels = train.labels.index_select(0, torch::tensor(idx, torch::kLong)).to(device);
      auto& param_groups = sgd.param_groups();
      for (size_t g = 0; g < param_groups.size(); ++g)
        param_groups[g].options().set_lr(cosine(base_lr[g], it, total));
      auto loss = torch::nn::functional::cross_entropy(head->forward(backbone.forward(x)), labels);
      sgd.zero_grad();
      loss.backward();
      sgd.step();
    }
    if (epoch == 0 || epoch + 1 == eval.semi_epochs) {
      backbone.eval();
      const double top1 = test_top1(backbone, head, test, view, device, eval.batch_size);
      if (epoch == 0) result.first_top1 = top1;
      result.top1 = top1;
    }
  }
  restore_state(backbone, saved);
  backbone.train(was_training);
  return result;
}

}  // namespace swav
