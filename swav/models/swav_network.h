// The network SwAV trains, and DeepCluster-v2 and SeLa-v2 with it: backbone, projection head and
// prototype heads.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "swav/config/options.h"
#include "swav/models/backbone.h"
#include "swav/models/heads.h"

namespace swav {

/// Backbone -> projection head -> L2 normalise -> prototypes. Crops of equal resolution go through
/// the backbone together; the pooled features of all crops are concatenated so the head (and its
/// BN) runs once over all crops.
class SwavNetworkImpl : public torch::nn::Module {
 public:
  SwavNetworkImpl(const ModelOptions& options, int64_t in_channels);

  /// crops: n_crops tensors [B, C, s_i, s_i]. Returns z, the normalised embeddings of all crops
  /// concatenated in crop order [n_crops * B, D], and the scores of every prototype head, each
  /// [n_crops * B, K_h].
  std::pair<torch::Tensor, std::vector<torch::Tensor>> forward(
      const std::vector<torch::Tensor>& crops);

  std::shared_ptr<BackboneImpl> backbone;
  ProjectionHead head{nullptr};
  Prototypes prototypes{nullptr};
};
TORCH_MODULE(SwavNetwork);

}  // namespace swav
