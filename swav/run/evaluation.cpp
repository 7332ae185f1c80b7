#include "swav/run/evaluation.h"

#include <fmt/format.h>

#include "eval/finetune.h"

namespace swav {

std::vector<EvalResult> evaluate_clusters(Method& method, const ImageSet& test,
                                          const std::vector<double>& mean,
                                          const std::vector<double>& std,
                                          const std::string& dataset, torch::Device device,
                                          int64_t batch_size) {
  return evaluate_clusters(
      method.module(), [&](const torch::Tensor& images) { return method.assign(images); },
      method.num_clusters(), test, mean, std, dataset, device, batch_size);
}

std::vector<EvalResult> evaluate_method(Method& method, const ImageSet& train, const ImageSet& test,
                                        const ExperimentOptions& options, torch::Device device,
                                        const EvalLog& log) {
  const auto& eval = options.eval;
  const auto& mean = options.augment.mean;
  const auto& std = options.augment.std;
  const std::string dataset = dataset_label(options.data);
  const int64_t size = options.augment.crops.at(0).size;
  const auto seed = static_cast<uint64_t>(options.train.seed);
  auto say = [&](const std::string& line) {
    if (log) log(line);
  };
  BackboneImpl& encoder = *method.encoder();

  auto results = evaluate_encoder(encoder, train, test, options, device, true);
  if (eval.swav_linear) {
    say(fmt::format("swav_linear: {} epochs on augmented {} px crops", eval.swav_linear_epochs,
                    size));
    auto r = swav_linear_protocol(encoder, train, test, size, mean, std, eval,
                                  options.augment.workers, device, seed);
    results.push_back({"swav_linear", dataset, "top1_best", r.best_top1});
    results.push_back({"swav_linear", dataset, "top1_last", r.last_top1});
  }
  if (eval.semi_supervised) {
    const auto semi_seed =
        static_cast<uint64_t>(eval.semi_seed > 0 ? eval.semi_seed : options.train.seed);
    for (double fraction : eval.semi_fractions) {
      say(fmt::format("semi_supervised: {:g}% of the labels, {} epochs", 100 * fraction,
                      eval.semi_epochs));
      auto r = semi_supervised_protocol(encoder, train, test, fraction, size, mean, std, eval,
                                        options.augment.workers, device, semi_seed);
      results.push_back(
          {"semi_supervised", dataset, fmt::format("top1_{:g}pct", 100 * fraction), r.top1});
    }
  }
  for (const auto& transfer : eval.transfer) {
    say(fmt::format("transfer: {} ({})", transfer.name, dataset_label(transfer.data)));
    auto rows = evaluate_transfer(encoder, transfer, size, train.channels(), eval, device, seed);
    results.insert(results.end(), rows.begin(), rows.end());
  }
  if (eval.clusters) {
    auto rows = evaluate_clusters(method, test, mean, std, dataset, device, eval.batch_size);
    results.insert(results.end(), rows.begin(), rows.end());
  }
  return results;
}

}  // namespace swav
