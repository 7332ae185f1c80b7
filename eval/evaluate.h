// The evaluation protocols of a trained (or untrained) encoder, as one call.
#pragma once
#include <torch/torch.h>

#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/data/image_set.h"
#include "swav/models/backbone.h"

namespace swav {

/// One number of one protocol, as stored in the `evals` table.
struct EvalResult {
  std::string protocol;  // "knn", "knn_init" (the untrained network), "linear"
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

}  // namespace swav
