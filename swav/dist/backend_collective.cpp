#include "swav/dist/backend_collective.h"

#include <c10/core/DeviceGuard.h>

#include <vector>

#include "swav/util/error.h"

namespace swav {

namespace {

void write_back(torch::Tensor& target, const at::Tensor& result) {
  if (!result.is_same(target)) target.copy_(result);
}

}  // namespace

BackendCollective::BackendCollective(c10::intrusive_ptr<c10d::Backend> backend, int64_t rank,
                                     int64_t world, torch::Device device, std::string label)
    : backend_(std::move(backend)),
      rank_(rank),
      world_(world),
      device_(device),
      label_(std::move(label)) {}

void BackendCollective::all_reduce_sum(torch::Tensor& tensor) {
  std::vector<at::Tensor> buffer{staged(tensor)};
  wait("all_reduce", [&] { return backend_->allreduce(buffer); });
  write_back(tensor, buffer[0]);
}

torch::Tensor BackendCollective::all_gather_cat(const torch::Tensor& tensor) {
  std::vector<at::Tensor> input{staged(tensor)};
  std::vector<std::vector<at::Tensor>> output(1);
  for (int64_t r = 0; r < world_; ++r) output[0].push_back(torch::empty_like(input[0]));
  wait("all_gather", [&] { return backend_->allgather(output, input); });
  return torch::cat(output[0]).to(tensor.device());
}

void BackendCollective::broadcast(torch::Tensor& tensor) {
  std::vector<at::Tensor> buffer{staged(tensor)};
  c10d::BroadcastOptions options;
  options.rootRank = 0;
  wait("broadcast", [&] { return backend_->broadcast(buffer, options); });
  write_back(tensor, buffer[0]);
}

void BackendCollective::barrier() {
  if (device_.is_cpu()) {
    wait("barrier", [&] { return backend_->barrier(); });
    return;
  }
  auto token = torch::zeros({1}, torch::TensorOptions().device(device_));
  all_reduce_sum(token);
  token.item<float>();
}

void BackendCollective::wait(const char* what,
                             const std::function<c10::intrusive_ptr<c10d::Work>()>& start) {
  c10::OptionalDeviceGuard guard;
  if (!device_.is_cpu()) guard.reset_device(device_);
  std::string text;
  try {
    start()->wait();
    return;
  } catch (const c10::Error& e) {
    text = e.what_without_backtrace();
  } catch (const std::exception& e) {
    text = e.what();
  }
  fail("{}{} on rank {} of {} failed: another process stopped or did not answer in time ({})",
       label_, what, rank_, world_, text.substr(0, text.find('\n')));
}

at::Tensor BackendCollective::staged(const torch::Tensor& t) const {
  TORCH_CHECK(t.defined(), "collective on an undefined tensor");
  return t.device() == device_ && t.is_contiguous() ? t : t.to(device_).contiguous();
}

}  // namespace swav
