#include "swav/util/output_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>

#include "swav/util/error.h"

namespace swav {

namespace {

/// Writes all of `size` bytes unless the descriptor fails (a log is best effort).
void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    size -= static_cast<size_t>(n);
  }
}

}  // namespace

/// Copies everything written to one file descriptor (stdout or stderr) into a log file as well,
/// until destroyed: the descriptor is pointed at a pipe that a thread drains into both.
class Tee {
 public:
  Tee(int fd, int log_fd) : fd_(fd), log_fd_(log_fd) {
    int ends[2];
    if (::pipe2(ends, O_CLOEXEC) != 0)
      fail("cannot create a pipe for the trial log: {}", std::strerror(errno));
    saved_ = ::dup(fd_);
    ::dup2(ends[1], fd_);
    ::close(ends[1]);
    reader_ = std::thread([this, in = ends[0]] {
      char buffer[4096];
      for (;;) {
        const ssize_t n = ::read(in, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        write_all(saved_, buffer, static_cast<size_t>(n));
        write_all(log_fd_, buffer, static_cast<size_t>(n));
      }
      ::close(in);
    });
  }
  ~Tee() {
    ::dup2(saved_, fd_);  // closes the pipe's last write end: the reader sees the end
    reader_.join();
    ::close(saved_);
  }
  Tee(const Tee&) = delete;
  Tee& operator=(const Tee&) = delete;

 private:
  int fd_, log_fd_, saved_ = -1;
  std::thread reader_;
};

OutputLog::OutputLog(const std::string& path) {
  std::fflush(stdout);
  std::fflush(stderr);
  log_fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd_ < 0) fail("cannot open the trial log '{}': {}", path, std::strerror(errno));
  out_ = std::make_unique<Tee>(STDOUT_FILENO, log_fd_);
  err_ = std::make_unique<Tee>(STDERR_FILENO, log_fd_);
}

void OutputLog::note(const std::string& text) const {
  write_all(log_fd_, text.data(), text.size());
}

OutputLog::~OutputLog() {
  std::fflush(stdout);
  std::fflush(stderr);
  err_.reset();
  out_.reset();
  ::close(log_fd_);
}

}  // namespace swav
