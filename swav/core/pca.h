// PCA whitening, as DeepCluster applies it to features before k-means.
#pragma once
#include <torch/torch.h>

#include "swav/dist/collective.h"

namespace swav {

/// A fitted whitening: y = (x - mean) @ projection, projection = V_d diag(lambda_d^-1/2) with the
/// top d eigenvectors V_d (columns) and eigenvalues lambda_d of the covariance of the fitted rows.
struct PcaWhitening {
  torch::Tensor mean;         // [D]
  torch::Tensor projection;   // [D, d]
  torch::Tensor eigenvalues;  // [d], descending

  /// Whitened rows of x [N, D] ([N, d], x's dtype and device).
  torch::Tensor apply(const torch::Tensor& x) const;
};

/// Fits PCA whitening to the rows of x [N, D] (float32 or float64, CPU or CUDA), keeping
/// d = min(dims, D) components. The covariance (divided by N - 1) and its eigen-decomposition are
/// computed in float64. Eigenvalues below `relative_floor` x the largest are raised to it, so
/// directions with no variance are not blown up (the reference's faiss PCAMatrix with eigen_power
/// -0.5 divides by them as they are). Throws c10::Error when N < 2.
///
/// Distributed: each process passes its own rows; the mean and the covariance are summed over
/// every process (in float64), so every process gets the same whitening, that of all the rows.
PcaWhitening fit_pca_whitening(const torch::Tensor& x, int64_t dims, double relative_floor = 1e-8,
                               Collective& collective = single_process());

}  // namespace swav
