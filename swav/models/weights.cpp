#include "swav/models/weights.h"

#include <caffe2/serialize/file_adapter.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>
#include <torch/csrc/jit/serialization/pickler.h>
#include <torch/serialize.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "swav/util/error.h"
#include "swav/util/text.h"
#include "swav/util/zip_check.h"

// Declared in torch/csrc/jit/serialization/export.h, which pulls in ONNX headers the wheel does not
// ship; libtorch_cpu exports it. Writes data.pkl and the tensors' storages in torch.save's layout.
namespace torch::jit {
TORCH_API void writeArchiveAndTensors(const std::string& archive_name, const char* pickle_bytes,
                                      size_t size, const std::vector<at::Tensor>& tensors,
                                      caffe2::serialize::PyTorchStreamWriter& out);
}  // namespace torch::jit

namespace swav {

namespace {

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string joined(const std::vector<std::string>& parts, size_t from) {
  std::string out;
  for (size_t i = from; i < parts.size(); ++i) out += (i > from ? "." : "") + parts[i];
  return out;
}

std::string shape_text(const torch::Tensor& t) {
  std::string out = "[";
  for (int64_t d = 0; d < t.dim(); ++d) out += (d ? ", " : "") + std::to_string(t.size(d));
  return out + "]";
}

/// The backbone's tensors by our names, parameters then buffers.
std::vector<std::pair<std::string, torch::Tensor>> own_tensors(BackboneImpl& backbone) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : backbone.named_parameters(/*recurse=*/true))
    out.emplace_back(p.key(), p.value());
  for (const auto& b : backbone.named_buffers(/*recurse=*/true))
    out.emplace_back(b.key(), b.value());
  return out;
}

std::string list_text(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::string torchvision_name(const std::string& ours, const std::string& arch) {
  if (arch != "resnet18" && arch != "resnet50") return ours;
  const auto p = split(ours, '.');
  if (p.size() >= 3 && p[0] == "stem") {
    if (p[1] == "0") return "conv1." + joined(p, 2);
    if (p[1] == "1") return "bn1." + joined(p, 2);
  }
  if (p.size() >= 5 && starts_with(p[0], "layer")) {
    const std::string block = p[0] + "." + p[1] + ".";
    if (p[2] == "body") {
      static const std::map<std::string, std::string> kBody = {
          {"0", "conv1"}, {"1", "bn1"}, {"3", "conv2"}, {"4", "bn2"}, {"6", "conv3"}, {"7", "bn3"}};
      if (auto it = kBody.find(p[3]); it != kBody.end())
        return block + it->second + "." + joined(p, 4);
    }
    if (p[2] == "shortcut") return block + "downsample." + joined(p, 3);
  }
  return ours;
}

StateDict backbone_state_dict(BackboneImpl& backbone, const ModelOptions& model) {
  StateDict out;
  for (const auto& [name, tensor] : own_tensors(backbone)) {
    if (!tensor.defined()) continue;
    out.emplace_back(torchvision_name(name, model.arch), tensor.detach().cpu().contiguous());
  }
  return out;
}

void save_state_dict(const StateDict& state, const std::string& path) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : state) dict.insert(name, tensor);
  // What torch::pickle_save does, less the type tag it puts on a typed dict
  // (torch.jit._pickle.restore_type_tag), which torch.load refuses by default (weights_only):
  // a plain dict of tensors in torch.save's zip layout.
  std::vector<char> pickled;
  torch::jit::Pickler pickler(
      [&](const char* data, size_t size) { pickled.insert(pickled.end(), data, data + size); },
      /*tensor_table=*/nullptr, /*type_renamer=*/nullptr, /*memoized_class_types=*/nullptr,
      /*get_tensor_id=*/nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(dict));
  pickler.stop();
  std::vector<char> bytes;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    const auto* begin = static_cast<const char*>(data);
    bytes.insert(bytes.end(), begin, begin + size);
    return size;
  });
  torch::jit::writeArchiveAndTensors("data", pickled.data(), pickled.size(), pickler.tensorData(),
                                     writer);
  writer.writeEndOfFile();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      fail("{}: cannot be written (a missing folder, a full disk or no permission?)", path);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) fail("{}: cannot be written: {}", path, ec.message());
}

