// Everything a process prints, copied into a log file as well (a trial's log.txt).
#pragma once
#include <memory>
#include <string>

namespace swav {

class Tee;

/// While it lives, stdout and stderr go both to where they went before and to the file at `path`
/// (opened for appending, so attempts of a trial follow each other in one file). Each descriptor
/// is pointed at a pipe that a thread drains into both, so output of child code (LibTorch,
/// printf) is captured too. Throws UserError naming the file when it cannot be opened.
class OutputLog {
 public:
  explicit OutputLog(const std::string& path);
  ~OutputLog();
  OutputLog(const OutputLog&) = delete;
  OutputLog& operator=(const OutputLog&) = delete;

  /// Writes to the log file only (not to the terminal).
  void note(const std::string& text) const;

 private:
  int log_fd_ = -1;
  std::unique_ptr<Tee> out_, err_;
};

}  // namespace swav
