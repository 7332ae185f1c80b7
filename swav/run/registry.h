// Method name -> the Method it builds: the composition root of the methods (SwAV in swav/method,
// the baselines in baselines/). The runner, tests and benchmarks build every method here. The
// names are those of swav/config/fields.h's method list (a test checks that they agree).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/train/method.h"

namespace swav {

/// Builds the method named options.method for images with `in_channels` channels, trained on a
/// split of `dataset_size` images (the clustering baselines size their labels and banks by it) by
/// `world_size` processes together. Throws UserError for an unknown name, listing the known ones.
std::unique_ptr<Method> make_method(const ExperimentOptions& options, int64_t in_channels,
                                    int64_t dataset_size, int64_t world_size = 1);

/// The names make_method accepts, sorted.
std::vector<std::string> registered_methods();

}  // namespace swav
