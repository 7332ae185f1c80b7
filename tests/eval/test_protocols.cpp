// The evaluation protocols on data with a known answer: an identity "backbone" on linearly
// separable images, exact restoration of fine-tuned weights, balanced seeded subsets, transfer and
// cluster rows.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "eval/cluster_metrics.h"
#include "eval/evaluate.h"
#include "eval/finetune.h"
#include "eval/views.h"
#include "helpers.h"
#include "swav/config/config.h"
#include "swav/data/multicrop.h"
#include "swav/run/evaluation.h"
#include "swav/run/registry.h"
#include "swav/util/error.h"

using namespace swav;

namespace {

/// The features are the pixels: a linear layer on them is a linear classifier of the images.
class IdentityBackbone : public BackboneImpl {
 public:
  explicit IdentityBackbone(int64_t dim) : dim_(dim) {}
  torch::Tensor forward(torch::Tensor x) override { return x.flatten(1); }
  int64_t feature_dim() const override { return dim_; }

 private:
  int64_t dim_;
};

/// Images of one flat colour per class plus noise: any crop or flip keeps the class's colour, so
/// the classes stay linearly separable under the protocols' augmentation.
ImageSet colour_set(int64_t classes, int64_t per_class, int64_t size, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t n = classes * per_class;
  ImageSet set;
  set.labels = torch::arange(n, torch::kLong) % classes;
  auto colours = torch::tensor(
      {{220.0, 30.0, 30.0}, {30.0, 200.0, 40.0}, {40.0, 40.0, 210.0}, {200.0, 200.0, 40.0}});
  auto base = colours.index_select(0, set.labels).view({n, 1, 1, 3}).expand({n, size, size, 3});
  auto noise = torch::randn({n, size, size, 3}, gen, torch::kFloat64) * 12;
  set.images = (base + noise).clamp(0, 255).to(torch::kUInt8).contiguous();
  set.num_classes = classes;
  set.class_names = {"red", "green", "blue", "yellow"};
  set.class_names.resize(classes);
  return set;
}

std::vector<torch::Tensor> snapshot(torch::nn::Module& m) {
  return save_state(m);
}

bool same_state(torch::nn::Module& m, const std::vector<torch::Tensor>& state) {
  auto now = save_state(m);
  if (now.size() != state.size()) return false;
  for (size_t i = 0; i < now.size(); ++i)
    if (!torch::equal(now[i], state[i])) return false;
  return true;
}

const std::vector<double> kMean = {0.5, 0.5, 0.5}, kStd = {0.25, 0.25, 0.25};

}  // namespace

TEST_CASE("centre view: whole image equals normalize_images, crops the centre, converts channels",
          "[eval]") {
  auto images = torch::randint(256, {3, 8, 8, 3}, torch::kLong).to(torch::kUInt8);
  auto whole = center_view(images, 8, 1.0, kMean, kStd, 3);
  CHECK(torch::allclose(whole, normalize_images(images, kMean, kStd), 1e-6, 1e-6));
  // Side 0.5 * 8 = 4, output 4: exactly the central 4x4 pixels, no resampling.
  auto centre = center_view(images, 4, 0.5, kMean, kStd, 3);
  auto expected =
      normalize_images(images.narrow(1, 2, 4).narrow(2, 2, 4).contiguous(), kMean, kStd);
  CHECK(torch::allclose(centre, expected, 1e-6, 1e-6));
  // Resized to another size: shape, and a constant image stays constant.
  auto flat = torch::full({1, 10, 10, 1}, 128, torch::kUInt8);
  auto resized = center_view(flat, 7, 0.875, {0.0}, {1.0}, 3);
  CHECK(resized.sizes() == torch::IntArrayRef({1, 3, 7, 7}));
  CHECK(torch::allclose(resized, torch::full({1, 3, 7, 7}, 128.0 / 255.0), 1e-5, 1e-5));
  auto gray = center_view(images, 8, 1.0, kMean, kStd, 1);
  CHECK(torch::allclose(gray, whole.mean(1, true), 1e-6, 1e-6));
  CHECK_THROWS_AS(center_view(images, 8, 1.0, {0.5, 0.5}, {1.0, 1.0}, 3), UserError);
}

