// Faults injected on purpose, so that a check can show it catches them (the CI regression check's
// --inject, and tests). Nothing in a normal run injects one: each point below costs one relaxed
// atomic load per call of the function that holds it, and behaves as documented while no fault is
// injected. Process-wide; not meant to be changed while another thread trains.
#pragma once

namespace swav {

enum class Fault {
  /// sinkhorn() skips its per-sample ("column", of the [K, B] matrix) normalisation in every
  /// iteration, and sinkhorn_codes() runs sinkhorn() whatever implementation was asked for: codes
  /// that are only equipartitioned over prototypes, not distributions over them per sample.
  kSinkhornSkipsSampleNorm,
  /// swav_loss() predicts each assigned crop's code from the crop itself instead of from the other
  /// crops (the swap undone).
  kUnswappedLoss,
};

/// Turns `fault` on (or off) for the rest of the process.
void inject_fault(Fault fault, bool on = true);

/// Whether `fault` is injected.
bool fault_injected(Fault fault);

}  // namespace swav
