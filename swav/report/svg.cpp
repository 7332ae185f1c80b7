#include "swav/report/svg.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace swav::report {

namespace {

// Colour-blind-safe palette (Okabe-Ito), cycled.
const char* const kColours[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                "#E69F00", "#56B4E9", "#000000", "#F0E442"};

std::string num(double v) {
  // Two decimals and no "-0.00": stable text for byte-for-byte comparisons.
  std::string s = fmt::format("{:.2f}", v);
  return s == "-0.00" ? "0.00" : s;
}

std::string tick_label(double v) {
  std::string s = fmt::format("{:.4g}", v);
  return s == "-0" ? "0" : s;
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string line_chart(const std::vector<Series>& series, const ChartOptions& o) {
  auto fx = [&](double x) { return o.log_x ? std::log10(x) : x; };
  auto usable = [&](const std::pair<double, double>& p) {
    return std::isfinite(p.first) && std::isfinite(p.second) && (!o.log_x || p.first > 0);
  };
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series) {
    for (const auto& p : s.points) {
      if (!usable(p)) continue;
      x0 = std::min(x0, fx(p.first));
      x1 = std::max(x1, fx(p.first));
      y0 = std::min(y0, p.second);
      y1 = std::max(y1, p.second);
    }
  }
  if (!(x0 <= x1)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;  // nothing to draw
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad;
  y1 += pad;

  const double left = 70, right = 180, top = 40, bottom = 55;
  const double pw = o.width - left - right, ph = o.height - top - bottom;
  auto px = [&](double x) { return left + (fx(x) - x0) / (x1 - x0) * pw; };
  auto pxt = [&](double t) { return left + (t - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };

  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n",
      o.width, o.height, o.width, o.height);
  out += fmt::format("<rect width=\"{}\" height=\"{}\" fill=\"white\"/>\n", o.width, o.height);
  out += fmt::format("<text x=\"{}\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
                     num(left + pw / 2), xml_escape(o.title));
  out += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#444\"/>\n",
      num(left), num(top), num(pw), num(ph));
  for (int i = 0; i <= 4; ++i) {
    const double tx = x0 + (x1 - x0) * i / 4, ty = y0 + (y1 - y0) * i / 4;
    const double gx = pxt(tx), gy = py(ty);
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#ddd\"/>\n",
                       num(gx), num(top), num(top + ph));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(gx),
                       num(top + ph + 16), tick_label(o.log_x ? std::pow(10.0, tx) : tx));
    out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/>\n",
                       num(left), num(gy), num(left + pw));
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", num(left - 6),
                       num(gy + 4), tick_label(ty));
  }
  out +=
      fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", num(left + pw / 2),
                  num(o.height - 12.0), xml_escape(o.x_label + (o.log_x ? " (log scale)" : "")));
  out += fmt::format(
      "<text x=\"16\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 16 "
      "{0})\">{1}</text>\n",
      num(top + ph / 2), xml_escape(o.y_label));

  for (size_t i = 0; i < series.size(); ++i) {
    const char* colour = kColours[i % (sizeof(kColours) / sizeof(kColours[0]))];
    std::string points;
    std::string markers;
    for (const auto& p : series[i].points) {
      if (!usable(p)) continue;
      points += (points.empty() ? "" : " ") + num(px(p.first)) + "," + num(py(p.second));
      markers += fmt::format("<circle cx=\"{}\" cy=\"{}\" r=\"2.5\" fill=\"{}\"/>\n",
                             num(px(p.first)), num(py(p.second)), colour);
    }
    if (!points.empty()) {
      out += fmt::format(
          "<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\"/>\n", points,
          colour);
      out += markers;
    }
    const double ly = top + 14 + 18.0 * static_cast<double>(i);
    out += fmt::format(
        "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" "
        "stroke-width=\"2\"/>\n",
        num(left + pw + 10), num(ly), num(left + pw + 30), colour);
    out += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", num(left + pw + 36), num(ly + 4),
                       xml_escape(series[i].label));
  }
  out += "</svg>\n";
  return out;
}

}  // namespace swav::report
