// Watches a clustering run for the two ways SwAV-like training fails without diverging: a loss that
// stays at the level of uniform predictions (ln K), and prototypes that stop being used. Judged
// once per epoch from the epoch's metrics; the Trainer logs what it finds with the remedies that
// apply, stores a flag, and ends the run when train.stop_on_collapse is set.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "swav/config/options.h"
#include "swav/train/method.h"

namespace swav {

/// One sign of collapse found at the end of an epoch.
struct CollapseFinding {
  enum Kind : int { kLossAtChance = 1, kPrototypeUsage = 2 };
  Kind kind;
  std::string what;                   // the measurement, in words ("loss 4.55 is within 1.2% ...")
  std::vector<std::string> remedies;  // settings to change, most likely first, with their values
};

/// The flag stored per epoch (metric "collapse"): the OR of the findings' kinds.
int collapse_flag(const std::vector<CollapseFinding>& findings);

/// Below this share of the prototypes that could be used in an epoch (each one the argmax of at
/// least one assigned crop), the prototypes have collapsed. Healthy runs here use 0.94-1.0.
constexpr double kMinPrototypeUsage = 0.5;
/// Codes whose mean entropy is above this share of ln K are nearly uniform: the swapped
/// prediction has almost nothing to predict (epsilon too large for K and the batch).
constexpr double kFlatCodeEntropy = 0.9;

class CollapseWatch {
 public:
  /// `reference` from the method (no watch when its chance_loss is NaN); iters_per_epoch and the
  /// options say from which epoch on the run is judged and which remedies apply.
  CollapseWatch(const CollapseReference& reference, const ExperimentOptions& options,
                int64_t iters_per_epoch);

  bool active() const { return active_; }
  /// The first epoch (0-based) that is judged: the first whole epoch with the prototypes trained,
  /// and never the first epoch. Earlier, a loss near ln K is expected.
  int64_t first_judged_epoch() const { return first_judged_; }

  /// Judges one finished epoch from its metrics ("loss", and where the method reports them
  /// "prototype_usage" and "code_entropy"); empty when the run looks healthy or it is too early.
  std::vector<CollapseFinding> judge(int64_t epoch, const Scalars& metrics) const;

  /// "loss_over_chance": the epoch loss over the chance level, stored every epoch for plots.
  double loss_over_chance(const Scalars& metrics) const;

 private:
  std::vector<std::string> remedies(bool flat_codes, double code_entropy) const;

  bool active_ = false;
  CollapseReference reference_;
  ExperimentOptions options_;
  int64_t first_judged_ = 0;
  double usable_share_ = 1.0;  // most prototypes an epoch can use (assigned crops / K), at most 1
};

/// One line per finding plus its remedies, as the log shows them.
std::string describe(const std::vector<CollapseFinding>& findings, int64_t epoch);

}  // namespace swav
