// Weights in PyTorch's own format: a backbone's state dict under torchvision's names, written so
// that plain `torch.load` reads it, and PyTorch checkpoints (torch.save) read back into a backbone.
//
// Names. Our ResNet's modules are named for their structure (`stem`, `layerS.B.body.i`,
// `layerS.B.shortcut.i`); torchvision's for their role. The mapping, for ResNet-18 and -50:
//   stem.0                      -> conv1          stem.1              -> bn1
//   layerS.B.body.0 / .1        -> layerS.B.conv1 / bn1
//   layerS.B.body.3 / .4        -> layerS.B.conv2 / bn2
//   layerS.B.body.6 / .7        -> layerS.B.conv3 / bn3   (bottleneck blocks, ResNet-50)
//   layerS.B.shortcut.0 / .1    -> layerS.B.downsample.0 / .1
// with the tensor's own suffix kept (weight, bias, running_mean, running_var,
// num_batches_tracked). The CIFAR stem's 3x3 convolution is exported as conv1 too (torchvision's
// model needs its conv1 replaced by a 3x3/1 one and its max-pool by the identity to take it).
// The ConvNet has no torchvision counterpart: its layers keep their names, `net.i.<suffix>`.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "swav/config/options.h"
#include "swav/models/backbone.h"

namespace swav {

/// A state dict: names and CPU tensors, in the module's order.
using StateDict = std::vector<std::pair<std::string, torch::Tensor>>;

/// The torchvision name of one of our backbone's parameters or buffers (named relative to the
/// backbone, as named_parameters() gives them); `arch` is model.arch. Names of the ConvNet and
/// names that have no counterpart are returned unchanged.
std::string torchvision_name(const std::string& ours, const std::string& arch);

/// The backbone's parameters and buffers under torchvision's names (CPU, contiguous, detached).
StateDict backbone_state_dict(BackboneImpl& backbone, const ModelOptions& model);

/// Writes `state` to `path` as torch.save would write a dict of tensors (LibTorch's
/// pickle_save), so that `torch.load(path)` returns it. Written to a temporary file first, then
/// renamed. Throws UserError naming the path when it cannot be written.
void save_state_dict(const StateDict& state, const std::string& path);

/// Reads a PyTorch checkpoint written by torch.save: a dict of tensors, or a dict holding one under
/// "state_dict" or "model" (training checkpoints, with the epoch and optimiser beside it); a
/// "module." prefix (DistributedDataParallel) is dropped from every name. Entries that are not
/// tensors are left out. Throws UserError naming the path for a missing, truncated or corrupt
/// file, one holding Python objects other than tensors, numbers, strings, lists and dicts, or one
/// holding no tensors.
std::map<std::string, torch::Tensor> load_state_dict(const std::string& path);

/// What loading a state dict into a backbone found.
struct WeightsReport {
  int64_t loaded = 0;                   // tensors copied
  std::vector<std::string> missing;     // the backbone's tensors the file lacks (torchvision names)
  std::vector<std::string> unexpected;  // the file's tensors the backbone lacks (heads, fc, ...)
  std::vector<std::string> mismatched;  // "name: file [a, b] vs backbone [c, d]"
  bool complete() const { return missing.empty() && mismatched.empty(); }
};

/// Copies the tensors of `state` (torchvision's names, or ours) into the backbone's parameters
/// and buffers. When the state holds none of the backbone's names bare, they are looked for under
/// the prefixes of whole-network checkpoints: "backbone." (ours), "encoder_q." (MoCo, PCL),
/// "encoder.". With `strict`, anything missing
/// or mis-shaped is a UserError listing every such name (with `source`, the file, in the
/// message), and nothing is copied; tensors the backbone does not have (fc, projection heads,
/// prototypes) are reported but never an error.
WeightsReport load_backbone_weights(BackboneImpl& backbone, const ModelOptions& model,
                                    const std::map<std::string, torch::Tensor>& state, bool strict,
                                    const std::string& source);

/// What keeps a checkpoint of LibTorch's own format (an archive Module::save wrote) from loading
/// into `module`: "name: missing" for a parameter or buffer the archive lacks, "name: file [a, b]
/// vs model [c, d]" for one of another shape or type. Empty when it fits. Module::load alone
/// would take a tensor of another shape without a word (it replaces the parameter's storage), so
/// every reader of our checkpoints asks this first.
std::vector<std::string> archive_mismatches(torch::nn::Module& module,
                                            torch::serialize::InputArchive& archive);

}  // namespace swav
