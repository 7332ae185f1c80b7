// The data layer's one pool of short-lived threads: decoding a folder, rendering a batch's views,
// decoding streamed rows. Each of these splits its work into numbered tasks that write disjoint
// outputs.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace swav::data {

/// The threads a decode uses: the machine's, at most 8.
inline int64_t default_threads() {
  return std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, 8);
}

/// Runs body(task, state) for every task in [0, tasks) on up to `threads` threads, the calling
/// thread one of them, handing tasks out in increasing order, `chunk` at a time. Each thread makes
/// its own state (scratch buffers) with make_state(). When tasks throw, no task after the first of
/// them (in task order) is started, and that task's exception is rethrown once every thread has
/// stopped: the error is the same whatever the threads' timing.
template <class MakeState, class Body>
void run_tasks(int64_t tasks, int64_t threads, int64_t chunk, MakeState make_state, Body body) {
  if (tasks <= 0) return;
  chunk = std::max<int64_t>(chunk, 1);
  std::atomic<int64_t> next{0};
  std::atomic<int64_t> stop_at{tasks};
  std::mutex error_mutex;
  int64_t error_task = tasks;
  std::exception_ptr error;
  auto work = [&] {
    auto state = make_state();
    for (;;) {
      const int64_t begin = next.fetch_add(chunk);
      const int64_t end = std::min(begin + chunk, tasks);
      for (int64_t task = begin; task < end; ++task) {
        if (task >= stop_at.load()) return;
        try {
          body(task, state);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (task < error_task) {
            error_task = task;
            error = std::current_exception();
            stop_at.store(task);
          }
          return;
        }
      }
      if (end >= tasks) return;
    }
  };
  const int64_t pool_size = std::clamp<int64_t>(threads, 1, (tasks + chunk - 1) / chunk);
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < pool_size; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace swav::data
