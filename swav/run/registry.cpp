// The one registry: method name -> factory. The runner, tests and benchmarks all build methods
// here.
#include <functional>
#include <map>

#include "baselines/deepcluster.h"
#include "baselines/deepcluster_v2.h"
#include "baselines/pcl.h"
#include "baselines/sela.h"
#include "baselines/sela_v2.h"
#include "baselines/simclr.h"
#include "swav/method/swav.h"
#include "swav/train/method.h"
#include "swav/util/error.h"

namespace swav {
namespace {

using Factory = std::function<std::unique_ptr<Method>(const ExperimentOptions&, int64_t, int64_t)>;

const std::map<std::string, Factory>& registry() {
  static const std::map<std::string, Factory> factories = {
      {"swav", [](const ExperimentOptions& o, int64_t channels,
                  int64_t) { return std::make_unique<SwavMethod>(o, channels); }},
      {"simclr", [](const ExperimentOptions& o, int64_t channels,
                    int64_t) { return std::make_unique<SimclrMethod>(o, channels); }},
      {"deepcluster_v1",
       [](const ExperimentOptions& o, int64_t channels, int64_t n) {
         return std::make_unique<DeepClusterMethod>(o, channels, n);
       }},
      {"deepcluster_v2",
       [](const ExperimentOptions& o, int64_t channels, int64_t n) {
         return std::make_unique<DeepClusterV2Method>(o, channels, n);
       }},
      {"sela", [](const ExperimentOptions& o, int64_t channels,
                  int64_t n) { return std::make_unique<SelaMethod>(o, channels, n); }},
      {"sela_v2", [](const ExperimentOptions& o, int64_t channels,
                     int64_t n) { return std::make_unique<SelaV2Method>(o, channels, n); }},
      {"pcl", [](const ExperimentOptions& o, int64_t channels,
                 int64_t n) { return std::make_unique<PclMethod>(o, channels, n); }},
  };
  return factories;
}

}  // namespace

std::vector<std::string> method_names() {
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Method> make_method(const ExperimentOptions& options, int64_t in_channels,
                                    int64_t dataset_size) {
  auto it = registry().find(options.method);
  if (it == registry().end()) {
    fail("method: unknown method '{}' (known: {})", options.method,
         fmt::join(method_names(), ", "));
  }
  return it->second(options, in_channels, dataset_size);
}

}  // namespace swav
