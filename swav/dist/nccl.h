// The NCCL side of a multi-process run: collectives on CUDA tensors. Internal to swav/dist (the
// process group routes CUDA tensors here and CPU tensors to Gloo).
#pragma once
#include <torch/csrc/distributed/c10d/Store.hpp>

#include <chrono>
#include <memory>

#include "swav/dist/collective.h"

namespace swav {

/// Whether this build can make an NCCL collective (a CUDA build of LibTorch with c10d's NCCL, and
/// the project's CUDA code compiled).
bool nccl_built();

/// An NCCL process group of `world` ranks over `store` (keys of its own), on CUDA device
/// `cuda_index`; each collective waits at most `timeout`. CPU tensors passed to it go through a
/// copy on that device. Throws UserError when the build has no NCCL or the group cannot be made.
std::unique_ptr<Collective> make_nccl_collective(const c10::intrusive_ptr<c10d::Store>& store,
                                                 int64_t rank, int64_t world, int64_t cuda_index,
                                                 std::chrono::milliseconds timeout);

}  // namespace swav
