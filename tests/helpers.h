// Shared test helpers.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "swav/config/options.h"

namespace swav::test {

/// tests/data/swav_reference.json, parsed once.
const nlohmann::json& reference();

/// A nested JSON array of numbers as a float64 tensor of the given shape.
torch::Tensor json_tensor(const nlohmann::json& value);

/// Relative error ||a - b|| / ||b|| in float64.
double rel_error(const torch::Tensor& a, const torch::Tensor& b);

/// A SwAV experiment small enough for unit tests: synthetic 16x16 images of 4 classes, a narrow
/// ConvNet, 2x16 + 2x8 crops, no prototype freezing, CPU, one thread of augmentation.
ExperimentOptions tiny_experiment();

/// A fresh empty temporary directory, removed when the object goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string str(const std::string& child = "") const;

 private:
  std::filesystem::path path_;
};

}  // namespace swav::test
