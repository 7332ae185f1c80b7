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

/// The first `shown` items joined by "; ", then "and N more" for the rest: long lists of names in
/// an error message stay one readable line.
inline std::string first_few(const std::vector<std::string>& items, size_t shown = 5) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < shown; ++i) out += (i ? "; " : "") + items[i];
  if (items.size() > shown) out += "; and " + std::to_string(items.size() - shown) + " more";
  return out;
}

}  // namespace swav
