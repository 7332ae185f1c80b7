#include "swav/run/export.h"

#include <fmt/ranges.h>

#include <filesystem>
#include <set>

#include "swav/config/config.h"
#include "swav/run/registry.h"
#include "swav/util/error.h"
#include "swav/util/text.h"
#include "swav/util/zip_check.h"

namespace swav {

namespace {

namespace fs = std::filesystem;

/// A training-set size every method's constructor accepts (it only checks that the clusters fit
/// and sizes per-sample labels, which an export does not use).
int64_t nominal_dataset_size(const ExperimentOptions& o) {
  int64_t n = 1;
  for (int64_t k : o.model.prototypes) n = std::max(n, k);
  for (int64_t k : o.pcl.clusters) n = std::max(n, k);
  return n;
}

/// The nested archive path of a module tensor: Module::save writes one archive per child.
torch::Tensor read_nested(torch::serialize::InputArchive& root, const std::string& name) {
  const auto parts = split(name, '.');
  std::vector<torch::serialize::InputArchive> chain(parts.size());
  torch::serialize::InputArchive* current = &root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!current->try_read(parts[i], chain[i])) return {};
    current = &chain[i];
  }
  torch::Tensor t;
  if (!current->try_read(parts.back(), t)) return {};
  return t;
}

}  // namespace

TrainedNetwork load_trained_network(const std::string& run_or_checkpoint) {
  const fs::path given(run_or_checkpoint);
  if (!fs::exists(given)) fail("{}: no such trial folder or checkpoint", run_or_checkpoint);
  const fs::path folder = fs::is_directory(given) ? given : given.parent_path();
  const fs::path checkpoint = fs::is_directory(given) ? given / "checkpoint.pt" : given;
  const fs::path config = folder / "config.toml";
  if (!fs::exists(config)) {
    fail("{}: no config.toml beside the checkpoint (a trial folder holds both)", config.string());
  }
  if (!fs::exists(checkpoint)) {
    fail("{}: no checkpoint (was the run trained, and not deleted?)", checkpoint.string());
  }
  TrainedNetwork out;
  out.options = load_experiment(config.string());
  out.checkpoint = checkpoint.string();

  torch::serialize::InputArchive archive, model;
  check_zip_integrity(out.checkpoint, true);
  try {
    archive.load_from(out.checkpoint, torch::kCPU);
    archive.read("model", model);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    fail("{}: cannot be read as a checkpoint ({})", out.checkpoint,
         what.substr(0, what.find('\n')));
  }
  // Channels: those of the first convolution's weight [out, in, kh, kw] in the file.
  const int64_t size = nominal_dataset_size(out.options);
  auto probe = make_method(out.options, 3, size);
  const auto first = probe->encoder()->parameters().front();
  std::string first_name;
  for (const auto& p : probe->module().named_parameters())
    if (p.value().is_same(first)) first_name = p.key();
  const auto weight = read_nested(model, first_name);
  if (!weight.defined() || weight.dim() != 4) {
    fail("{}: has no {} (is it a checkpoint of the network config.toml describes?)", out.checkpoint,
         first_name);
  }
  const int64_t channels = weight.size(1);
  out.method = channels == 3 ? std::move(probe) : make_method(out.options, channels, size);
  if (const auto wrong = archive_mismatches(out.method->module(), model); !wrong.empty()) {
    fail("{}: does not match the network of {} ({} tensor(s): {})", out.checkpoint, config.string(),
         wrong.size(), first_few(wrong));
  }
  try {
    out.method->module().load(model);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    fail("{}: does not match the network of {} ({})", out.checkpoint, config.string(),
         what.substr(0, what.find('\n')));
  }
  out.method->module().eval();
  return out;
}

