// ProcessGroupNCCL behind the Collective interface. Built with its body only where LibTorch has
// c10d's NCCL and the project's CUDA code compiles (nccl.h comes from the nvidia-nccl wheel that
// torch depends on, see CMakeLists.txt); elsewhere the functions say there is no NCCL.
#include "swav/dist/nccl.h"

#include "swav/util/error.h"

#if defined(SWAV_WITH_CUDA) && defined(USE_C10D_NCCL) && defined(SWAV_HAVE_NCCL_HEADERS)
#include <c10/cuda/CUDAGuard.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "swav/dist/backend_collective.h"

namespace swav {

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
    return std::make_unique<BackendCollective>(std::move(group), rank, world, device, "NCCL ");
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
