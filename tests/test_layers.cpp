// The folders form layers (docs/DESIGN.md): a source file may include its own folder and folders
// of lower layers only. Two folders of one layer (SwAV and the baselines) do not include each
// other.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>

#include "test_paths.h"

namespace fs = std::filesystem;

namespace {

// The layer of each folder of the library and the programs; lower numbers are lower layers.
const std::map<std::string, int> kLayers = {
    {"swav/util", 0},  {"swav/dist", 1},   {"swav/config", 1}, {"swav/store", 1},  {"swav/core", 2},
    {"swav/data", 3},  {"swav/optim", 3},  {"swav/report", 3}, {"swav/models", 4}, {"eval", 5},
    {"swav/train", 6}, {"swav/method", 7}, {"baselines", 7},   {"swav/run", 8},    {"apps", 9},
};

/// "swav/core/sinkhorn.h" -> "swav/core"; "eval/knn.h" -> "eval"; "" for what is not ours.
std::string folder_of(const std::string& path) {
  for (const auto& [folder, layer] : kLayers) {
    if (path.rfind(folder + "/", 0) == 0) return folder;
  }
  return "";
}

}  // namespace

TEST_CASE("no source file includes a folder of its own or a higher layer", "[layers]") {
  const std::regex include_line(R"re(^\s*#\s*include\s+"([^"]+)")re");
  size_t files = 0, includes = 0;
  std::set<std::string> violations;
  for (const auto& [folder, layer] : kLayers) {
    const fs::path dir = fs::path(SWAV_SOURCE_DIR) / folder;
    REQUIRE(fs::is_directory(dir));
    for (const auto& entry : fs::directory_iterator(dir)) {
      const std::string ext = entry.path().extension().string();
      if (ext != ".h" && ext != ".cpp" && ext != ".cu" && ext != ".cuh") continue;
      ++files;
      std::ifstream in(entry.path());
      for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (!std::regex_search(line, m, include_line)) continue;
        const std::string target = folder_of(m[1].str());
        if (target.empty() || target == folder) continue;
        ++includes;
        if (kLayers.at(target) >= layer) {
          violations.insert(fs::relative(entry.path(), SWAV_SOURCE_DIR).string() + " includes " +
                            m[1].str());
        }
      }
    }
  }
  for (const auto& v : violations) UNSCOPED_INFO(v);
  CHECK(violations.empty());
  CHECK(files > 80);
  CHECK(includes > 100);
}

TEST_CASE("every folder of the library has a layer", "[layers]") {
  for (const auto& entry : fs::directory_iterator(fs::path(SWAV_SOURCE_DIR) / "swav")) {
    if (!entry.is_directory()) continue;
    INFO(entry.path().filename().string());
    CHECK(kLayers.count("swav/" + entry.path().filename().string()));
  }
}
