#include "swav/models/batch_norm.h"

#include <vector>

namespace swav {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

/// The reduction dimensions of x (all but the channel dimension 1) and the shape that
/// broadcasts a per-channel vector against x.
std::vector<int64_t> reduce_dims(const torch::Tensor& x) {
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  return dims;
}
std::vector<int64_t> channel_shape(const torch::Tensor& x) {
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[1] = x.size(1);
  return shape;
}

/// Per-channel sums over every dimension but 1, accumulated in float64 (no float64 copy of x).
torch::Tensor channel_sums(const torch::Tensor& x) {
  return x.sum(reduce_dims(x), /*keepdim=*/false, torch::kFloat64);
}

/// Per-channel coefficients as a broadcastable float tensor of x's dtype.
torch::Tensor per_channel(const torch::Tensor& c, const torch::Tensor& x) {
  return c.to(x.scalar_type()).view(channel_shape(x));
}

// Only per-channel quantities are computed in float64; the passes over x are float32 ops of the
// form a_c * x + b_c, as torch's own batch norm does.
class SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps, int64_t collective_address) {
    auto& collective = *reinterpret_cast<Collective*>(collective_address);
    const int64_t channels = x.size(1);
    // One all-reduce for [sum, sum of squares, count] of every channel.
    auto stats = torch::cat({channel_sums(x), channel_sums(x.square()),
                             torch::full({1}, static_cast<double>(x.numel() / channels),
                                         torch::TensorOptions().dtype(torch::kFloat64))});
    collective.all_reduce_sum(stats);
    const auto n = stats[2 * channels];
    const auto mean = stats.narrow(0, 0, channels) / n;
    const auto var = (stats.narrow(0, channels, channels) / n - mean * mean).clamp_min(0);
    const auto invstd = (var + eps).rsqrt();
    if (running_mean.defined()) {
      torch::NoGradGuard no_grad;
      const double count = n.item<double>();
      const auto unbiased = count > 1 ? var * (count / (count - 1)) : var;
      running_mean.mul_(1 - momentum).add_(mean.to(running_mean.dtype()), momentum);
      running_var.mul_(1 - momentum).add_(unbiased.to(running_var.dtype()), momentum);
    }
    // y = (x - mean) * invstd * w + b = scale * x + shift.
    auto scale = invstd;
    if (weight.defined()) scale = scale * weight.to(torch::kFloat64);
    auto shift = -mean * scale;
    if (bias.defined()) shift = shift + bias.to(torch::kFloat64);
    ctx->save_for_backward({x, weight, mean, invstd, n});
    ctx->saved_data["collective"] = collective_address;
    return torch::addcmul(per_channel(shift, x), x, per_channel(scale, x));
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto& mean = saved[2];
    const auto& invstd = saved[3];
    const auto& n = saved[4];
    auto& collective = *reinterpret_cast<Collective*>(ctx->saved_data["collective"].toInt());
    const int64_t channels = x.size(1);
    const auto dy = grad_outputs[0].contiguous(x.suggest_memory_format());
    // sum(dy) and sum(dy * x_hat) = invstd * (sum(dy * x) - mean * sum(dy)), per channel.
    const auto sum_dy = channel_sums(dy);
    const auto sum_dy_xhat = invstd * (channel_sums(dy * x) - mean * sum_dy);
    // This process's parameter gradients (the Trainer averages them over processes like all
    // others); the input gradient needs the sums of every process.
    torch::Tensor grad_weight, grad_bias;
    if (weight.defined()) {
      grad_weight = sum_dy_xhat.to(weight.dtype());
      grad_bias = sum_dy.to(weight.dtype());
    }
    auto sums = torch::cat({sum_dy, sum_dy_xhat});
    collective.all_reduce_sum(sums);
    const auto mean_dy = sums.narrow(0, 0, channels) / n;
    const auto mean_dy_xhat = sums.narrow(0, channels, channels) / n;
    // dx = scale * (dy - mean_dy - x_hat * mean_dy_xhat) = k_dy * dy + k_x * x + k_1.
    auto scale = invstd;
    if (weight.defined()) scale = scale * weight.to(torch::kFloat64);
    const auto k_x = -scale * invstd * mean_dy_xhat;
    const auto k_1 = scale * (invstd * mean_dy_xhat * mean - mean_dy);
    const auto dx = torch::addcmul(torch::addcmul(per_channel(k_1, x), x, per_channel(k_x, x)), dy,
                                   per_channel(scale, x));
    return {dx,
            grad_weight,
            grad_bias,
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

template <class Impl>
torch::Tensor sync_forward(Impl& bn, const torch::Tensor& x, Collective* collective) {
  const auto& o = bn.options;
  TORCH_CHECK(o.momentum().has_value(),
              "synchronised batch norm needs a momentum (a cumulative average is not offered)");
  if (bn.num_batches_tracked.defined()) bn.num_batches_tracked += 1;
  return sync_batch_norm(x, bn.weight, bn.bias, bn.running_mean, bn.running_var,
                         o.momentum().value(), o.eps(), *collective);
}

}  // namespace

torch::Tensor sync_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor& running_mean,
                              torch::Tensor& running_var, double momentum, double eps,
                              Collective& collective) {
  TORCH_CHECK(x.dim() >= 2, "sync_batch_norm: expected [N, C, ...], got ", x.sizes());
  return SyncBatchNormFunction::apply(x, weight, bias, running_mean, running_var, momentum, eps,
                                      reinterpret_cast<int64_t>(&collective));
}

torch::Tensor SyncBatchNorm2dImpl::forward(const torch::Tensor& x) {
  if (collective == nullptr || !is_training()) return torch::nn::BatchNorm2dImpl::forward(x);
  _check_input_dim(x);
  return sync_forward(*this, x, collective);
}

torch::Tensor SyncBatchNorm1dImpl::forward(const torch::Tensor& x) {
  if (collective == nullptr || !is_training()) return torch::nn::BatchNorm1dImpl::forward(x);
  _check_input_dim(x);
  return sync_forward(*this, x, collective);
}

int64_t sync_batch_norm(torch::nn::Module& root, Collective* collective) {
  int64_t count = 0;
  for (auto& m : root.modules(/*include_self=*/true)) {
    if (auto* bn2 = m->as<SyncBatchNorm2dImpl>()) {
      bn2->collective = collective;
      ++count;
    } else if (auto* bn1 = m->as<SyncBatchNorm1dImpl>()) {
      bn1->collective = collective;
      ++count;
    }
  }
  return count;
}

}  // namespace swav
