#include "baselines/sela_v2.h"

#include "swav/core/sinkhorn.h"

namespace swav {

SelaV2Method::SelaV2Method(const MethodSetup& setup, const SelaV2Options& options)
    : DeepClusterV2Method(setup, {options.crops_for_assign, options.temperature, "sela_v2"}),
      sela_(options) {}

void SelaV2Method::cluster(StepContext& ctx) {
  torch::NoGradGuard no_grad;
  network_->prototypes->normalize();
  const int64_t n_assign = bank_.size(0);
  for (int64_t h = 0; h < network_->prototypes->num_heads(); ++h) {
    auto scores = torch::mm(bank_[h % n_assign], network_->prototypes->weight(h).t());
    auto codes = sinkhorn(scores, sela_.epsilon, sela_.sinkhorn_iterations, *ctx.collective);
    assignments_[h].copy_(
        gather_rows(codes.argmax(1).cpu(), setup_.dataset_size, *ctx.collective));
  }
}

StepOutput SelaV2Method::step(const Batch& batch, StepContext& ctx) {
  network_->prototypes->normalize();
  return DeepClusterV2Method::step(batch, ctx);
}

}  // namespace swav
