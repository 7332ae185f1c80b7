#include "swav/optim/larc.h"

#include <algorithm>

namespace swav {

LarcSgd::LarcSgd(std::vector<torch::Tensor> params, const OptimOptions& options)
    : params_(std::move(params)), options_(options) {
  TORCH_CHECK(options_.base_lr >= 0 && options_.momentum >= 0 && options_.weight_decay >= 0,
              "LarcSgd: lr, momentum and weight decay must be >= 0");
  // With LARC the weight decay is folded into the scaled gradient, so SGD itself runs without it.
  auto sgd_options = torch::optim::SGDOptions(options_.base_lr)
                         .momentum(options_.momentum)
                         .weight_decay(options_.larc ? 0.0 : options_.weight_decay);
  if (!options_.exclude_bias_bn) {
    sgd_ = std::make_unique<torch::optim::SGD>(params_, sgd_options);
    return;
  }
  // Excluded (1-D) tensors form their own group without weight decay (it matters only without
  // LARC; with LARC the decay is folded into the adapted gradient, which they do not get).
  std::vector<torch::Tensor> adapted, excluded;
  for (auto& p : params_) (p.dim() <= 1 ? excluded : adapted).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!adapted.empty())
    groups.emplace_back(adapted, std::make_unique<torch::optim::SGDOptions>(sgd_options));
  auto plain = sgd_options;
  plain.weight_decay(0.0);
  if (!excluded.empty())
    groups.emplace_back(excluded, std::make_unique<torch::optim::SGDOptions>(plain));
  sgd_ = std::make_unique<torch::optim::SGD>(std::move(groups), sgd_options);
}

void LarcSgd::set_lr(double lr) {
  for (auto& group : sgd_->param_groups())
    static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
}

double LarcSgd::lr() const {
  return static_cast<const torch::optim::SGDOptions&>(sgd_->param_groups().front().options()).lr();
}

void LarcSgd::zero_grad() {
  sgd_->zero_grad();
}

void LarcSgd::step() {
  if (options_.larc) {
    torch::NoGradGuard no_grad;
    const double wd = options_.weight_decay;
    const double current_lr = lr();
    for (auto& p : params_) {
      auto g = p.mutable_grad();
      if (!g.defined()) continue;  // frozen: SGD skips it too, so no momentum and no decay
      if (options_.exclude_bias_bn && p.dim() <= 1) continue;  // plain SGD step, no decay
      // Norms stay on the device as 0-dim tensors: no host synchronisation per parameter.
      auto w_norm = p.norm();
      auto g_norm = g.norm();
      auto rate = options_.larc_trust * w_norm / (g_norm + wd * w_norm + options_.larc_eps);
      if (options_.larc_clip) rate = torch::clamp_max(rate / current_lr, 1.0);
      // Zero weights or zero gradient: LARC leaves the gradient as it is (and adds no decay).
      auto active = w_norm.ne(0).logical_and(g_norm.ne(0));
      auto scale = torch::where(active, rate, torch::ones_like(rate));
      auto decay = torch::where(active, torch::full_like(rate, wd), torch::zeros_like(rate));
      g.add_(p * decay).mul_(scale);
    }
  }
  sgd_->step();
}

void LarcSgd::save(torch::serialize::OutputArchive& archive) const {
  torch::serialize::OutputArchive state;
  sgd_->save(state);
  archive.write("larc_sgd", state);
}

void LarcSgd::load(torch::serialize::InputArchive& archive) {
  torch::serialize::InputArchive state;
  archive.read("larc_sgd", state);
  sgd_->load(state);
}

}  // namespace swav
