#include "swav/optim/schedule.h"

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

namespace swav {

WarmupCosine::WarmupCosine(const OptimOptions& options, int64_t iters_per_epoch, int64_t epochs)
    : start_warmup_(options.start_warmup),
      base_lr_(options.base_lr),
      final_lr_(options.final_lr),
      warmup_(options.warmup_epochs * iters_per_epoch),
      total_(epochs * iters_per_epoch) {
  // The config layer validates user values (warmup_epochs <= epochs); these are internal
  // invariants.
  TORCH_CHECK(iters_per_epoch >= 1, "WarmupCosine: iterations per epoch must be >= 1, got ",
              iters_per_epoch);
  TORCH_CHECK(epochs >= 1, "WarmupCosine: epochs must be >= 1, got ", epochs);
  TORCH_CHECK(options.warmup_epochs >= 0 && options.warmup_epochs <= epochs,
              "WarmupCosine: warmup_epochs = ", options.warmup_epochs,
              " must lie in [0, epochs = ", epochs, "]");
}

double WarmupCosine::lr(int64_t iteration) const {
  const int64_t it = std::max<int64_t>(iteration, 0);
  if (it < warmup_) {
    if (warmup_ == 1) return start_warmup_;
    return start_warmup_ +
           (base_lr_ - start_warmup_) * static_cast<double>(it) / static_cast<double>(warmup_ - 1);
  }
  const int64_t span = total_ - warmup_;
  if (span <= 0) return final_lr_;
  // Past the last iteration the schedule stays at final_lr.
  const double t = static_cast<double>(std::min(it - warmup_, span));
  return final_lr_ +
         0.5 * (base_lr_ - final_lr_) * (1.0 + std::cos(M_PI * t / static_cast<double>(span)));
}

}  // namespace swav
