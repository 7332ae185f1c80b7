#include "baselines/simclr.h"

#include "swav/core/losses.h"

namespace swav {

SimclrMethod::SimclrMethod(const MethodSetup& setup, const SimclrOptions& options)
    : options_(options), network_(setup.model, setup.in_channels) {}

StepOutput SimclrMethod::step(const Batch& batch, StepContext& ctx) {
  auto crops = device_views(batch.views, ctx);
  const int64_t B = crops[0].size(0);
  auto z = network_->forward(crops);
  return {nt_xent_crops(z.split(B), options_.temperature, *ctx.collective), {}};
}

}  // namespace swav