StateDict exported_state(TrainedNetwork& network, const std::string& format) {
  if (format != "torchvision" && format != "full") {
    fail("--format: '{}' is not a format (expected \"torchvision\" or \"full\")", format);
  }
  auto& backbone = *network.method->encoder();
  StateDict out = backbone_state_dict(backbone, network.options.model);
  if (format == "torchvision") return out;
  std::set<const void*> in_backbone;
  for (const auto& p : backbone.parameters()) in_backbone.insert(p.unsafeGetTensorImpl());
  for (const auto& b : backbone.buffers()) in_backbone.insert(b.unsafeGetTensorImpl());
  auto& module = network.method->module();
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    if (t.defined() && !in_backbone.count(t.unsafeGetTensorImpl()))
      out.emplace_back(name, t.detach().cpu().contiguous());
  };
  for (const auto& p : module.named_parameters()) add(p.key(), p.value());
  for (const auto& b : module.named_buffers()) add(b.key(), b.value());
  return out;
}

WeightsReport apply_model_init(Method& method, const ModelOptions& model) {
  const auto report = load_backbone_weights(*method.encoder(), model, load_state_dict(model.init),
                                            model.init_strict, "model.init: " + model.init);
  method.on_encoder_loaded();
  return report;
}

std::string describe_model_init(const WeightsReport& report, const ModelOptions& model) {
  std::string text =
      fmt::format("model.init: {} tensors of the backbone from {}", report.loaded, model.init);
  if (!report.missing.empty())
    text +=
        fmt::format("; not in the file (left as initialised): {}", fmt::join(report.missing, ", "));
  if (!report.mismatched.empty())
    text +=
        fmt::format("; other shapes (left as initialised): {}", fmt::join(report.mismatched, ", "));
  if (!report.unexpected.empty()) {
    text += fmt::format("; {} tensors of the file not used ({}{})", report.unexpected.size(),
                        report.unexpected.front(), report.unexpected.size() > 1 ? ", ..." : "");
  }
  return text;
}

RestReport load_network_rest(Method& method, const std::map<std::string, torch::Tensor>& state) {
  std::set<const void*> in_backbone;
  for (const auto& p : method.encoder()->parameters()) in_backbone.insert(p.unsafeGetTensorImpl());
  for (const auto& b : method.encoder()->buffers()) in_backbone.insert(b.unsafeGetTensorImpl());
  // The official SwAV checkpoints' names for ours.
  auto aliases = [](const std::string& ours) {
    std::vector<std::string> names{ours};
    const std::string head = "head.net.", protos = "prototypes.head";
    if (ours.rfind(head, 0) == 0) names.push_back("projection_head." + ours.substr(head.size()));
    if (ours.rfind(protos, 0) == 0) {
      const std::string rest = ours.substr(protos.size());  // "<h>.weight"
      names.push_back("prototypes.prototypes" + rest);
      if (rest.rfind("0.", 0) == 0) names.push_back("prototypes." + rest.substr(2));
    }
    return names;
  };
  RestReport report;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (ours, the file's)
  auto visit = [&](const std::string& name, const torch::Tensor& ours) {
    if (!ours.defined() || in_backbone.count(ours.unsafeGetTensorImpl())) return;
    for (const auto& alias : aliases(name)) {
      const auto found = state.find(alias);
      if (found == state.end()) continue;
      if (found->second.sizes() != ours.sizes()) {
        report.mismatched.push_back(fmt::format("{}: file [{}] vs network [{}]", alias,
                                                fmt::join(found->second.sizes(), ", "),
                                                fmt::join(ours.sizes(), ", ")));
      } else {
        copies.emplace_back(ours, found->second);
      }
      return;
    }
    report.missing.push_back(name);
  };
  auto& module = method.module();
  for (const auto& p : module.named_parameters()) visit(p.key(), p.value());
  for (const auto& b : module.named_buffers()) visit(b.key(), b.value());
  if (!report.missing.empty() || !report.mismatched.empty()) return report;
  torch::NoGradGuard no_grad;
  for (auto& [ours, theirs] : copies) ours.copy_(theirs.to(ours.dtype()));
  report.loaded = true;
  report.tensors = static_cast<int64_t>(copies.size());
  return report;
}

}  // namespace swav
