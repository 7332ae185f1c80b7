#include "swav/models/inference.h"

#include <vector>

namespace swav {

void for_each_batch(torch::nn::Module& module, int64_t n, int64_t batch_size,
                    const std::function<void(int64_t begin, int64_t rows)>& step) {
  TORCH_CHECK(batch_size > 0, "for_each_batch: batch_size must be > 0, got ", batch_size);
  torch::NoGradGuard no_grad;
  EvalModeGuard eval_mode(module);
  for (int64_t begin = 0; begin < n; begin += batch_size)
    step(begin, std::min(batch_size, n - begin));
}

torch::Tensor batched_forward(
    torch::nn::Module& module, const torch::Tensor& items, int64_t batch_size,
    const std::function<torch::Tensor(const torch::Tensor& slice)>& forward) {
  std::vector<torch::Tensor> chunks;
  for_each_batch(module, items.size(0), batch_size, [&](int64_t begin, int64_t rows) {
    chunks.push_back(forward(items.narrow(0, begin, rows)));
  });
  TORCH_CHECK(!chunks.empty(), "batched_forward: no items");
  return torch::cat(chunks);
}

torch::Tensor batched_forward(
    torch::nn::Module& module, const ImageSet& set, int64_t batch_size,
    const std::function<torch::Tensor(const torch::Tensor& images)>& forward, int64_t begin,
    int64_t rows) {
  if (rows < 0) rows = set.size() - begin;
  std::vector<torch::Tensor> chunks;
  for_each_batch(module, rows, batch_size, [&](int64_t first, int64_t n) {
    chunks.push_back(forward(image_rows(set, begin + first, n)));
  });
  TORCH_CHECK(!chunks.empty(), "batched_forward: no items");
  return torch::cat(chunks);
}

}  // namespace swav
