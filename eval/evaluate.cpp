#include "eval/evaluate.h"

#include "eval/cluster_metrics.h"
#include "eval/features.h"
#include "eval/finetune.h"
#include "eval/linear_probe.h"
#include "eval/views.h"
#include "swav/core/knn.h"
#include "swav/data/multicrop.h"
#include "swav/models/inference.h"

namespace swav {

std::string dataset_label(const DataOptions& data) {
  if (data.format == "image_folder") {
    std::string root = data.root;
    while (!root.empty() && root.back() == '/') root.pop_back();
    return fmt::format("{}/{}", root.substr(root.find_last_of('/') + 1), data.test_split);
  }
  return fmt::format("{}/test", data.format);
}

std::vector<EvalResult> evaluate_encoder(BackboneImpl& encoder, const ImageSet& train,
                                         const ImageSet& test, const ExperimentOptions& options,
                                         torch::Device device, bool with_linear,
                                         const std::string& protocol_suffix) {
  const auto& eval = options.eval;
  const auto& mean = options.augment.mean;
  const auto& std = options.augment.std;
  const std::string dataset = dataset_label(options.data);
  auto train_features = extract_features(encoder, train, mean, std, device, eval.batch_size);
  auto test_features = extract_features(encoder, test, mean, std, device, eval.batch_size);

  std::vector<EvalResult> results;
  for (int64_t k : eval.knn_k) {
    const double top1 =
        weighted_knn_accuracy(train_features, train.labels, test_features, test.labels, k,
                              eval.knn_temperature, train.num_classes);
    results.push_back({"knn" + protocol_suffix, dataset, fmt::format("top1_k{}", k), top1});
  }
  if (with_linear && eval.linear) {
    auto probe = linear_probe(train_features, train.labels, test_features, test.labels,
                              train.num_classes, eval, static_cast<uint64_t>(options.train.seed));
    results.push_back({"linear", dataset, "top1_best", probe.best_top1});
    results.push_back({"linear", dataset, "top1_last", probe.last_top1});
  }
  return results;
}

std::vector<EvalResult> evaluate_transfer(BackboneImpl& encoder, const TransferOptions& transfer,
                                          int64_t input_size, int64_t in_channels,
                                          const EvalOptions& eval, torch::Device device,
                                          uint64_t seed) {
  const ImageSet train = load_split(transfer.data, Split::kTrain);
  const ImageSet test = load_split(transfer.data, Split::kTest);
  const ViewFn view = [&](const torch::Tensor& images) {
    return center_view(images, input_size, 1.0, transfer.mean, transfer.std, in_channels);
  };
  auto train_features = view_features(encoder, train, view, device, eval.batch_size);
  auto test_features = view_features(encoder, test, view, device, eval.batch_size);
  const std::string dataset = dataset_label(transfer.data);
  const std::string prefix = "transfer:" + transfer.name + ":";
  const int64_t classes = std::max(train.num_classes, test.num_classes);
  std::vector<EvalResult> results;
  for (int64_t k : eval.knn_k) {
    const double top1 = weighted_knn_accuracy(train_features, train.labels, test_features,
                                              test.labels, k, eval.knn_temperature, classes);
    results.push_back({prefix + "knn", dataset, fmt::format("top1_k{}", k), top1});
  }
  if (eval.linear) {
    auto probe =
        linear_probe(train_features, train.labels, test_features, test.labels, classes, eval, seed);
    results.push_back({prefix + "linear", dataset, "top1_best", probe.best_top1});
    results.push_back({prefix + "linear", dataset, "top1_last", probe.last_top1});
  }
  return results;
}

std::vector<EvalResult> evaluate_clusters(torch::nn::Module& module, const AssignFn& assign,
                                          int64_t clusters, const ImageSet& test,
                                          const std::vector<double>& mean,
                                          const std::vector<double>& std,
                                          const std::string& dataset, torch::Device device,
                                          int64_t batch_size) {
  const int64_t K = clusters;
  if (K == 0) return {};
  const auto assignments =
      batched_forward(module, test, batch_size, [&](const torch::Tensor& images) {
        return assign(normalize_images(images, mean, std).to(device)).to(torch::kCPU, torch::kLong);
      });
  const auto usage = cluster_usage(assignments, K);
  return {
      {"clusters", dataset, "nmi", normalized_mutual_information(assignments, test.labels)},
      {"clusters", dataset, "ari", adjusted_rand_index(assignments, test.labels)},
      {"clusters", dataset, "used", static_cast<double>(usage.used)},
      {"clusters", dataset, "used_share", usage.used_share},
      {"clusters", dataset, "entropy_share", usage.entropy_share},
  };
}

}  // namespace swav