std::map<std::string, torch::Tensor> load_state_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: no such file, or it cannot be read", path);
  char magic[4] = {};
  in.read(magic, 4);
  if (in.gcount() != 4 || std::memcmp(magic, "PK\x03\x04", 4) != 0) {
    fail(
        "{}: not a PyTorch checkpoint: torch.save (since PyTorch 1.6) writes a zip archive, and "
        "this file does not start like one (truncated, another format, or a legacy "
        "_use_new_zipfile_serialization=False file: load and save it again with torch.save)",
        path);
  }
  check_zip_integrity(path, false);
  c10::IValue value;
  try {
    // What torch::pickle_load does, but reading the file through LibTorch's FileAdapter, which
    // clamps every read to the file: pickle_load's in-memory reader does not, and a corrupt zip
    // directory made it read past its buffer (found by fuzz/fuzz_checkpoint.cpp).
    caffe2::serialize::PyTorchStreamReader reader(
        std::make_unique<caffe2::serialize::FileAdapter>(path));
    value = torch::jit::readArchiveAndTensors("data", "", "", std::nullopt, std::nullopt,
                                              std::nullopt, reader);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    fail(
        "{}: not a PyTorch checkpoint this program can read ({}). It must be what torch.save "
        "writes, holding tensors, numbers, strings, lists and dicts only; a truncated file, "
        "another format, or Python objects such as argparse.Namespace end here. Save the state "
        "dict alone: torch.save(model.state_dict(), path)",
        path, what.substr(0, what.find('\n')));
  }
  if (!value.isGenericDict()) fail("{}: holds a {}, not a dict of tensors", path, value.tagKind());
  auto dict = value.toGenericDict();
  for (const char* wrapper : {"state_dict", "model"}) {
    auto it = dict.find(c10::IValue(std::string(wrapper)));
    if (it != dict.end() && it->value().isGenericDict()) {
      dict = it->value().toGenericDict();
      break;
    }
  }
  std::map<std::string, torch::Tensor> out;
  for (const auto& entry : dict) {
    if (!entry.key().isString() || !entry.value().isTensor()) continue;
    std::string name = entry.key().toStringRef();
    if (starts_with(name, "module.")) name = name.substr(7);
    out[name] = entry.value().toTensor();
  }
  if (out.empty()) fail("{}: holds no tensors (expected a state dict)", path);
  return out;
}

WeightsReport load_backbone_weights(BackboneImpl& backbone, const ModelOptions& model,
                                    const std::map<std::string, torch::Tensor>& state, bool strict,
                                    const std::string& source) {
  const auto targets = own_tensors(backbone);
  // The prefix under which the backbone's tensors sit in the file.
  auto holds_under = [&](const std::string& prefix) {
    for (const auto& [ours, tensor] : targets) {
      if (state.count(prefix + torchvision_name(ours, model.arch)) || state.count(prefix + ours))
        return true;
    }
    return false;
  };
  std::string prefix;
  for (const char* candidate : {"", "backbone.", "encoder_q.", "encoder."}) {
    if (holds_under(candidate)) {
      prefix = candidate;
      break;
    }
  }

  WeightsReport report;
  std::set<std::string> used;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (target, source)
  for (const auto& [ours, target] : targets) {
    if (!target.defined()) continue;
    const std::string name = torchvision_name(ours, model.arch);
    auto it = state.find(prefix + name);
    if (it == state.end()) it = state.find(prefix + ours);
    if (it == state.end()) {
      report.missing.push_back(name);
      continue;
    }
    used.insert(it->first);
    if (it->second.sizes() != target.sizes()) {
      report.mismatched.push_back(name + ": file " + shape_text(it->second) + " vs backbone " +
                                  shape_text(target));
      continue;
    }
    copies.emplace_back(target, it->second);
  }
  for (const auto& [name, tensor] : state)
    if (!used.count(name)) report.unexpected.push_back(name);

  if (strict && !report.complete()) {
    std::string text;
    if (copies.empty() && report.mismatched.empty()) {
      text = fmt::format(
          "none of the backbone's {} tensors ({} {}, e.g. {}) is in the file, which holds {} "
          "tensors such as {}: weights of another architecture?",
          targets.size(), model.arch, model.stem,
          torchvision_name(targets.front().first, model.arch), state.size(), state.begin()->first);
    } else {
      if (!report.missing.empty())
        text += fmt::format("missing ({}): {}", report.missing.size(), list_text(report.missing));
      if (!report.mismatched.empty()) {
        text += fmt::format("{}mis-shaped ({}): {}", text.empty() ? "" : "; ",
                            report.mismatched.size(), list_text(report.mismatched));
      }
    }
    fail("{}: does not fit the {} backbone: {} (model.init_strict = false loads what fits)", source,
         model.arch, text);
  }
  torch::NoGradGuard no_grad;
  for (auto& [target, tensor] : copies) {
    target.copy_(tensor.to(target.device(), target.scalar_type()));
    ++report.loaded;
  }
  return report;
}

namespace {

void collect_mismatches(torch::nn::Module& module, torch::serialize::InputArchive& archive,
                        const std::string& prefix, std::vector<std::string>& out) {
  auto compare = [&](const std::string& name, const torch::Tensor& ours, bool is_buffer) {
    torch::Tensor saved;
    if (!archive.try_read(name, saved, is_buffer)) {
      out.push_back(prefix + name + ": missing");
    } else if (saved.sizes() != ours.sizes() || saved.scalar_type() != ours.scalar_type()) {
      out.push_back(fmt::format("{}{}: file {} {} vs model {} {}", prefix, name,
                                c10::toString(saved.scalar_type()), shape_text(saved),
                                c10::toString(ours.scalar_type()), shape_text(ours)));
    }
  };
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    compare(p.key(), p.value(), false);
  for (const auto& b : module.named_buffers(/*recurse=*/false)) compare(b.key(), b.value(), true);
  for (const auto& child : module.named_children()) {
    torch::serialize::InputArchive sub;
    if (!archive.try_read(child.key(), sub)) {
      out.push_back(prefix + child.key() + ": missing");
      continue;
    }
    collect_mismatches(*child.value(), sub, prefix + child.key() + ".", out);
  }
}

}  // namespace

std::vector<std::string> archive_mismatches(torch::nn::Module& module,
                                            torch::serialize::InputArchive& archive) {
  std::vector<std::string> out;
  collect_mismatches(module, archive, "", out);
  return out;
}

}  // namespace swav
