#include "swav/core/pca.h"

namespace swav {

torch::Tensor PcaWhitening::apply(const torch::Tensor& x) const {
  return torch::matmul(x - mean.to(x.options()), projection.to(x.options()));
}

PcaWhitening fit_pca_whitening(const torch::Tensor& x, int64_t dims, double relative_floor) {
  TORCH_CHECK(x.dim() == 2 && x.size(0) >= 2, "fit_pca_whitening: x must be [N >= 2, D]");
  TORCH_CHECK(dims >= 1, "fit_pca_whitening: dims must be >= 1");
  torch::NoGradGuard no_grad;
  const auto x64 = x.to(torch::kFloat64);
  const auto mean = x64.mean(0);
  const auto centred = x64 - mean;
  const auto cov = torch::matmul(centred.t(), centred) / static_cast<double>(x.size(0) - 1);
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
