// Inputs the fuzz targets once crashed on (fuzz/regressions/<target>/), replayed in the ordinary
// build through the same readers: each must now end in a clear error naming the file. And damaged
// checkpoints, refused by the zip check before LibTorch parses them.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "helpers.h"
#include "swav/config/config.h"
#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "swav/data/stream_views.h"
#include "swav/models/weights.h"
#include "swav/run/export.h"
#include "swav/util/error.h"
#include "swav/util/zip_check.h"
#include "test_paths.h"

using namespace swav;
using Catch::Contains;

namespace {

namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const UserError& e) {
    return e.what();
  }
  return "no error";
}

std::vector<fs::path> regressions(const std::string& target) {
  std::vector<fs::path> out;
  const fs::path dir = fs::path(SWAV_SOURCE_DIR) / "fuzz" / "regressions" / target;
  if (fs::exists(dir))
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

}  // namespace

TEST_CASE("inputs that crashed the fuzz targets now give errors naming the file", "[fuzz][data]") {
  test::TempDir dir;
  const auto checkpoints = regressions("checkpoint");
  const auto idx = regressions("idx");
  REQUIRE_FALSE(checkpoints.empty());
  REQUIRE_FALSE(idx.empty());
  // Each checkpoint input goes to both readers, as in the fuzz target: the PyTorch weights reader,
  // and, as a trial folder's checkpoint beside a valid config, the reader of our own checkpoints.
  std::ofstream(dir.str("config.toml"))
      << "name = \"fuzz\"\nmethod = \"swav\"\n[data]\nformat = \"synthetic\"\n"
         "[model]\narch = \"convnet\"\nwidth = 0.25\nhidden_dim = 32\noutput_dim = 16\n"
         "prototypes = [20]\n[train]\nepochs = 2\n[optim]\nwarmup_epochs = 0\n";
  const std::string trial_checkpoint = dir.str("checkpoint.pt");
  for (const auto& input : checkpoints) {
    INFO(input.string());
    CHECK_THAT(error_of([&] { load_state_dict(input.string()); }), Contains(input.string()));
    fs::copy_file(input, trial_checkpoint, fs::copy_options::overwrite_existing);
    CHECK_THAT(error_of([&] { load_trained_network(trial_checkpoint); }),
               Contains(trial_checkpoint) && Contains("corrupt"));
  }
  // An IDX header claiming 8 GB of pixels in a file of a few bytes: truncated, nothing allocated.
  const std::string labels = dir.str("labels");
  std::ofstream(labels, std::ios::binary) << std::string("\0\0\x08\x01\0\0\0\x02\0\x01", 10);
  for (const auto& input : idx) {
    INFO(input.string());
    CHECK_THAT(error_of([&] { read_idx_pair(input.string(), labels); }), Contains(input.string()));
  }
  // A 40-byte JPEG whose header claims 65535 x 65535 pixels: refused before allocating 12 GB; a
  // PNG header whose sides' product overflowed: refused. Both through the whole-image decoder and
  // the streaming path's crops.
  const auto images = regressions("image");
  REQUIRE_FALSE(images.empty());
  AugmentOptions o;
  o.crops = {{8, 1, 0.5, 1.0}};
  const MultiCrop crops(o, 1);
  std::vector<float> view(3 * 8 * 8);
  for (const auto& input : images) {
    INFO(input.string());
    CHECK_THAT(error_of([&] { decode_image_file(input.string()); }),
               Contains(input.string()) && Contains("corrupt"));
    CHECK_THAT(
        error_of([&] { data::render_file_views(crops, input.string(), 0, 0, {view.data()}); }),
        Contains(input.string()) && Contains("corrupt"));
  }
}

TEST_CASE("a damaged checkpoint is refused by name before LibTorch parses it", "[fuzz][data]") {
  test::TempDir dir;
  const std::string path = dir.str("weights.pt");
  torch::manual_seed(0);
  save_state_dict({{"a", torch::randn({64, 64})}, {"b", torch::randn({16})}}, path);
  CHECK_NOTHROW(check_zip_integrity(path, true));
  CHECK(load_state_dict(path).size() == 2);
  const std::string bytes = test::file_bytes(path);

  // One flipped bit in a tensor's bytes: the record's CRC-32 no longer matches.
  std::string flipped = bytes;
  flipped[bytes.size() / 3] ^= 0x10;
  const std::string damaged = dir.str("damaged.pt");
  std::ofstream(damaged, std::ios::binary) << flipped;
  CHECK_THAT(error_of([&] { load_state_dict(damaged); }), Contains(damaged) && Contains("CRC-32"));

  // Cut short: no end-of-directory record.
  const std::string cut = dir.str("cut.pt");
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() - 100);
  CHECK_THAT(error_of([&] { load_state_dict(cut); }), Contains(cut) && Contains("corrupt"));

  // Not a zip archive at all.
  const std::string text = dir.str("text.pt");
  std::ofstream(text) << "state_dict = {}";
  CHECK_THAT(error_of([&] { load_state_dict(text); }), Contains(text) && Contains("zip"));
}
