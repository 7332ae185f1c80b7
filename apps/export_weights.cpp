// export_weights RUN_OR_CHECKPOINT --out FILE.pt [--format torchvision|full]
// Writes a trained network's weights as a file plain PyTorch reads with torch.load; see
// swav/run/export.h and swav/models/weights.h for the names.
#include <fmt/format.h>

#include <string>

#include "swav/run/export.h"
#include "swav/util/error.h"

namespace {

constexpr const char* kUsage =
    R"(usage: export_weights RUN_OR_CHECKPOINT --out FILE.pt [--format torchvision|full]

Writes the weights of a trained run as a state dict that PyTorch reads with torch.load.

  RUN_OR_CHECKPOINT  a trial folder (runs/<experiment>/<trial>, with config.toml and
                     checkpoint.pt) or a checkpoint file with config.toml beside it
  --out FILE         the file to write (a .pt file; replaced if it exists)
  --format FMT       torchvision (default): the backbone alone, under torchvision's names, so that
                       torchvision.models.resnet50().load_state_dict(sd, strict=False)
                     reports only fc.* missing (ResNet-18/50; a CIFAR stem is conv1 as 3x3/1 and
                     needs no max-pool; the ConvNet keeps its own names, net.<i>.*);
                     full: the same plus every other tensor of the network under its own name
                     (head.*, prototypes.*, a baseline's classifier or key network)
  -h, --help         this text
)";

}  // namespace

int main(int argc, char** argv) {
  std::string source, out, format = "torchvision";
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* what) {
      if (i + 1 >= argc) {
        fmt::print(stderr, "export_weights: {} needs {}\n", arg, what);
        std::exit(2);
      }
      return std::string(argv[++i]);
    };
    if (arg == "-h" || arg == "--help") {
      fmt::print("{}", kUsage);
      return 0;
    } else if (arg == "--out") {
      out = value("a file");
    } else if (arg == "--format") {
      format = value("torchvision or full");
    } else if (!arg.empty() && arg[0] == '-') {
      fmt::print(stderr, "export_weights: unknown option '{}'\n\n{}", arg, kUsage);
      return 2;
    } else if (source.empty()) {
      source = arg;
    } else {
      fmt::print(stderr, "export_weights: one run or checkpoint at a time ('{}' and '{}')\n",
                 source, arg);
      return 2;
    }
  }
  if (source.empty() || out.empty()) {
    fmt::print(stderr, "export_weights: RUN_OR_CHECKPOINT and --out FILE are required\n\n{}",
               kUsage);
    return 2;
  }
  try {
    auto network = swav::load_trained_network(source);
    const auto state = swav::exported_state(network, format);
    swav::save_state_dict(state, out);
    fmt::print("{}: {} tensors of the {} {} ({} format) from {}\n", out, state.size(),
               network.options.method, network.options.model.arch, format, network.checkpoint);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return 1;
  }
}
