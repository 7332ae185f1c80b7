#include "eval/evaluate.h"

#include "eval/features.h"
#include "eval/linear_probe.h"
#include "swav/core/knn.h"

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

}  // namespace swav
