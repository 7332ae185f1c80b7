// What every fuzz target shares: a private folder for the files a reader needs, and the rule that
// bad bytes may only ever end in swav::UserError (the error that names the file and the problem).
// Anything else (a crash, a sanitizer report, another exception, a hang) is a finding, and each
// finding becomes a file in fuzz/regressions/<target>/ that ctest replays.
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "swav/util/error.h"

namespace swav::fuzz {

/// A folder of this process's own, created once, removed at exit.
inline const std::filesystem::path& work_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      path = std::filesystem::temp_directory_path() /
             ("swav_fuzz_" + std::to_string(::getpid()));
      std::filesystem::create_directories(path);
    }
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static Dir dir;
  return dir.path;
}

/// Writes bytes to work_dir()/name and returns the path.
inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
  const auto path = work_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path.string();
}

inline std::string write_file(const std::string& name, const std::string& text) {
  return write_file(name, reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

/// Runs a reader on fuzzed input: a UserError is the expected answer to bad bytes; every other
/// exception escapes, and libFuzzer reports it as a crash.
template <typename Body>
void expect_clean(Body&& body) {
  try {
    body();
  } catch (const swav::UserError&) {
  }
}

}  // namespace swav::fuzz
