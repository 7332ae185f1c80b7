#include "swav/method/swav.h"

#include <cmath>

#include "swav/core/losses.h"
#include "swav/core/sinkhorn.h"
#include "swav/data/multicrop.h"

namespace swav {

namespace F = torch::nn::functional;

SwavMethod::SwavMethod(const MethodSetup& setup, const SwavOptions& options)
    : options_(options),
      output_dim_(setup.model.output_dim),
      num_clusters_(setup.model.prototypes.at(0)),
      network_(setup.model, setup.in_channels) {
  double chance = 0;
  for (int64_t k : setup.model.prototypes) chance += std::log(static_cast<double>(k));
  collapse_reference_.chance_loss = chance / static_cast<double>(setup.model.prototypes.size());
  collapse_reference_.frozen_iterations = options_.freeze_prototypes_niters;
  collapse_reference_.clusters = num_clusters_;
  collapse_reference_.assigned_crops = static_cast<int64_t>(options_.crops_for_assign.size());
}

CollapseReference SwavMethod::collapse_reference() const {
  return collapse_reference_;
}

void SwavMethod::on_epoch_start(StepContext& ctx) {
  used_prototypes_ = torch::zeros({network_->prototypes->weight(0).size(0)},
                                  torch::TensorOptions().dtype(torch::kBool).device(ctx.device));
  code_entropy_ =
      torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(ctx.device));
  codes_seen_ = 0;
  if (options_.queue_length > 0 && ctx.epoch >= options_.epoch_queue_starts && !queue_.defined()) {
    // The queue holds whole global batches: its length is rounded down to a multiple of them.
    const int64_t length = options_.queue_length - options_.queue_length % ctx.global_batch;
    if (length == 0) return;
    const auto assigned = static_cast<int64_t>(options_.crops_for_assign.size());
    // Each process keeps its share of the global queue.
    queue_ = torch::zeros({assigned, length / ctx.collective->world_size(), output_dim_},
                          torch::TensorOptions().device(ctx.device));
    queue_filled_ = 0;
  }
}

StepOutput SwavMethod::step(const Batch& batch, StepContext& ctx) {
  network_->prototypes->normalize();
  const std::vector<torch::Tensor> crops = device_views(batch.views, ctx);
  const int64_t B = crops[0].size(0);
  auto [z, scores] = network_->forward(crops);

  const bool use_queue = queue_.defined() && queue_filled_ >= queue_.size(1);
  torch::Tensor loss;
  for (int64_t h = 0; h < network_->prototypes->num_heads(); ++h) {
    std::vector<torch::Tensor> codes;
    {
      torch::NoGradGuard no_grad;
      for (size_t j = 0; j < options_.crops_for_assign.size(); ++j) {
        auto out = scores[h].narrow(0, options_.crops_for_assign[j] * B, B).detach();
        if (use_queue) {
          out = torch::cat({torch::mm(queue_[j], network_->prototypes->weight(h).t()), out});
        }
        auto q = sinkhorn_codes(out, options_.epsilon, options_.sinkhorn_iterations,
                                SinkhornImpl::kFused, *ctx.collective);
        codes.push_back(q.narrow(0, q.size(0) - B, B));
        if (h == 0) {
          // Entropy of each code (rows sum to 1), summed on the device; read once per epoch.
          const auto& c = codes.back();
          code_entropy_ -= (c * torch::log(c.clamp_min(1e-30))).sum().to(torch::kFloat64);
          codes_seen_ += B;
        }
      }
    }
    auto head_loss =
        swav_loss(scores[h].split(B), codes, options_.crops_for_assign, options_.temperature);
    loss = loss.defined() ? loss + head_loss : head_loss;
  }
  loss = loss / static_cast<double>(network_->prototypes->num_heads());

  torch::NoGradGuard no_grad;
  if (queue_.defined()) {
    // FIFO: shift by one batch and write the current embeddings at the front.
    const int64_t length = queue_.size(1);
    for (size_t j = 0; j < options_.crops_for_assign.size(); ++j) {
      auto current = z.narrow(0, options_.crops_for_assign[j] * B, B).detach();
      if (length > B)
        queue_[j].narrow(0, B, length - B).copy_(queue_[j].narrow(0, 0, length - B).clone());
      queue_[j].narrow(0, 0, std::min(B, length)).copy_(current.narrow(0, 0, std::min(B, length)));
    }
    queue_filled_ = std::min(length, queue_filled_ + B);
  }
  for (auto crop : options_.crops_for_assign) {
    used_prototypes_.index_fill_(0, scores[0].narrow(0, crop * B, B).argmax(1), true);
  }
  return {loss, {}};
}

void SwavMethod::after_backward(StepContext& ctx) {
  if (ctx.iteration >= options_.freeze_prototypes_niters) return;
  for (auto& p : network_->prototypes->parameters()) p.mutable_grad() = torch::Tensor();
}

Scalars SwavMethod::on_epoch_end(StepContext& ctx) {
  if (!used_prototypes_.defined()) return {};
  const double share = used_prototypes_.to(torch::kFloat64).mean().item<double>();
  Scalars out = {{"prototype_usage", share}};
  if (codes_seen_ > 0 && num_clusters_ > 1) {
    out.emplace_back("code_entropy", code_entropy_.item<double>() /
                                         static_cast<double>(codes_seen_) /
                                         std::log(static_cast<double>(num_clusters_)));
  }
  return out;
}

torch::Tensor SwavMethod::assign(const torch::Tensor& images) {
  return network_->forward({images}).second.at(0).argmax(1);
}

void SwavMethod::save_state(torch::serialize::OutputArchive& archive) const {
  archive.write("swav/queue", queue_.defined() ? queue_ : torch::Tensor(torch::empty({0})));
  archive.write("swav/queue_filled", torch::tensor(queue_filled_));
}

void SwavMethod::load_state(torch::serialize::InputArchive& archive) {
  torch::Tensor queue, filled;
  archive.read("swav/queue", queue);
  archive.read("swav/queue_filled", filled);
  queue_ = queue.numel() > 0 ? queue.to(network_->prototypes->weight(0).device()) : torch::Tensor();
  queue_filled_ = filled.item<int64_t>();
}

}  // namespace swav
