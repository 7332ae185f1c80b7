// Provenance recorded with every run.
#pragma once
#include <string>

namespace swav {

/// Short git revision of the source tree at configure time ("unknown" outside git).
std::string git_revision();
/// Library versions, e.g. "torch 2.11.0, swav-bench 0.1.0".
std::string library_versions();

}  // namespace swav
