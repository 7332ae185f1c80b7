// Shared test helpers.
#pragma once
#include <torch/torch.h>

#include <filesystem>
#include <functional>
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

/// Tensors in the format Python's torch.load reads (torch::pickle_save of a Dict[str, Tensor]).
void save_tensors(const std::string& path, const c10::Dict<std::string, at::Tensor>& tensors);
/// What Python's torch.save wrote (a dict of str -> tensor).
c10::Dict<c10::IValue, c10::IValue> load_tensors(const std::string& path);

/// The Python of the venv LibTorch came from (tests/python's scripts need torch, and some
/// torchvision); empty when there is none.
std::string torch_python();
/// Runs tests/python/<script> on a case folder with torch_python(); true when it exits with 0.
bool run_python(const std::string& script, const std::string& case_dir);

/// The whole content of a file (empty when it cannot be read).
std::string file_bytes(const std::string& path);

/// Runs `body` with files limited to `bytes` (RLIMIT_FSIZE) and SIGXFSZ ignored, so a write past
/// the limit fails with EFBIG as on a full disk; the limit and the handler are restored afterwards,
/// also when `body` throws.
void with_file_size_limit(uintmax_t bytes, const std::function<void()>& body);

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