TEST_CASE("balanced subsets are exactly balanced and fixed by the seed", "[eval][semi]") {
  // 10 classes, 100 images each, in a shuffled order.
  auto gen = at::make_generator<at::CPUGeneratorImpl>(9);
  auto labels = (torch::arange(1000, torch::kLong) % 10)
                    .index_select(0, torch::randperm(1000, gen, torch::kLong));
  for (double fraction : {0.01, 0.1, 0.25}) {
    const auto subset = balanced_subset(labels, 10, fraction, 4);
    const auto per_class = static_cast<int64_t>(std::lround(fraction * 100));
    REQUIRE(static_cast<int64_t>(subset.size()) == 10 * per_class);
    CHECK(std::is_sorted(subset.begin(), subset.end()));
    CHECK(std::set<int64_t>(subset.begin(), subset.end()).size() == subset.size());
    std::map<int64_t, int64_t> counts;
    for (int64_t i : subset) ++counts[labels[i].item<int64_t>()];
    for (int64_t c = 0; c < 10; ++c) CHECK(counts[c] == per_class);
    CHECK(balanced_subset(labels, 10, fraction, 4) == subset);  // reproducible
  }
  CHECK(balanced_subset(labels, 10, 0.1, 5) != balanced_subset(labels, 10, 0.1, 4));
  // At least one image per class, however small the fraction.
  CHECK(balanced_subset(labels, 10, 0.0001, 1).size() == 10);
}

TEST_CASE("SwAV linear protocol: identity features of separable images reach ~100%", "[eval]") {
  const auto train = colour_set(4, 40, 8, 1);
  const auto test = colour_set(4, 10, 8, 2);
  IdentityBackbone identity(3 * 8 * 8);
  EvalOptions eval;
  eval.swav_linear_epochs = 4;
  eval.linear_batch_size = 32;
  auto result =
      swav_linear_protocol(identity, train, test, 8, kMean, kStd, eval, 1, torch::kCPU, 3);
  REQUIRE(result.epoch_top1.size() == 4);
  CHECK(result.best_top1 >= 0.99);
  CHECK(result.last_top1 == result.epoch_top1.back());
  CHECK(result.best_top1 == *std::max_element(result.epoch_top1.begin(), result.epoch_top1.end()));
  // Same seed, same numbers.
  auto again = swav_linear_protocol(identity, train, test, 8, kMean, kStd, eval, 1, torch::kCPU, 3);
  CHECK(again.epoch_top1 == result.epoch_top1);
}

TEST_CASE(
    "SwAV linear protocol leaves the frozen backbone (weights, BN statistics, mode) as it was",
    "[eval]") {
  auto options = test::tiny_experiment();
  const auto train = load_split(options.data, Split::kTrain);
  const auto test = load_split(options.data, Split::kTest);
  torch::manual_seed(2);
  auto backbone = make_backbone(options.model, train.channels());
  backbone->train();
  const auto before = snapshot(*backbone);
  EvalOptions eval;
  eval.swav_linear_epochs = 1;
  auto result = swav_linear_protocol(*backbone, train, test, 16, options.augment.mean,
                                     options.augment.std, eval, 1, torch::kCPU, 1);
  CHECK(result.best_top1 >= 0);
  CHECK(result.best_top1 <= 1);
  CHECK(same_state(*backbone, before));
  CHECK(backbone->is_training());
}

