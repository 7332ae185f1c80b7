#include "swav/store/heartbeat.h"

#include <fmt/format.h>

#include <chrono>
#include <exception>

#include "swav/store/store.h"

namespace swav {

Heartbeat::Heartbeat(const std::string& db, int64_t run_id, std::string owner)
    : thread_([this, db, run_id, owner = std::move(owner)] {
        try {
          Store store(db);
          std::unique_lock<std::mutex> lock(mutex_);
          while (!stop_) {
            const auto period = std::chrono::duration<double>(Store::kHeartbeatSeconds);
            if (cv_.wait_for(lock, period, [this] { return stop_; })) break;
            if (!store.heartbeat(run_id, owner)) {
              fmt::print(stderr, "warning: run {} was taken over by another process\n", run_id);
              break;
            }
          }
        } catch (const std::exception& e) {
          fmt::print(stderr, "warning: heartbeat of run {} stopped: {}\n", run_id, e.what());
        }
      }) {}

Heartbeat::~Heartbeat() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

}  // namespace swav
