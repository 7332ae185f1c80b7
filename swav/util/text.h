// Small text helpers shared across layers.
#pragma once
#include <string>
#include <vector>

namespace swav {

/// The pieces of `text` between occurrences of `separator`: "a.b.c" -> {"a", "b", "c"}; an empty
/// text gives one empty piece.
inline std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (size_t at = text.find(separator); at != std::string::npos;
       at = text.find(separator, begin)) {
    parts.push_back(text.substr(begin, at - begin));
    begin = at + 1;
  }
  parts.push_back(text.substr(begin));
  return parts;
}

}  // namespace swav
