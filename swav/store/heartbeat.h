// Keeps a claimed run's heartbeat fresh, so other runners of the same store see it is alive.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace swav {

/// Refreshes the heartbeat of run `run_id` claimed by `owner` every Store::kHeartbeatSeconds,
/// from its own connection to the store at `db`, until destroyed. When another process has taken
/// the run over (its heartbeat went stale), or the store fails, it warns on stderr and stops.
class Heartbeat {
 public:
  Heartbeat(const std::string& db, int64_t run_id, std::string owner);
  ~Heartbeat();
  Heartbeat(const Heartbeat&) = delete;
  Heartbeat& operator=(const Heartbeat&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // last: started once the members above exist
};

}  // namespace swav
