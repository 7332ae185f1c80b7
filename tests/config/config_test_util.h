// Helpers for the config tests: field-by-field comparison of options and a fully customised set.
#pragma once
#include <catch2/catch.hpp>

#include <string>

#include "swav/config/config.h"
#include "swav/util/error.h"

namespace swav::test {

/// Every field of `a` equals the same field of `b` (exact, also for doubles).
void check_same_options(const ExperimentOptions& a, const ExperimentOptions& b);

/// Options with every field changed from its default to another valid value.
ExperimentOptions customised_options();

/// The message of the UserError `f` throws; fails the test when it throws nothing.
template <typename F>
std::string user_error(F&& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL("expected a UserError");
  return "";
}

}  // namespace swav::test
