// The evaluation protocols of a trained (or untrained) encoder, as one call.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/models/backbone.h"
#include "swav/train/method.h"

namespace swav {

/// One number of one protocol, as stored in the `evals` table.
struct EvalResult {
  std::string protocol;  // "knn", "knn_init" (the untrained network), "linear", "swav_linear",
                         // "semi_supervised", "clusters", "transfer:<name>:knn", ...
  std::string dataset;   // e.g. "fashion_mnist/test"
  std::string metric;    // e.g. "top1_k20", "top1_best"
  double value = 0;
};

/// Features of `train` and `test` from the frozen encoder, then weighted kNN for every k in
/// options.eval.knn_k and, when `with_linear` and options.eval.linear, the linear probe. Accuracies
/// in [0, 1]. `protocol_suffix` is appended to the kNN protocol name ("_init" for the untrained
/// network).
std::vector<EvalResult> evaluate_encoder(BackboneImpl& encoder, const ImageSet& train,
                                         const ImageSet& test, const ExperimentOptions& options,
                                         torch::Device device, bool with_linear,
                                         const std::string& protocol_suffix = "");

/// Name under which a dataset's test split is logged, e.g. "fashion_mnist/test".
std::string dataset_label(const DataOptions& data);

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

/// The frozen encoder on another dataset: both splits of transfer.data loaded, each image resized
/// (whole, antialiased) to `input_size`, normalised with transfer.mean/std and converted to
/// `in_channels`; then weighted kNN for each eval.knn_k ("transfer:<name>:knn", top1_k<k>) and,
/// when eval.linear, the linear probe ("transfer:<name>:linear", top1_best / top1_last).
std::vector<EvalResult> evaluate_transfer(BackboneImpl& encoder, const TransferOptions& transfer,
                                          int64_t input_size, int64_t in_channels,
                                          const EvalOptions& eval, torch::Device device,
                                          uint64_t seed);

/// Cluster quality on `test` (whole images, normalised with mean/std): method.assign() of every
/// image, with module() in eval mode and no grad, against the labels. Rows of protocol "clusters":
/// nmi, ari, used (distinct clusters), used_share (used / K), entropy_share (size entropy / ln K).
/// Empty when the method has no clusters (num_clusters() == 0).
std::vector<EvalResult> evaluate_clusters(Method& method, const ImageSet& test,
                                          const std::vector<double>& mean,
                                          const std::vector<double>& std,
                                          const std::string& dataset, torch::Device device,
                                          int64_t batch_size);

}  // namespace swav
