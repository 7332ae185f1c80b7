// Backbone -> projection head -> L2 normalise, run once over all crops: SimCLR's and PCL's network,
// the base of SwAV's (swav_network.h adds the prototypes), and the pass that embeds a whole split.
#pragma once
#include <torch/torch.h>

#include <memory>
#include <vector>

#include "swav/config/options.h"
#include "swav/models/backbone.h"
#include "swav/models/heads.h"

namespace swav {

/// Backbone -> projection head (model.hidden_dim, model.output_dim) -> L2 normalise. Crops of
/// equal resolution go through the backbone together; the pooled features of all crops are
/// concatenated so the head (and its BN) runs once over all crops, as in SwAV.
class EmbeddingNetImpl : public torch::nn::Module {
 public:
  EmbeddingNetImpl(const ModelOptions& options, int64_t in_channels);

  /// crops: n_crops tensors [B, C, s_i, s_i] -> unit embeddings of all crops in crop order
  /// [n_crops * B, output_dim].
  torch::Tensor embed(const std::vector<torch::Tensor>& crops);
  torch::Tensor forward(const std::vector<torch::Tensor>& crops) { return embed(crops); }

  std::shared_ptr<BackboneImpl> backbone;
  ProjectionHead head{nullptr};
};
TORCH_MODULE(EmbeddingNet);

/// Unit embeddings of every image of `images` (uint8 [N, H, W, C]: the whole image, normalised
/// with mean/std, no augmentation) through `net` in eval mode, no grad, in batches; [N, D] on
/// `device`. The network's train/eval mode is restored afterwards.
torch::Tensor embed_dataset(EmbeddingNetImpl& net, const torch::Tensor& images,
                            const std::vector<double>& mean, const std::vector<double>& std,
                            torch::Device device, int64_t batch_size);

}  // namespace swav
