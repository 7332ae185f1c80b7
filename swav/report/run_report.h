// What run_experiment prints when a run ends: its results as a Markdown table.
#pragma once
#include <cstdint>
#include <string>

#include "swav/store/store.h"

namespace swav {

/// The results of a run as a Markdown table: loss first and last epoch against ln K, prototype
/// usage, the collapse watch's finding (only when it flagged an epoch), kNN top-1 trained vs
/// untrained, linear top-1 and the other protocols, cluster quality, times.
std::string format_run_results(const Store& store, int64_t run_id);

}  // namespace swav
