#include "swav/util/version.h"

#include <fmt/format.h>
#include <sqlite3.h>

#ifndef SWAV_GIT_REV
#define SWAV_GIT_REV "unknown"
#endif
#ifndef SWAV_TORCH_VERSION
#define SWAV_TORCH_VERSION "unknown"
#endif

namespace swav {

std::string git_revision() {
  return SWAV_GIT_REV;
}

std::string library_versions() {
  return fmt::format("swav-bench 0.1.0, torch {}, sqlite {}, fmt {}", SWAV_TORCH_VERSION,
                     sqlite3_libversion(), FMT_VERSION);
}

}  // namespace swav
