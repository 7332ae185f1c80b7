// The two tiers of errors.
//  - Bad user input (a config value, a data file, a path): throw swav::UserError whose message
//    names the offending file, key or value and what was expected. Only the runner catches it,
//    marks the run failed in the store, and goes on (a sweep continues with its other trials).
//    Use fail() below: it formats the message with fmt.
//  - A broken internal invariant: TORCH_INTERNAL_ASSERT / TORCH_CHECK, which report file and line.
#pragma once
#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace swav {

class UserError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Throws UserError with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw UserError(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace swav
