#include "swav/train/collapse.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace swav {

namespace {

double find(const Scalars& metrics, const std::string& name) {
  for (const auto& [key, value] : metrics)
    if (key == name) return value;
  return std::numeric_limits<double>::quiet_NaN();
}

}  // namespace

int collapse_flag(const std::vector<CollapseFinding>& findings) {
  int flag = 0;
  for (const auto& f : findings) flag |= f.kind;
  return flag;
}

CollapseWatch::CollapseWatch(const CollapseReference& reference, const ExperimentOptions& options,
                             int64_t iters_per_epoch)
    : active_(std::isfinite(reference.chance_loss) && reference.chance_loss > 0 &&
              iters_per_epoch > 0),
      reference_(reference),
      options_(options) {
  if (!active_) return;
  // The first epoch all of whose steps train the prototypes, and never the first epoch.
  const int64_t unfrozen = (reference.frozen_iterations + iters_per_epoch - 1) / iters_per_epoch;
  first_judged_ = std::max<int64_t>(unfrozen, 1);
  if (reference.clusters > 0) {
    const double assigned = static_cast<double>(iters_per_epoch * options.train.batch_size *
                                                std::max<int64_t>(reference.assigned_crops, 1));
    usable_share_ = std::min(1.0, assigned / static_cast<double>(reference.clusters));
  }
}

double CollapseWatch::loss_over_chance(const Scalars& metrics) const {
  if (!active_) return std::numeric_limits<double>::quiet_NaN();
  return find(metrics, "loss") / reference_.chance_loss;
}

std::vector<std::string> CollapseWatch::remedies(bool flat_codes, double code_entropy) const {
  const auto& swav = options_.swav;
  std::vector<std::string> out;
  if (flat_codes) {
    out.push_back(fmt::format(
        "lower swav.epsilon (now {}){}: at small K and batch the codes stay soft; at K = 100 and "
        "batch 256, 0.02 learned far more than 0.05 (docs/SWAV_SMALL_SCALE.md)",
        swav.epsilon,
        std::isfinite(code_entropy)
            ? fmt::format(", the codes' entropy is {:.2f} of ln K", code_entropy)
            : std::string()));
  }
  int64_t smallest_crop = 0;
  for (const auto& c : options_.augment.crops)
    smallest_crop = smallest_crop == 0 ? c.size : std::min(smallest_crop, c.size);
  if (flat_codes && options_.augment.blur_prob > 0 && smallest_crop > 0 && smallest_crop < 224) {
    out.push_back(fmt::format(
        "weaken the blur (augment.blur_prob now {}, sigma {}-{} px): the official sigma is for "
        "224 px crops and removes far more of a {} px crop; blur_prob = 0 or sigma x {:.2f}",
        options_.augment.blur_prob, options_.augment.blur_sigma_min,
        options_.augment.blur_sigma_max, smallest_crop, static_cast<double>(smallest_crop) / 224));
  }
  if (swav.queue_length > 0) {
    out.push_back(fmt::format(
        "start the queue later or shorten it (swav.epoch_queue_starts now {}, swav.queue_length "
        "now {}): a queue of stale embeddings early in training is the most common cause",
        swav.epoch_queue_starts, swav.queue_length));
  }
  out.push_back(fmt::format(
      "freeze the prototypes longer (swav.freeze_prototypes_niters now {})",
      reference_.frozen_iterations));
  out.push_back(fmt::format(
      "lower the learning rate (optim.base_lr now {}; the paper uses 0.6 at batch 256 and 4.8 at "
      "4096)",
      options_.optim.base_lr));
  return out;
}

std::vector<CollapseFinding> CollapseWatch::judge(int64_t epoch, const Scalars& metrics) const {
  std::vector<CollapseFinding> out;
  if (!active_ || epoch < first_judged_) return out;
  const double loss = find(metrics, "loss");
  const double usage = find(metrics, "prototype_usage");
  const double entropy = find(metrics, "code_entropy");
  const double margin = options_.train.collapse_loss_margin;
  const bool flat_codes = std::isfinite(entropy) && entropy >= kFlatCodeEntropy;

  // At chance from either side: a loss well above ln K (confident, wrong predictions early in a
  // run) is not this failure.
  const double gap = std::abs(1.0 - loss / reference_.chance_loss);
  if (margin > 0 && std::isfinite(loss) && gap <= margin) {
    out.push_back(
        {CollapseFinding::kLossAtChance,
         fmt::format("the loss {:.4f} is within {:.1f}% of the chance level ln K = {:.4f} "
                     "(train.collapse_loss_margin = {}) in epoch {}: the network predicts little "
                     "more than uniform assignments",
                     loss, 100 * gap, reference_.chance_loss, margin, epoch + 1),
         remedies(/*flat_codes=*/flat_codes || !std::isfinite(entropy), entropy)});
  }
  if (std::isfinite(usage) && usage < kMinPrototypeUsage * usable_share_) {
    out.push_back(
        {CollapseFinding::kPrototypeUsage,
         fmt::format("only {:.0f}% of the {} prototypes were the best match of any crop this "
                     "epoch (fewer than {:.0f}%): the embeddings are collapsing onto a few "
                     "prototypes",
                     100 * usage, reference_.clusters, 100 * kMinPrototypeUsage * usable_share_),
         remedies(flat_codes, entropy)});
  }
  return out;
}

std::string describe(const std::vector<CollapseFinding>& findings, int64_t epoch) {
  std::string text;
  for (const auto& f : findings) {
    text += fmt::format("collapse warning (epoch {}): {}\n", epoch + 1, f.what);
    for (const auto& r : f.remedies) text += fmt::format("  remedy: {}\n", r);
  }
  return text;
}

}  // namespace swav
