// A small, dependency-free SVG line-chart writer: deterministic text (fixed number formatting, no
// timestamps or ids), so generated plots can be committed and compared byte for byte.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace swav::report {

/// One line of a chart: (x, y) points drawn in the given order.
struct Series {
  std::string label;
  std::vector<std::pair<double, double>> points;
};

struct ChartOptions {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // logarithmic x axis (all x must be > 0)
  int width = 640;
  int height = 400;
};

/// A line chart with axes, five ticks per axis, a marker on every point and a legend. Non-finite
/// points are skipped. Returns the SVG document.
std::string line_chart(const std::vector<Series>& series, const ChartOptions& options);

/// Text with &, <, >, " escaped for XML.
std::string xml_escape(const std::string& text);

}  // namespace swav::report
