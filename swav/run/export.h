// Taking a run's weights to PyTorch: the trained network of a trial folder or checkpoint, its
// backbone under torchvision's names (swav/models/weights.h), optionally with the rest.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/models/weights.h"
#include "swav/train/method.h"

namespace swav {

/// A trained network read back: the options it was trained with and the method holding its
/// weights (on the CPU).
struct TrainedNetwork {
  ExperimentOptions options;
  std::unique_ptr<Method> method;
  std::string checkpoint;  // the file the weights came from
};

/// Reads a trial folder (its config.toml and checkpoint.pt) or a checkpoint file (with the
/// config.toml beside it). The image channels are read off the checkpoint's first convolution,
/// so no data set is needed. Throws UserError naming the file for a missing or unreadable config
/// or checkpoint.
TrainedNetwork load_trained_network(const std::string& run_or_checkpoint);

/// What `export_weights --format` offers: "torchvision" (the backbone alone, torchvision's
/// names) or "full" (that, plus every other tensor of the network under its own name: projection
/// head "head.*", prototypes "prototypes.*", a baseline's classifier or key network ...).
StateDict exported_state(TrainedNetwork& network, const std::string& format);

/// model.init: loads the backbone weights of the file `model.init` into the method's encoder
/// (model.init_strict decides whether anything missing or mis-shaped is an error) and lets the
/// method take them into its copies (Method::on_encoder_loaded). Returns what was loaded.
WeightsReport apply_model_init(Method& method, const ModelOptions& model);

/// One line for the run's log: how many tensors came from the file, and what did not fit.
std::string describe_model_init(const WeightsReport& report, const ModelOptions& model);

/// What load_network_rest found.
struct RestReport {
  bool loaded = false;   // every tensor outside the backbone came from the file
  int64_t tensors = 0;   // how many that is
  std::vector<std::string> missing;     // the network's names the file lacks
  std::vector<std::string> mismatched;  // "name: file [a, b] vs network [c, d]"
};

/// Copies the network's tensors outside the backbone (projection head, prototypes, a baseline's
/// other parts) from `state`, all or none: each is looked for under its own name (what
/// `export_weights --format full` writes) and, for SwAV, under the official release's names
/// ("projection_head.<i>.*" for "head.net.<i>.*", "prototypes.weight" or
/// "prototypes.prototypes<h>.weight" for "prototypes.head<h>.weight"). Nothing is copied unless
/// every one is present with its shape.
RestReport load_network_rest(Method& method, const std::map<std::string, torch::Tensor>& state);

}  // namespace swav
