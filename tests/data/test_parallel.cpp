// run_tasks: the thread pool of the data layer (decoding folders, rendering views, streamed rows).
#include <catch2/catch.hpp>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "swav/data/parallel.h"

using swav::data::run_tasks;

TEST_CASE("run_tasks runs every task once, each thread with its own state", "[data][parallel]") {
  for (const int64_t threads : {1, 2, 5}) {
    for (const int64_t chunk : {1, 3, 64}) {
      constexpr int64_t kTasks = 1000;
      std::vector<std::atomic<int>> runs(kTasks);
      std::atomic<int> states{0};
      run_tasks(
          kTasks, threads, chunk,
          [&] {
            ++states;
            return std::this_thread::get_id();
          },
          [&](int64_t task, std::thread::id& owner) {
            REQUIRE(owner == std::this_thread::get_id());
            ++runs[task];
          });
      for (int64_t t = 0; t < kTasks; ++t) REQUIRE(runs[t] == 1);
      CHECK(states >= 1);
      CHECK(states <= threads);
    }
  }
  int calls = 0;
  run_tasks(
      0, 4, 1, [] { return 0; }, [&](int64_t, int&) { ++calls; });
  CHECK(calls == 0);
}

TEST_CASE("run_tasks rethrows the first failing task's error whatever the threads' timing",
          "[data][parallel]") {
  for (int repeat = 0; repeat < 50; ++repeat) {
    const int64_t chunk = 1 + repeat % 3;
    std::vector<std::atomic<int>> runs(200);
    try {
      run_tasks(
          200, 4, chunk, [] { return 0; },
          [&](int64_t task, int&) {
            ++runs[task];
            if (task == 37 || task == 41 || task >= 150)
              throw std::runtime_error("task " + std::to_string(task));
          });
      FAIL("no error was rethrown");
    } catch (const std::runtime_error& e) {
      REQUIRE(std::string(e.what()) == "task 37");
    }
    // Every task before the first failure ran, once.
    for (int64_t t = 0; t <= 37; ++t) REQUIRE(runs[t] == 1);
    // Tasks after it may have been running already, but none ran twice.
    for (int64_t t = 38; t < 200; ++t) REQUIRE(runs[t] <= 1);
  }
}
