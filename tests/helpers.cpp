#include "helpers.h"

#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>

#include <fmt/format.h>
#include <torch/serialize.h>

#include "test_paths.h"

namespace swav::test {

const nlohmann::json& reference() {
  static const nlohmann::json json = [] {
    std::ifstream in(std::string(SWAV_TEST_DATA_DIR) + "/swav_reference.json");
    if (!in) throw std::runtime_error("cannot open tests/data/swav_reference.json");
    return nlohmann::json::parse(in);
  }();
  return json;
}

namespace {
void flatten(const nlohmann::json& v, std::vector<double>& out, std::vector<int64_t>& shape,
             size_t depth) {
  if (v.is_array()) {
    if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(v.size()));
    for (const auto& e : v) flatten(e, out, shape, depth + 1);
  } else {
    out.push_back(v.get<double>());
  }
}
}  // namespace

torch::Tensor json_tensor(const nlohmann::json& value) {
  std::vector<double> data;
  std::vector<int64_t> shape;
  flatten(value, data, shape, 0);
  return torch::tensor(data, torch::kFloat64).reshape(shape);
}

double rel_error(const torch::Tensor& a, const torch::Tensor& b) {
  auto a64 = a.to(torch::kFloat64).cpu(), b64 = b.to(torch::kFloat64).cpu();
  return (a64 - b64).norm().item<double>() / b64.norm().item<double>();
}

ExperimentOptions tiny_experiment() {
  ExperimentOptions o;
  o.name = "tiny";
  o.data.format = "synthetic";
  o.data.synthetic_classes = 4;
  o.data.synthetic_train_per_class = 32;
  o.data.synthetic_test_per_class = 8;
  o.data.synthetic_size = 16;
  o.data.synthetic_channels = 3;
  o.augment.crops = {{16, 2, 0.5, 1.0}, {8, 2, 0.2, 0.5}};
  o.augment.blur_prob = 0;
  o.augment.workers = 1;
  o.model.arch = "convnet";
  o.model.width = 0.25;
  o.model.hidden_dim = 32;
  o.model.output_dim = 16;
  o.model.prototypes = {12};
  o.swav.freeze_prototypes_niters = 0;
  o.swav.epoch_queue_starts = 0;
  o.optim.base_lr = 0.1;
  o.optim.final_lr = 0.0001;
  o.optim.start_warmup = 0.0;
  o.optim.warmup_epochs = 0;
  o.train.epochs = 3;
  o.train.batch_size = 16;
  o.train.log_every = 1000;
  o.eval.knn_k = {5};
  o.eval.linear_epochs = 5;
  return o;
}

TempDir::TempDir() {
  std::random_device rd;
  path_ = std::filesystem::temp_directory_path() /
          ("swav_test_" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::str(const std::string& child) const {
  return child.empty() ? path_.string() : (path_ / child).string();
}

void save_tensors(const std::string& path, const c10::Dict<std::string, at::Tensor>& tensors) {
  const std::vector<char> bytes = torch::pickle_save(c10::IValue(tensors));
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

c10::Dict<c10::IValue, c10::IValue> load_tensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return torch::pickle_load(bytes).toGenericDict();
}

std::string torch_python() {
  const std::string python = SWAV_TORCH_PYTHON;
  return !python.empty() && std::filesystem::exists(python) ? python : "";
}

bool run_python(const std::string& script, const std::string& case_dir) {
  // -W ignore: torch warns on import when numpy is absent, which the scripts do not need.
  const std::string command = fmt::format("\"{}\" -W ignore \"{}/tests/python/{}\" \"{}\" 2>&1",
                                          torch_python(), SWAV_SOURCE_DIR, script, case_dir);
  return std::system(command.c_str()) == 0;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void with_file_size_limit(uintmax_t bytes, const std::function<void()>& body) {
  rlimit old_limit{};
  if (::getrlimit(RLIMIT_FSIZE, &old_limit) != 0) throw std::runtime_error("getrlimit failed");
  struct Restore {
    rlimit limit;
    void (*handler)(int);
    ~Restore() {
      ::setrlimit(RLIMIT_FSIZE, &limit);
      std::signal(SIGXFSZ, handler);
    }
  } restore{old_limit, std::signal(SIGXFSZ, SIG_IGN)};
  rlimit limited = old_limit;
  limited.rlim_cur = static_cast<rlim_t>(bytes);
  if (::setrlimit(RLIMIT_FSIZE, &limited) != 0) throw std::runtime_error("setrlimit failed");
  body();
}

}  // namespace swav::test
