#include "swav/core/pca.h"

namespace swav {

torch::Tensor PcaWhitening::apply(const torch::Tensor& x) const {
  return torch::matmul(x - mean.to(x.options()), projection.to(x.options()));
}

PcaWhitening fit_pca_whitening(const torch::Tensor& x, int64_t dims, double relative_floor,
                               Collective& collective) {
  TORCH_CHECK(x.dim() == 2, "fit_pca_whitening: x must be [N, D]");
  TORCH_CHECK(dims >= 1, "fit_pca_whitening: dims must be >= 1");
  torch::NoGradGuard no_grad;
  const int64_t n = total_rows(x.size(0), collective);
  TORCH_CHECK(n >= 2, "fit_pca_whitening: x must be [N >= 2, D]");
  const auto x64 = x.to(torch::kFloat64);
  torch::Tensor mean;
  if (collective.world_size() == 1) {
    mean = x64.mean(0);
  } else {
    mean = x64.sum(0);
    collective.all_reduce_sum(mean);
    mean = mean / static_cast<double>(n);
  }
  const auto centred = x64 - mean;
  auto cov = torch::matmul(centred.t(), centred);
  collective.all_reduce_sum(cov);
  cov = cov / static_cast<double>(n - 1);
  auto [values, vectors] = torch::linalg_eigh(cov);  // ascending
  const int64_t d = std::min(dims, x.size(1));
  values = values.flip(0).narrow(0, 0, d);
  vectors = vectors.flip(1).narrow(1, 0, d);
  const double floor = std::max(values[0].item<double>(), 0.0) * relative_floor;
  values = values.clamp_min(std::max(floor, 1e-300));
  PcaWhitening out;
  out.mean = mean.to(x.dtype());
  out.eigenvalues = values.to(x.dtype());
  out.projection = (vectors * values.rsqrt().unsqueeze(0)).to(x.dtype());
  return out;
}

}  // namespace swav
