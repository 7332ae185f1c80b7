// A Collective over one c10d backend (ProcessGroupGloo or ProcessGroupNCCL): each tensor goes
// through a contiguous copy on the backend's device where it is not one already, each collective
// runs to completion, and a peer that stopped or timed out becomes a UserError. Internal to
// swav/dist: process_group.cpp makes the Gloo one, nccl.cpp the NCCL one.
#pragma once
#include <torch/csrc/distributed/c10d/Backend.hpp>

#include <functional>
#include <string>

#include "swav/dist/collective.h"

namespace swav {

class BackendCollective final : public Collective {
 public:
  /// `device`: where the backend's tensors live (the CPU for Gloo, the process's GPU for NCCL);
  /// `label` prefixes the collective's name in errors ("" or "NCCL ").
  BackendCollective(c10::intrusive_ptr<c10d::Backend> backend, int64_t rank, int64_t world,
                    torch::Device device, std::string label);

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }
  void all_reduce_sum(torch::Tensor& tensor) override;
  torch::Tensor all_gather_cat(const torch::Tensor& tensor) override;
  void broadcast(torch::Tensor& tensor) override;
  /// Gloo's own barrier; on a GPU an all-reduce of one element on the process's device instead,
  /// since NCCL's barrier has to guess the device.
  void barrier() override;

 private:
  void wait(const char* what, const std::function<c10::intrusive_ptr<c10d::Work>()>& start);
  at::Tensor staged(const torch::Tensor& t) const;

  c10::intrusive_ptr<c10d::Backend> backend_;
  int64_t rank_;
  int64_t world_;
  torch::Device device_;
  std::string label_;
};

}  // namespace swav
