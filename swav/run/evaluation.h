// Every evaluation protocol an experiment enables, run on a trained method.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "eval/evaluate.h"
#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/train/method.h"

namespace swav {

/// Progress lines of the slower protocols (may be empty).
using EvalLog = std::function<void(const std::string&)>;

/// Every protocol options.eval enables, on a trained method, in this order:
///  - "knn" (top1_k<k> for each eval.knn_k) and "linear" (top1_best, top1_last): evaluate_encoder;
///  - "swav_linear" (top1_best, top1_last) when eval.swav_linear: swav_linear_protocol;
///  - "semi_supervised" (top1_<100 f>pct for each f of eval.semi_fractions, e.g. top1_1pct) when
///    eval.semi_supervised: semi_supervised_protocol, seed eval.semi_seed or else train.seed;
///  - "transfer:<name>:knn" and "transfer:<name>:linear" for each [[eval.transfer]];
///  - "clusters" (nmi, ari, used, used_share, entropy_share) when eval.clusters and the method
///    has clusters: evaluate_clusters.
/// The protocols that train on crops use augment.crops[0].size (the pretraining input size) and
/// augment.mean/std. Accuracies are in [0, 1].
std::vector<EvalResult> evaluate_method(Method& method, const ImageSet& train, const ImageSet& test,
                                        const ExperimentOptions& options, torch::Device device,
                                        const EvalLog& log = {});

/// evaluate_clusters on a method's own clusters: method.assign() with module() in eval mode.
std::vector<EvalResult> evaluate_clusters(Method& method, const ImageSet& test,
                                          const std::vector<double>& mean,
                                          const std::vector<double>& std,
                                          const std::string& dataset, torch::Device device,
                                          int64_t batch_size);

}  // namespace swav
