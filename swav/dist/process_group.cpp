// The multi-process Collective on PyTorch's c10d: a TCPStore for the rendezvous,
// ProcessGroupGloo for CPU tensors and ProcessGroupNCCL (swav/dist/nccl.cpp) for CUDA tensors,
// each behind a BackendCollective. The only file that includes ProcessGroupGloo.hpp: its gloo
// headers come from Debian's libgloo-dev (the wheel ships the library inside libtorch_cpu but not
// the headers), so nothing here touches gloo's own types beyond passing c10d's pointers along; the
// collectives' tests (tests/dist) would catch a mismatch of the two.
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>
#include <vector>

#include "swav/dist/backend_collective.h"
#include "swav/dist/launch.h"
#include "swav/dist/nccl.h"
#include "swav/util/error.h"

namespace swav {

namespace {

/// Gloo for CPU tensors, NCCL for CUDA tensors (the pair torch.distributed calls
/// "cpu:gloo,cuda:nccl"). The NCCL group is made at the first collective on a CUDA tensor, on
/// that tensor's device: every process reaches it at the same point of the same program.
class DeviceRoutedCollective final : public Collective {
 public:
  DeviceRoutedCollective(std::unique_ptr<Collective> gloo, c10::intrusive_ptr<c10d::Store> store,
                         std::chrono::milliseconds timeout)
      : gloo_(std::move(gloo)), store_(std::move(store)), timeout_(timeout) {}

  int64_t rank() const override { return gloo_->rank(); }
  int64_t world_size() const override { return gloo_->world_size(); }
  void all_reduce_sum(torch::Tensor& tensor) override { route(tensor).all_reduce_sum(tensor); }
  torch::Tensor all_gather_cat(const torch::Tensor& tensor) override {
    return route(tensor).all_gather_cat(tensor);
  }
  void broadcast(torch::Tensor& tensor) override { route(tensor).broadcast(tensor); }
  void barrier() override { gloo_->barrier(); }

 private:
  Collective& route(const torch::Tensor& tensor) {
    if (!tensor.defined() || !tensor.is_cuda()) return *gloo_;
    if (!nccl_) {
      auto prefixed = c10::make_intrusive<c10d::PrefixStore>("nccl", store_);
      nccl_ = make_nccl_collective(prefixed, rank(), world_size(), tensor.device().index(),
                                   timeout_);
    }
    return *nccl_;
  }

  std::unique_ptr<Collective> gloo_;
  std::unique_ptr<Collective> nccl_;
  c10::intrusive_ptr<c10d::Store> store_;
  std::chrono::milliseconds timeout_;
};

std::string where(const LaunchInfo& launch) {
  return fmt::format("{}={} {}={}", launch.addr_variable, launch.master_addr, launch.port_variable,
                     launch.master_port);
}

}  // namespace

std::unique_ptr<Collective> connect_process_group(const LaunchInfo& launch,
                                                  std::chrono::milliseconds timeout,
                                                  std::chrono::milliseconds collectives) {
  if (!launch.distributed()) return std::make_unique<SingleProcess>();
  const auto seconds = std::chrono::duration<double>(timeout).count();
  c10::intrusive_ptr<c10d::Store> store;
  try {
    c10d::TCPStoreOptions options;
    options.port = static_cast<std::uint16_t>(launch.master_port);
    options.isServer = launch.rank == 0 && !launch.agent_store;
    options.numWorkers = static_cast<size_t>(launch.world_size);
    options.waitWorkers = false;  // the process group's own rendezvous waits for every rank
    options.timeout = timeout;
    store = c10::make_intrusive<c10d::TCPStore>(launch.master_addr, options);
  } catch (const std::exception& e) {
    if (launch.rank == 0 && !launch.agent_store) {
      fail(
          "rank 0 cannot serve the rendezvous store on {} (a port in use, or an address not of "
          "this host?): {}",
          where(launch), e.what());
    }
    fail(
        "rank {} cannot reach the rendezvous store at {} within {} s (is rank 0 running there, "
        "and the port open?): {}",
        launch.rank, where(launch), seconds, e.what());
  }
  // One prefix per run, so a store shared with torchrun's agent keeps our keys apart.
  auto prefixed = c10::make_intrusive<c10d::PrefixStore>("swav_bench", store);
  // The rendezvous (in the constructor) waits at most `timeout`; each collective afterwards at
  // most `collectives` (setTimeout runs libtorch's own gloo code: nothing here depends on the
  // layout of gloo's classes).
  auto options = c10d::ProcessGroupGloo::Options::create(timeout);
  if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface != nullptr && *iface) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  options->threads = 2;
  try {
    auto group = c10::make_intrusive<c10d::ProcessGroupGloo>(
        prefixed, static_cast<int>(launch.rank), static_cast<int>(launch.world_size), options);
    group->setTimeout(collectives);
    return std::make_unique<DeviceRoutedCollective>(
        std::make_unique<BackendCollective>(std::move(group), launch.rank, launch.world_size,
                                            torch::kCPU, ""),
        prefixed, collectives);
  } catch (const std::exception& e) {
    fail(
        "rank {} of {}: not every rank joined the process group at {} within {} s ({}={} is "
        "right on every process?): {}",
        launch.rank, launch.world_size, where(launch), seconds, launch.world_variable,
        launch.world_size, e.what());
  }
}

}  // namespace swav
