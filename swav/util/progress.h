// Progress lines with an ETA.
#pragma once
#include <chrono>
#include <string>

namespace swav {

/// "42s", "3m05s", "1h02m".
std::string format_duration(double seconds);

/// Wall-clock stopwatch.
class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  void reset() { start_ = std::chrono::steady_clock::now(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

/// Writes a progress line: rewritten in place on a terminal, one line per call otherwise.
void print_progress(const std::string& line, bool final_line = false);

}  // namespace swav
