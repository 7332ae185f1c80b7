#include "swav/run/registry.h"

#include <functional>
#include <map>

#include "baselines/deepcluster.h"
#include "baselines/deepcluster_v2.h"
#include "baselines/pcl.h"
#include "baselines/sela.h"
#include "baselines/sela_v2.h"
#include "baselines/simclr.h"
#include "swav/method/swav.h"
#include "swav/util/error.h"

namespace swav {
namespace {

// Each factory hands a method its own options table and the shared setup, nothing else.
using Factory =
    std::function<std::unique_ptr<Method>(const ExperimentOptions&, const MethodSetup&)>;

template <class M, class Options>
Factory factory(Options ExperimentOptions::*table) {
  return [table](const ExperimentOptions& o, const MethodSetup& setup) {
    return std::make_unique<M>(setup, o.*table);
  };
}

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> factories = {
      {"swav", factory<SwavMethod>(&ExperimentOptions::swav)},
      {"simclr", factory<SimclrMethod>(&ExperimentOptions::simclr)},
      {"deepcluster_v1", factory<DeepClusterMethod>(&ExperimentOptions::deepcluster_v1)},
      {"deepcluster_v2", factory<DeepClusterV2Method>(&ExperimentOptions::deepcluster)},
      {"sela", factory<SelaMethod>(&ExperimentOptions::sela)},
      {"sela_v2", factory<SelaV2Method>(&ExperimentOptions::sela_v2)},
      {"pcl", factory<PclMethod>(&ExperimentOptions::pcl)},
  };
  return factories;
}

}  // namespace

std::vector<std::string> registered_methods() {
  std::vector<std::string> names;
  for (const auto& [name, make] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Method> make_method(const ExperimentOptions& options, int64_t in_channels,
                                    int64_t dataset_size, int64_t world_size) {
  auto it = registry().find(options.method);
  if (it == registry().end()) {
    fail("method: unknown method '{}' (known: {})", options.method,
         fmt::join(registered_methods(), ", "));
  }
  return it->second(options, MethodSetup::from(options, in_channels, dataset_size, world_size));
}

}  // namespace swav
