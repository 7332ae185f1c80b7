#include "eval/cluster_metrics.h"

#include <cmath>
#include <vector>

namespace swav {

namespace {

/// Contingency table counts as float64 [Ra, Rb] (labels are renumbered densely first so sparse
/// ids cost nothing).
torch::Tensor contingency(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.dim() == 1 && b.dim() == 1 && a.size(0) == b.size(0) && a.size(0) > 0,
              "clustering metrics need two non-empty labelings of equal length");
  auto [ua, ia] = torch::_unique(a.to(torch::kCPU, torch::kLong), true, true);
  auto [ub, ib] = torch::_unique(b.to(torch::kCPU, torch::kLong), true, true);
  const int64_t ra = ua.size(0), rb = ub.size(0);
  auto flat = torch::bincount(ia * rb + ib, {}, ra * rb);
  return flat.to(torch::kFloat64).view({ra, rb});
}

double entropy_of(const torch::Tensor& counts, double n) {
  auto p = counts.masked_select(counts > 0) / n;
  return -(p * p.log()).sum().item<double>();
}

double pairs(const torch::Tensor& counts) {
  return (counts * (counts - 1) / 2).sum().item<double>();
}

}  // namespace

double normalized_mutual_information(const torch::Tensor& a, const torch::Tensor& b) {
  auto table = contingency(a, b);
  const double n = static_cast<double>(a.size(0));
  auto rows = table.sum(1), cols = table.sum(0);
  const double ha = entropy_of(rows, n), hb = entropy_of(cols, n);
  if (ha == 0 && hb == 0) return 1.0;  // both one cluster: identical partitions
  auto outer = rows.unsqueeze(1) * cols.unsqueeze(0);
  auto nonzero = table > 0;
  auto nij = table.masked_select(nonzero);
  const double mi = (nij / n * (nij * n / outer.masked_select(nonzero)).log()).sum().item<double>();
  return std::max(0.0, mi / ((ha + hb) / 2));
}

double adjusted_rand_index(const torch::Tensor& a, const torch::Tensor& b) {
  auto table = contingency(a, b);
  const double n = static_cast<double>(a.size(0));
  const double s = pairs(table), pa = pairs(table.sum(1)), pb = pairs(table.sum(0));
  const double expected = n > 1 ? pa * pb / (n * (n - 1) / 2) : 0;
  const double denominator = (pa + pb) / 2 - expected;
  if (denominator == 0) return 1.0;
  return (s - expected) / denominator;
}

ClusterUsage cluster_usage(const torch::Tensor& assignments, int64_t K) {
  TORCH_CHECK(K > 0 && assignments.dim() == 1 && assignments.size(0) > 0,
              "cluster_usage needs K > 0 and a non-empty assignment vector");
  auto ids = assignments.to(torch::kCPU, torch::kLong);
  TORCH_CHECK(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < K,
              "cluster_usage: assignment outside [0, K)");
  auto counts = torch::bincount(ids, {}, K).to(torch::kFloat64);
  ClusterUsage usage;
  usage.used = (counts > 0).sum().item<int64_t>();
  usage.used_share = static_cast<double>(usage.used) / static_cast<double>(K);
  usage.entropy = entropy_of(counts, static_cast<double>(ids.size(0)));
  usage.entropy_share = K > 1 ? usage.entropy / std::log(static_cast<double>(K)) : 0.0;
  return usage;
}

}  // namespace swav
