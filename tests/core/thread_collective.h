// A Collective whose "processes" are threads of this process: lets tests run multi-process math
// (Sinkhorn's all-reduces, gathers) without c10d. Every rank must make the same calls in the same
// order.
#pragma once
#include <torch/torch.h>

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "swav/dist/collective.h"

namespace swav::test {

/// The rendezvous shared by the ranks: each exchange returns every rank's contribution in rank
/// order.
class ThreadGroup {
 public:
  explicit ThreadGroup(int64_t size) : size_(size), slots_(static_cast<size_t>(size)) {}
  int64_t size() const { return size_; }

  std::vector<torch::Tensor> exchange(int64_t rank, const torch::Tensor& contribution) {
    std::unique_lock<std::mutex> lock(mutex_);
    const int64_t generation = generation_;
    slots_[static_cast<size_t>(rank)] =
        contribution.defined() ? contribution.clone() : contribution;
    if (++arrived_ == size_) {
      result_ = slots_;
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
    } else {
      cv_.wait(lock, [&] { return generation_ != generation; });
    }
    return result_;
  }

 private:
  int64_t size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<torch::Tensor> slots_, result_;
  int64_t arrived_ = 0, generation_ = 0;
};

/// One rank of a ThreadGroup. Sums are taken in rank order, so every rank gets identical results.
class ThreadCollective final : public Collective {
 public:
  ThreadCollective(ThreadGroup& group, int64_t rank) : group_(group), rank_(rank) {}
  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return group_.size(); }
  void all_reduce_sum(torch::Tensor& tensor) override {
    auto parts = group_.exchange(rank_, tensor);
    auto sum = parts[0].clone();
    for (size_t r = 1; r < parts.size(); ++r) sum.add_(parts[r]);
    tensor.copy_(sum);
  }
  torch::Tensor all_gather_cat(const torch::Tensor& tensor) override {
    return torch::cat(group_.exchange(rank_, tensor), 0);
  }
  void broadcast(torch::Tensor& tensor) override {
    tensor.copy_(group_.exchange(rank_, tensor)[0]);
  }
  void barrier() override { group_.exchange(rank_, torch::Tensor()); }

 private:
  ThreadGroup& group_;
  int64_t rank_;
};

/// Runs fn(collective) on `world` threads and returns each rank's result in rank order; rethrows
/// the first exception.
inline std::vector<torch::Tensor> run_ranks(int64_t world,
                                            const std::function<torch::Tensor(Collective&)>& fn) {
  ThreadGroup group(world);
  std::vector<torch::Tensor> results(static_cast<size_t>(world));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(world));
  std::vector<std::thread> threads;
  for (int64_t r = 0; r < world; ++r) {
    threads.emplace_back([&, r] {
      try {
        ThreadCollective collective(group, r);
        results[static_cast<size_t>(r)] = fn(collective);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return results;
}

}  // namespace swav::test
