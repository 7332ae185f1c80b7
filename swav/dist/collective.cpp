#include "swav/dist/collective.h"

#include <algorithm>

namespace swav {

Collective& single_process() {
  static SingleProcess instance;
  return instance;
}

int64_t total_rows(int64_t rows, Collective& collective) {
  if (collective.world_size() == 1) return rows;
  auto n = torch::tensor({rows}, torch::kLong);
  collective.all_reduce_sum(n);
  return n.item<int64_t>();
}

RowBlock split_rows(int64_t n, int64_t rank, int64_t world) {
  TORCH_CHECK(world >= 1 && rank >= 0 && rank < world && n >= 0, "split_rows: rank ", rank,
              " of ", world, " for ", n, " rows");
  const int64_t base = n / world, extra = n % world;
  return {rank * base + std::min(rank, extra), base + (rank < extra ? 1 : 0)};
}

torch::Tensor gather_rows(const torch::Tensor& local, int64_t n, Collective& collective) {
  const int64_t world = collective.world_size();
  std::vector<int64_t> rows(static_cast<size_t>(world));
  for (int64_t r = 0; r < world; ++r) rows[static_cast<size_t>(r)] = split_rows(n, r, world).rows;
  return gather_blocks(local, rows, collective);
}

torch::Tensor gather_blocks(const torch::Tensor& local, const std::vector<int64_t>& rows_per_rank,
                            Collective& collective) {
  const int64_t world = collective.world_size(), rank = collective.rank();
  TORCH_CHECK(static_cast<int64_t>(rows_per_rank.size()) == world,
              "gather_blocks: one row count per process");
  const int64_t mine = rows_per_rank[static_cast<size_t>(rank)];
  TORCH_CHECK(local.dim() >= 1 && local.size(0) == mine, "gather_blocks: rank ", rank, " holds ",
              local.dim() >= 1 ? local.size(0) : 0, " rows, expected ", mine);
  if (world == 1) return local;
  const int64_t widest = *std::max_element(rows_per_rank.begin(), rows_per_rank.end());
  auto padded = local.contiguous();
  if (mine < widest) {
    auto shape = local.sizes().vec();
    shape[0] = widest - mine;
    padded = torch::cat({padded, torch::zeros(shape, local.options())});
  }
  auto all = collective.all_gather_cat(padded);
  std::vector<torch::Tensor> blocks;
  for (int64_t r = 0; r < world; ++r)
    blocks.push_back(all.narrow(0, r * widest, rows_per_rank[static_cast<size_t>(r)]));
  return torch::cat(blocks);
}

namespace {

class GatherWithGrad : public torch::autograd::Function<GatherWithGrad> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               int64_t collective_address) {
    auto& collective = *reinterpret_cast<Collective*>(collective_address);
    ctx->saved_data["collective"] = collective_address;
    ctx->saved_data["rows"] = x.size(0);
    return collective.all_gather_cat(x.contiguous());
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grad_outputs) {
    auto& collective = *reinterpret_cast<Collective*>(ctx->saved_data["collective"].toInt());
    const int64_t rows = ctx->saved_data["rows"].toInt();
    auto grad = grad_outputs[0].contiguous().clone();
    collective.all_reduce_sum(grad);
    return {grad.narrow(0, collective.rank() * rows, rows), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_with_grad(const torch::Tensor& tensor, Collective& collective) {
  if (collective.world_size() == 1) return tensor;
  return GatherWithGrad::apply(tensor, reinterpret_cast<int64_t>(&collective));
}

}  // namespace swav
