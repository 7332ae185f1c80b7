// What every multi-crop path does to a view once its crop is resampled (internal to swav/data).
#pragma once
#include <cstdint>

#include "swav/config/options.h"
#include "swav/data/multicrop.h"

namespace swav::data {

/// The plan's colour jitter (in its drawn order), grayscale and blur, then normalisation with the
/// options' mean and std, in place on a planar float [C, S, S] view with values in [0, 1].
void finish_view(const AugmentOptions& o, const ViewPlan& plan, int64_t C, int64_t S, float* out);

}  // namespace swav::data
