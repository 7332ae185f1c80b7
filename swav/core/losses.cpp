#include "swav/core/losses.h"

#include "swav/util/fault_injection.h"

namespace swav {

torch::Tensor swav_loss(const std::vector<torch::Tensor>& scores,
                        const std::vector<torch::Tensor>& codes,
                        const std::vector<int64_t>& crops_for_assign, double temperature) {
  const auto crops = static_cast<int64_t>(scores.size());
  TORCH_CHECK(crops >= 2, "swav_loss: need at least two crops, got ", crops);
  TORCH_CHECK(!crops_for_assign.empty(), "swav_loss: crops_for_assign is empty");
  TORCH_CHECK(codes.size() == crops_for_assign.size(), "swav_loss: ", codes.size(), " codes for ",
              crops_for_assign.size(), " assigned crops");
  TORCH_CHECK(temperature > 0, "swav_loss: temperature must be positive, got ", temperature);

  // Each crop's log-probabilities are shared by every code it predicts.
  std::vector<torch::Tensor> log_probs;
  log_probs.reserve(scores.size());
  for (const auto& s : scores) {
    TORCH_CHECK(s.dim() == 2 && s.sizes() == scores[0].sizes(),
                "swav_loss: every crop's scores must be [B, K] ", "of one shape; got ", s.sizes(),
                " and ", scores[0].sizes());
    log_probs.push_back(torch::log_softmax(s / temperature, 1));
  }

  torch::Tensor loss;
  for (size_t j = 0; j < crops_for_assign.size(); ++j) {
    const int64_t i = crops_for_assign[j];
    TORCH_CHECK(i >= 0 && i < crops, "swav_loss: crops_for_assign entry ", i,
                " is not a crop index in [0, ", crops, ")");
    TORCH_CHECK(codes[j].sizes() == scores[i].sizes(), "swav_loss: codes ", codes[j].sizes(),
                " do not match scores ", scores[i].sizes());
    const auto q = codes[j].detach().to(log_probs[i].dtype());
    const bool unswapped = fault_injected(Fault::kUnswappedLoss);
    torch::Tensor subloss;
    for (int64_t v = 0; v < crops; ++v) {
      if (v == i) continue;
      auto term = -(q * log_probs[unswapped ? i : v]).sum(1).mean();
      subloss = subloss.defined() ? subloss + term : term;
    }
    subloss = subloss / static_cast<double>(crops - 1);
    loss = loss.defined() ? loss + subloss : subloss;
  }
  return loss / static_cast<double>(crops_for_assign.size());
}

torch::Tensor nt_xent(const torch::Tensor& view1, const torch::Tensor& view2, double temperature,
                      Collective& collective) {
  TORCH_CHECK(view1.dim() == 2 && view1.sizes() == view2.sizes(),
              "nt_xent: views must be [N, D] of one shape, got ", view1.sizes(), " and ",
              view2.sizes());
  TORCH_CHECK(view1.size(0) >= 1, "nt_xent: need at least one pair");
  TORCH_CHECK(temperature > 0, "nt_xent: temperature must be positive, got ", temperature);
  namespace F = torch::nn::functional;
  const int64_t N = view1.size(0);
  const auto norm = F::NormalizeFuncOptions().dim(1);
  auto z1 = F::normalize(view1, norm), z2 = F::normalize(view2, norm);
  // Candidates: [view 1 of every process; view 2 of every process], G rows each. This process's
  // anchors are its rows of both halves, from row `offset` on.
  const int64_t G = N * collective.world_size(), offset = N * collective.rank();
  auto anchors = torch::cat({z1, z2}, 0);  // [2N, D]
  auto candidates = collective.world_size() == 1
                        ? anchors
                        : torch::cat({all_gather_with_grad(z1, collective),
                                      all_gather_with_grad(z2, collective)},
                                     0);  // [2G, D]
  auto logits = torch::mm(anchors, candidates.t()) / temperature;  // [2N, 2G]
  const auto as_long = torch::TensorOptions().dtype(torch::kLong).device(z1.device());
  auto n = torch::arange(N, as_long);
  // Anchor a's own column, and its positive: the other view of the same image.
  auto self = torch::cat({offset + n, G + offset + n});
  auto targets = torch::cat({G + offset + n, offset + n});
  // An embedding is never its own candidate: -inf drops it from the softmax (and from the
  // gradient).
  auto mask = torch::zeros_like(logits, logits.options().dtype(torch::kBool));
  mask.scatter_(1, self.unsqueeze(1), true);
  logits = logits.masked_fill(mask, -std::numeric_limits<double>::infinity());
  return F::cross_entropy(logits, targets);
}

torch::Tensor nt_xent_crops(const std::vector<torch::Tensor>& views, double temperature,
                            Collective& collective) {
  TORCH_CHECK(views.size() >= 2, "nt_xent_crops: need at least 2 crops, got ", views.size());
  torch::Tensor total;
  int64_t pairs = 0;
  for (size_t i = 0; i < views.size(); ++i) {
    for (size_t j = i + 1; j < views.size(); ++j) {
      auto l = nt_xent(views[i], views[j], temperature, collective);
      total = total.defined() ? total + l : l;
      ++pairs;
    }
  }
  return total / static_cast<double>(pairs);
}

torch::Tensor proto_nce(const torch::Tensor& q, const torch::Tensor& centroids,
                        const torch::Tensor& concentration, const torch::Tensor& assignments,
                        const torch::Tensor& negatives, int64_t first_query) {
  TORCH_CHECK(q.dim() == 2 && centroids.dim() == 2 && q.size(1) == centroids.size(1),
              "proto_nce: q [B, D] and centroids [K, D] must agree in D");
  TORCH_CHECK(concentration.dim() == 1 && concentration.size(0) == centroids.size(0),
              "proto_nce: concentration must be [K]");
  TORCH_CHECK(first_query >= 0 && first_query + q.size(0) <= assignments.size(0),
              "proto_nce: queries ", first_query, "..", first_query + q.size(0),
              " need an assignment each, got ", assignments.size(0));
  auto ids = torch::cat({assignments, negatives});
  auto selected = centroids.index_select(0, ids);
  auto logits = torch::mm(q, selected.t()) / concentration.index_select(0, ids).unsqueeze(0);
  auto targets = torch::arange(first_query, first_query + q.size(0),
                               torch::TensorOptions().dtype(torch::kLong).device(q.device()));
  return torch::nn::functional::cross_entropy(logits, targets);
}

}  // namespace swav
