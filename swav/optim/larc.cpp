#include "swav/optim/larc.h"

#include <algorithm>

namespace swav {

LarcSgd::LarcSgd(std::vector<torch::Tensor> params, const OptimOptions& options)
    : LarcSgd(std::vector<ParamGroup>{ParamGroup(std::move(params))}, options) {}

LarcSgd::LarcSgd(const std::vector<ParamGroup>& groups, const OptimOptions& options) {
  for (const auto& group : groups) {
    OptimOptions o = options;
    if (group.momentum) o.momentum = *group.momentum;
    if (group.weight_decay) o.weight_decay = *group.weight_decay;
    if (group.larc) o.larc = *group.larc;
    TORCH_CHECK(o.base_lr >= 0 && o.momentum >= 0 && o.weight_decay >= 0,
                "LarcSgd: lr, momentum and weight decay must be >= 0");
    if (!o.exclude_bias_bn) {
      groups_.push_back({group.params, o, true});
      continue;
    }
    // 1-D tensors form their own group without weight decay and without LARC.
    Group adapted{{}, o, true}, excluded{{}, o, false};
    excluded.options.weight_decay = 0.0;
    for (const auto& p : group.params) (p.dim() <= 1 ? excluded : adapted).params.push_back(p);
    groups_.push_back(std::move(adapted));
    groups_.push_back(std::move(excluded));
  }
  groups_.erase(std::remove_if(groups_.begin(), groups_.end(),
                               [](const Group& g) { return g.params.empty(); }),
                groups_.end());
  TORCH_CHECK(!groups_.empty(), "LarcSgd: no parameters to optimise");

  // With LARC the weight decay is folded into the scaled gradient, so SGD itself runs without it.
  auto sgd_options = [](const OptimOptions& o) {
    return torch::optim::SGDOptions(o.base_lr)
        .momentum(o.momentum)
        .weight_decay(o.larc ? 0.0 : o.weight_decay);
  };
  std::vector<torch::optim::OptimizerParamGroup> sgd_groups;
  for (const auto& g : groups_) {
    sgd_groups.emplace_back(g.params,
                            std::make_unique<torch::optim::SGDOptions>(sgd_options(g.options)));
  }
  sgd_ = std::make_unique<torch::optim::SGD>(std::move(sgd_groups),
                                             sgd_options(groups_.front().options));
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
  torch::NoGradGuard no_grad;
  const double current_lr = lr();
  for (const auto& group : groups_) {
    const auto& o = group.options;
    if (!o.larc || !group.adapted) continue;  // plain SGD step
    for (const auto& p : group.params) {
      auto g = p.mutable_grad();
      if (!g.defined()) continue;  // frozen: SGD skips it too, so no momentum and no decay
      // Norms stay on the device as 0-dim tensors: no host synchronisation per parameter.
      auto w_norm = p.norm();
      auto g_norm = g.norm();
      auto rate = o.larc_trust * w_norm / (g_norm + o.weight_decay * w_norm + o.larc_eps);
      if (o.larc_clip) rate = torch::clamp_max(rate / current_lr, 1.0);
      // Zero weights or zero gradient: LARC leaves the gradient as it is (and adds no decay).
      auto active = w_norm.ne(0).logical_and(g_norm.ne(0));
      auto scale = torch::where(active, rate, torch::ones_like(rate));
      auto decay =
          torch::where(active, torch::full_like(rate, o.weight_decay), torch::zeros_like(rate));
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
