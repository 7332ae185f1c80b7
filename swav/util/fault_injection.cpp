#include "swav/util/fault_injection.h"

#include <atomic>
#include <cstdint>

namespace swav {

namespace {

std::atomic<uint32_t> injected{0};

uint32_t bit(Fault fault) {
  return 1u << static_cast<uint32_t>(fault);
}

}  // namespace

void inject_fault(Fault fault, bool on) {
  if (on) {
    injected.fetch_or(bit(fault), std::memory_order_relaxed);
  } else {
    injected.fetch_and(~bit(fault), std::memory_order_relaxed);
  }
}

bool fault_injected(Fault fault) {
  return (injected.load(std::memory_order_relaxed) & bit(fault)) != 0;
}

}  // namespace swav
