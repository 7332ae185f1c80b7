// The evaluation protocols of a frozen encoder (and of a network's clusters). They know nothing
// of methods: swav/run/evaluation.h runs them on a trained Method.
#pragma once
#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/models/backbone.h"

namespace swav {

/// One number of one protocol, as stored in the `evals` table.
struct EvalResult {
  std::string protocol;  // "knn", "knn_init" (the network before training: as initialised, or
                         // model.init's weights), "linear", "swav_linear", "semi_supervised",
                         // "clusters", "transfer:<name>:knn", ...
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

/// The frozen encoder on another dataset: both splits of transfer.data loaded, each image resized
/// (whole, antialiased) to `input_size`, normalised with transfer.mean/std and converted to
/// `in_channels`; then weighted kNN for each eval.knn_k ("transfer:<name>:knn", top1_k<k>) and,
/// when eval.linear, the linear probe ("transfer:<name>:linear", top1_best / top1_last).
std::vector<EvalResult> evaluate_transfer(BackboneImpl& encoder, const TransferOptions& transfer,
                                          int64_t input_size, int64_t in_channels,
                                          const EvalOptions& eval, torch::Device device,
                                          uint64_t seed);

/// The cluster a network puts each image of a batch in ([B] integer ids in [0, clusters)).
using AssignFn = std::function<torch::Tensor(const torch::Tensor& images)>;

/// Cluster quality on `test` (whole images, normalised with mean/std): assign() of every image,
/// with `module` in eval mode and no grad, against the labels. Rows of protocol "clusters": nmi,
/// ari, used (distinct clusters), used_share (used / clusters), entropy_share (size entropy /
/// ln clusters). Empty when clusters == 0.
std::vector<EvalResult> evaluate_clusters(torch::nn::Module& module, const AssignFn& assign,
                                          int64_t clusters, const ImageSet& test,
                                          const std::vector<double>& mean,
                                          const std::vector<double>& std,
                                          const std::string& dataset, torch::Device device,
                                          int64_t batch_size);

}  // namespace swav
