// The experiment-file reader with composition and overrides: the input is an experiment file; lines
// after a line "#overrides" are key=value overrides. Beside it lie base.toml (a valid default to
// compose with) and loop.toml (which names itself), so `defaults` chains and cycles are reachable.
#include <sstream>
#include <vector>

#include "fuzz/fuzz_target.h"
#include "swav/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace swav;
  static const bool ready = [] {
    fuzz::write_file("base.toml",
                     "name = \"base\"\nmethod = \"swav\"\n[data]\nformat = \"synthetic\"\n"
                     "[model]\narch = \"convnet\"\nprototypes = [30]\n[train]\nepochs = 2\n"
                     "[optim]\nwarmup_epochs = 0\n");
    fuzz::write_file("loop.toml", "defaults = [\"loop.toml\"]\n");
    return true;
  }();
  (void)ready;
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto split = input.find("\n#overrides\n");
  std::vector<std::string> overrides;
  if (split != std::string::npos) {
    std::istringstream lines(input.substr(split + 12));
    for (std::string line; std::getline(lines, line);) overrides.push_back(line);
  }
  const std::string path = fuzz::write_file("experiment.toml", input.substr(0, split));
  fuzz::expect_clean([&] {
    const ExperimentPlan plan = load_plan(path, overrides);
    // Every valid trial's config must survive the round trip through its own TOML.
    for (const auto& trial : plan.trials) {
      if (!trial.error.empty()) continue;
      const ExperimentOptions again = parse_experiment(to_toml(trial.options), "round trip");
      if (config_hash(again) != trial.hash) __builtin_trap();
    }
  });
  return 0;
}
