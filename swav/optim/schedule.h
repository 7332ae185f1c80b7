// SwAV's per-iteration learning-rate schedule.
#pragma once
#include <cstdint>

#include "swav/config/options.h"

namespace swav {

/// Linear warmup then cosine, evaluated per iteration, as the official SwAV script builds it
/// (numpy.linspace for the warmup, which includes both ends):
///   warmup_iters = warmup_epochs * iters_per_epoch
///   it <  warmup_iters: lr = start_warmup + (base_lr - start_warmup) * it / (warmup_iters - 1)
///                       (start_warmup when warmup_iters = 1)
///   otherwise, with t = it - warmup_iters and T = total_iters - warmup_iters:
///     lr = final_lr + 0.5 * (base_lr - final_lr) * (1 + cos(pi * t / T))
/// So the last warmup iteration and the first cosine iteration both run at base_lr.
class WarmupCosine {
 public:
  WarmupCosine(const OptimOptions& options, int64_t iters_per_epoch, int64_t epochs);
  double lr(int64_t iteration) const;
  int64_t total_iterations() const { return total_; }

 private:
  double start_warmup_, base_lr_, final_lr_;
  int64_t warmup_, total_;
};

}  // namespace swav
