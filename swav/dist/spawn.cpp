#include "swav/dist/spawn.h"

#include <fmt/format.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

extern char** environ;

#include "swav/util/error.h"

namespace swav {

namespace {

std::atomic<int> g_forward_signal{0};

void remember_signal(int sig) {
  g_forward_signal = sig;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with code {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("was killed by signal {}", WTERMSIG(status));
  return "stopped";
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) fail("cannot open a socket to find a free port: {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  if (!ok) fail("cannot find a free TCP port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

std::string self_executable() {
  char buffer[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (n <= 0) fail("cannot find this program's path (/proc/self/exe)");
  return std::string(buffer, static_cast<size_t>(n));
}

int spawn_local_workers(const std::vector<std::string>& args, const SpawnOptions& options) {
  if (options.processes < 1) fail("--nproc {}: expected at least 1 process", options.processes);
  const std::string exe = self_executable();
  const int port = options.master_port > 0 ? options.master_port : free_local_port();
  const pid_t parent = ::getpid();

  struct sigaction forward {};
  forward.sa_handler = remember_signal;
  sigemptyset(&forward.sa_mask);
  ::sigaction(SIGINT, &forward, nullptr);
  ::sigaction(SIGTERM, &forward, nullptr);

  // Everything the workers need is built before fork: the child only calls prctl and execve.
  std::vector<std::string> argv_text = {exe};
  argv_text.insert(argv_text.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_text) argv.push_back(a.data());
  argv.push_back(nullptr);
  static const char* kOwn[] = {"RANK=",
                               "WORLD_SIZE=",
                               "LOCAL_RANK=",
                               "LOCAL_WORLD_SIZE=",
                               "MASTER_ADDR=",
                               "MASTER_PORT=",
                               "TORCHELASTIC_USE_AGENT_STORE="};
  std::vector<std::string> inherited;
  for (char** e = environ; *e != nullptr; ++e) {
    bool own = false;
    for (const char* prefix : kOwn) own = own || std::strncmp(*e, prefix, std::strlen(prefix)) == 0;
    if (!own) inherited.emplace_back(*e);
  }
  std::vector<std::vector<std::string>> env_text(static_cast<size_t>(options.processes));
  std::vector<std::vector<char*>> envp(static_cast<size_t>(options.processes));
  for (int rank = 0; rank < options.processes; ++rank) {
    auto& text = env_text[static_cast<size_t>(rank)];
    text = inherited;
    const std::string world = std::to_string(options.processes);
    text.push_back("RANK=" + std::to_string(rank));
    text.push_back("WORLD_SIZE=" + world);
    text.push_back("LOCAL_RANK=" + std::to_string(rank));
    text.push_back("LOCAL_WORLD_SIZE=" + world);
    text.push_back("MASTER_ADDR=" + options.master_addr);
    text.push_back("MASTER_PORT=" + std::to_string(port));
    for (auto& v : text) envp[static_cast<size_t>(rank)].push_back(v.data());
    envp[static_cast<size_t>(rank)].push_back(nullptr);
  }

  std::vector<pid_t> pids;
  for (int rank = 0; rank < options.processes; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) fail("--nproc: fork failed: {}", std::strerror(errno));
    if (pid == 0) {
      // The worker dies with the launcher, even if the launcher is killed with SIGKILL.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) _exit(1);  // the launcher died before prctl took effect
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      ::execve(exe.c_str(), argv.data(), envp[static_cast<size_t>(rank)].data());
      _exit(127);
    }
    pids.push_back(pid);
  }

  std::vector<bool> running(pids.size(), true);
  size_t alive = pids.size();
  int result = 0;
  bool failed = false;
  auto terminate_at = std::chrono::steady_clock::time_point::max();
  auto kill_at = std::chrono::steady_clock::time_point::max();
  while (alive > 0) {
    if (const int sig = g_forward_signal.exchange(0); sig != 0) {
      for (size_t i = 0; i < pids.size(); ++i)
        if (running[i]) ::kill(pids[i], sig);
      if (kill_at == std::chrono::steady_clock::time_point::max())
        kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      for (size_t i = 0; i < pids.size(); ++i) {
        if (pids[i] != pid || !running[i]) continue;
        running[i] = false;
        --alive;
        const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !failed) {
          failed = true;
          result = exit_code_of(status);
          if (alive > 0) {
            fmt::print(stderr,
                       "--nproc: rank {} {}; the other {} worker(s) get {} s to finish, then are "
                       "stopped\n",
                       i, describe_status(status), alive, options.grace.count());
            terminate_at = std::chrono::steady_clock::now() + options.grace;
          } else {
            fmt::print(stderr, "--nproc: rank {} {}\n", i, describe_status(status));
          }
        } else if (i == 0 && !failed) {
          result = exit_code_of(status);
        }
      }
      continue;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= terminate_at) {
      for (size_t i = 0; i < pids.size(); ++i)
        if (running[i]) ::kill(pids[i], SIGTERM);
      terminate_at = std::chrono::steady_clock::time_point::max();
      kill_at = now + std::chrono::seconds(5);
    }
    if (now >= kill_at) {
      for (size_t i = 0; i < pids.size(); ++i)
        if (running[i]) ::kill(pids[i], SIGKILL);
      kill_at = std::chrono::steady_clock::time_point::max();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return result;
}

}  // namespace swav
