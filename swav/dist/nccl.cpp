// ProcessGroupNCCL behind the Collective interface. Built with its body only where LibTorch has
// c10d's NCCL and the project's CUDA code compiles (nccl.h comes from the nvidia-nccl wheel that
// torch depends on, see CMakeLists.txt); elsewhere the functions say there is no NCCL.
#include "swav/dist/nccl.h"

#include "swav/util/error.h"

#if defined(SWAV_WITH_CUDA) && defined(USE_C10D_NCCL) && defined(SWAV_HAVE_NCCL_HEADERS)
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include <vector>

namespace swav {

namespace {

class NcclCollective final : public Collective {
 public:
  NcclCollective(c10::intrusive_ptr<c10d::ProcessGroupNCCL> group, int64_t rank, int64_t world,
                 torch::Device device)
      : group_(std::move(group)), rank_(rank), world_(world), device_(device) {}

  int64_t rank() const override { return rank_; }
  int64_t world_size() const override { return world_; }

  void all_reduce_sum(torch::Tensor& tensor) override {
    std::vector<at::Tensor> buffer{staged(tensor)};
    wait("all_reduce", [&] { return group_->allreduce(buffer); });
    write_back(tensor, buffer[0]);
  }

  torch::Tensor all_gather_cat(const torch::Tensor& tensor) override {
    std::vector<at::Tensor> input{staged(tensor)};
    std::vector<std::vector<at::Tensor>> output(1);
    for (int64_t r = 0; r < world_; ++r) output[0].push_back(torch::empty_like(input[0]));
    wait("all_gather", [&] { return group_->allgather(output, input); });
    return torch::cat(output[0]).to(tensor.device());
  }

  void broadcast(torch::Tensor& tensor) override {
    std::vector<at::Tensor> buffer{staged(tensor)};
    c10d::BroadcastOptions options;
    options.rootRank = 0;
    wait("broadcast", [&] { return group_->broadcast(buffer, options); });
    write_back(tensor, buffer[0]);
  }

  void barrier() override {
    // An all-reduce of one element on this process's device: NCCL's own barrier has to guess
    // the device.
    auto token = torch::zeros({1}, torch::TensorOptions().device(device_));
    all_reduce_sum(token);
    token.item<float>();
  }

 private:
  template <class Start>
  void wait(const char* what, const Start& start) {
    c10::cuda::CUDAGuard guard(device_);
    std::string text;
    try {
      start()->wait();
      return;
    } catch (const c10::Error& e) {
      text = e.what_without_backtrace();
    } catch (const std::exception& e) {
      text = e.what();
    }
    fail("NCCL {} on rank {} of {} failed: another process stopped or did not answer in time ({})",
         what, rank_, world_, text.substr(0, text.find('\n')));
  }

  at::Tensor staged(const torch::Tensor& t) const {
    TORCH_CHECK(t.defined(), "collective on an undefined tensor");
    if (t.device() == device_ && t.is_contiguous()) return t;
    return t.to(device_).contiguous();
  }
  static void write_back(torch::Tensor& target, const at::Tensor& result) {
    if (!result.is_same(target)) target.copy_(result);
  }

  c10::intrusive_ptr<c10d::ProcessGroupNCCL> group_;
  int64_t rank_;
  int64_t world_;
  torch::Device device_;
};

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Collective> make_nccl_collective(const c10::intrusive_ptr<c10d::Store>& store,
                                                 int64_t rank, int64_t world, int64_t cuda_index,
                                                 std::chrono::milliseconds timeout) {
  const torch::Device device(torch::kCUDA, static_cast<c10::DeviceIndex>(cuda_index));
  c10::cuda::CUDAGuard guard(device);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  try {
    auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, static_cast<int>(rank),
                                                             static_cast<int>(world), options);
    return std::make_unique<NcclCollective>(std::move(group), rank, world, device);
  } catch (const std::exception& e) {
    fail("rank {} of {}: cannot make the NCCL process group on {}: {}", rank, world, device.str(),
         e.what());
  }
}

}  // namespace swav

#else

namespace swav {

bool nccl_built() { return false; }

std::unique_ptr<Collective> make_nccl_collective(const c10::intrusive_ptr<c10d::Store>&, int64_t,
                                                 int64_t, int64_t, std::chrono::milliseconds) {
  fail(
      "collectives on CUDA tensors need NCCL, which this build lacks (LibTorch without CUDA, or "
      "the CUDA toolkit or nccl.h not found when it was configured); run on the CPU with Gloo");
}

}  // namespace swav

#endif