TEST_CASE("semi-supervised fine-tuning learns from few labels and restores the network exactly",
          "[eval][semi]") {
  // Identity backbone: only the head trains; 10% of 40 per class = 4 labelled images per class.
  const auto train = colour_set(4, 40, 8, 1);
  const auto test = colour_set(4, 10, 8, 2);
  IdentityBackbone identity(3 * 8 * 8);
  EvalOptions eval;
  eval.semi_epochs = 15;
  eval.semi_head_lr = 0.5;
  auto easy =
      semi_supervised_protocol(identity, train, test, 0.1, 8, kMean, kStd, eval, 1, torch::kCPU, 7);
  CHECK(easy.labelled == 16);
  CHECK(easy.top1 >= 0.95);

  // A real backbone is fine-tuned (its weights move during training) and put back afterwards.
  auto options = test::tiny_experiment();
  const auto strain = load_split(options.data, Split::kTrain);
  const auto stest = load_split(options.data, Split::kTest);
  torch::manual_seed(4);
  auto backbone = make_backbone(options.model, strain.channels());
  backbone->eval();
  const auto before = snapshot(*backbone);
  eval.semi_epochs = 2;
  auto r = semi_supervised_protocol(*backbone, strain, stest, 0.25, 16, options.augment.mean,
                                    options.augment.std, eval, 1, torch::kCPU, 7);
  CHECK(r.labelled == 32);  // 8 of the 32 images of each of 4 classes
  CHECK(r.top1 >= 0);
  CHECK(r.top1 <= 1);
  CHECK(same_state(*backbone, before));
  CHECK_FALSE(backbone->is_training());
  for (const auto& p : backbone->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("evaluate_method runs the enabled protocols and names their rows", "[eval]") {
  auto options = test::tiny_experiment();
  options.eval.knn_k = {5};
  options.eval.linear_epochs = 2;
  options.eval.swav_linear = true;
  options.eval.swav_linear_epochs = 1;
  options.eval.semi_supervised = true;
  options.eval.semi_fractions = {0.25, 0.5};
  options.eval.semi_epochs = 1;
  TransferOptions transfer;
  transfer.name = "gray12";
  transfer.data.format = "synthetic";
  transfer.data.synthetic_classes = 3;
  transfer.data.synthetic_channels = 1;  // 1-channel images into a 3-channel network
  transfer.data.synthetic_size = 12;     // resized to the 16 px input
  transfer.data.synthetic_train_per_class = 10;
  transfer.data.synthetic_test_per_class = 5;
  transfer.mean = {0.5};
  transfer.std = {0.25};
  options.eval.transfer = {transfer};
  validate(options, "test");

  const auto train = load_split(options.data, Split::kTrain);
  const auto test = load_split(options.data, Split::kTest);
  torch::manual_seed(8);
  auto method = make_method(options, train.channels(), train.size());
  std::vector<std::string> lines;
  auto results = evaluate_method(*method, train, test, options, torch::kCPU,
                                 [&](const std::string& line) { lines.push_back(line); });
  std::vector<std::string> names;
  std::map<std::string, double> value;
  for (const auto& r : results) {
    names.push_back(r.protocol + "/" + r.metric);
    value[names.back()] = r.value;
    CHECK(r.dataset == "synthetic/test");
  }
  CHECK(names ==
        std::vector<std::string>{"knn/top1_k5", "linear/top1_best", "linear/top1_last",
                                 "swav_linear/top1_best", "swav_linear/top1_last",
                                 "semi_supervised/top1_25pct", "semi_supervised/top1_50pct",
                                 "transfer:gray12:knn/top1_k5", "transfer:gray12:linear/top1_best",
                                 "transfer:gray12:linear/top1_last", "clusters/nmi", "clusters/ari",
                                 "clusters/used", "clusters/used_share", "clusters/entropy_share"});
  CHECK(lines.size() == 4);  // swav_linear, two fractions, one transfer
  const double K = static_cast<double>(options.model.prototypes[0]);
  CHECK(value["clusters/used"] >= 1);
  CHECK(value["clusters/used"] <= K);
  CHECK(value["clusters/used_share"] == Approx(value["clusters/used"] / K));
  CHECK(value["clusters/nmi"] >= 0);
  CHECK(value["clusters/nmi"] <= 1);
  for (const auto& [name, v] : value) {
    if (name.find("top1") != std::string::npos) {
      CHECK(v >= 0);
      CHECK(v <= 1);
    }
  }
}

TEST_CASE("cluster assignments are the argmax prototype of the network", "[eval][clusters]") {
  auto options = test::tiny_experiment();
  const auto test = load_split(options.data, Split::kTest);
  torch::manual_seed(8);
  auto method = make_method(options, test.channels(), test.size());
  REQUIRE(method->num_clusters() == options.model.prototypes[0]);
  auto rows = evaluate_clusters(*method, test, options.augment.mean, options.augment.std, "t",
                                torch::kCPU, 7);
  REQUIRE(rows.size() == 5);
  // The same assignment by hand, in the same batches of 7 (other batch sizes may run other
  // convolution kernels, whose rounding can flip a near-tie of two prototypes).
  torch::NoGradGuard no_grad;
  method->module().eval();
  std::vector<torch::Tensor> chunks;
  for (const auto& images :
       normalize_images(test.images, options.augment.mean, options.augment.std).split(7))
    chunks.push_back(method->assign(images));
  auto ids = torch::cat(chunks);
  method->module().train();
  CHECK(rows[0].metric == "nmi");
  CHECK(rows[0].value == Approx(normalized_mutual_information(ids, test.labels)).epsilon(1e-12));
  CHECK(rows[1].value == Approx(adjusted_rand_index(ids, test.labels)).epsilon(1e-12));
  CHECK(rows[2].value ==
        static_cast<double>(
            std::set<int64_t>(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel())
                .size()));
}
