// A hidden tool, not a test: writes a grid of multi-crop views for eyeballing the augmentation.
//   build/bin/swav_tests "[.dump]"   -> $SWAV_DUMP_DIR (default /tmp)/views.png
#include <catch2/catch.hpp>

#include <cstdlib>

#include "swav/data/image_set.h"
#include "swav/data/multicrop.h"
#include "writers.h"

TEST_CASE("dump multi-crop views of Fashion-MNIST", "[.dump]") {
  swav::DataOptions data;
  data.format = "fashion_mnist";
  data.root = "/usr/share/datasets/fashion-mnist";
  auto set = swav::load_split(data, swav::Split::kTrain);
  swav::AugmentOptions aug;
  aug.crops = {{28, 2, 0.3, 1.0}, {14, 4, 0.1, 0.4}};
  aug.blur_prob = 0;
  aug.mean = {0.286};
  aug.std = {0.353};
  swav::MultiCrop crops(aug, 1);
  const std::vector<int64_t> idx = {0, 1, 2, 3, 4, 5, 6, 7};
  auto views = crops.make_views(set, idx, 0);
  // Rows: samples; columns: the original, then each crop upscaled to 28 px.
  auto grid = torch::zeros({8 * 30, (1 + static_cast<int64_t>(views.size())) * 30}, torch::kUInt8);
  for (int64_t r = 0; r < 8; ++r) {
    grid.narrow(0, r * 30, 28).narrow(1, 0, 28).copy_(set.images[idx[r]].select(2, 0));
    for (size_t c = 0; c < views.size(); ++c) {
      auto v = views[c][r][0] * 0.353 + 0.286;
      v = torch::nn::functional::interpolate(v.unsqueeze(0).unsqueeze(0),
                                             torch::nn::functional::InterpolateFuncOptions()
                                                 .size(std::vector<int64_t>{28, 28})
                                                 .mode(torch::kNearest))
              .squeeze();
      grid.narrow(0, r * 30, 28)
          .narrow(1, (c + 1) * 30, 28)
          .copy_((v.clamp(0, 1) * 255).round().to(torch::kUInt8));
    }
  }
  const char* dir = std::getenv("SWAV_DUMP_DIR");
  auto rgb = grid.unsqueeze(2).repeat({1, 1, 3}).contiguous();
  swav::test::write_png(std::string(dir ? dir : "/tmp") + "/views.png", rgb);
}
