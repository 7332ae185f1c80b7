// The network SwAV trains, and DeepCluster-v2 and SeLa-v2 with it: backbone, projection head and
// prototype heads.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <utility>
#include <vector>

#include "swav/config/options.h"
#include "swav/models/embedding_net.h"
#include "swav/models/heads.h"

namespace swav {

/// EmbeddingNet (backbone -> projection head -> L2 normalise, once over all crops) -> prototypes.
/// The submodules are registered as "backbone", "head" and "prototypes", in that order (checkpoint
/// and parameter order).
class SwavNetworkImpl : public EmbeddingNetImpl {
 public:
  SwavNetworkImpl(const ModelOptions& options, int64_t in_channels);

  /// crops: n_crops tensors [B, C, s_i, s_i]. Returns z, the normalised embeddings of all crops
  /// concatenated in crop order [n_crops * B, D], and the scores of every prototype head, each
  /// [n_crops * B, K_h].
  std::pair<torch::Tensor, std::vector<torch::Tensor>> forward(
      const std::vector<torch::Tensor>& crops);

  Prototypes prototypes{nullptr};
};
TORCH_MODULE(SwavNetwork);

}  // namespace swav
