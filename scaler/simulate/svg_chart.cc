#include "simulate/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace kubeai::simulate::svg {
namespace {

constexpr int kAxisBelow = 44;  // tick labels and the time axis's title
constexpr std::string_view kGridColor = "#e6e6e6";
constexpr std::string_view kTextColor = "#333333";

using detail::finite;
using detail::pixelX;

struct YScale {
  double top = 1;  // the value at the plot's top edge
  std::vector<double> ticks;
  double pixel(double value, int plotHeight) const {
    const double clamped = std::clamp(value, 0.0, top);
    return kPlotTop + plotHeight - clamped / top * plotHeight;
  }
};

// The axis runs from 0 to a nice tick at or above the data (or its clip).
YScale yScale(const LineChart& chart, bool right, bool& clipped) {
  const Axis& axis = right ? *chart.right : chart.left;
  double high = 0;
  for (const Series& series : chart.series) {
    if (series.rightAxis != right) {
      continue;
    }
    for (const auto& value : series.values) {
      if (const auto v = finite(value)) {
        high = std::max(high, *v);
      }
    }
  }
  if (axis.clipAt && high > *axis.clipAt) {
    high = *axis.clipAt;
    clipped = true;
  }
  if (!right) {
    for (const ReferenceLine& reference : chart.references) {
      if (std::isfinite(reference.value)) {
        high = std::max(high, reference.value * 1.1);
      }
    }
  }
  if (!(high > 0)) {
    high = 1;
  }
  YScale scale;
  scale.ticks = niceTicks(0, high, 5, axis.integral);
  scale.top = scale.ticks.back();
  return scale;
}

void writeTimeAxis(std::ostream& out, double durationSeconds, int plotBottom) {
  for (const TimeTick& tick : timeTicks(durationSeconds)) {
    const std::string x = formatFixed(kPlotLeft + pixelX(tick.seconds, durationSeconds, kPlotWidth), 1);
    out << "<line x1=\"" << x << "\" y1=\"" << kPlotTop << "\" x2=\"" << x << "\" y2=\""
        << plotBottom << "\" stroke=\"" << kGridColor << "\"/>\n";
    out << "<text x=\"" << x << "\" y=\"" << plotBottom + 16
        << "\" text-anchor=\"middle\">" << escapeText(tick.label) << "</text>\n";
  }
  out << "<text x=\"" << kPlotLeft + kPlotWidth / 2 << "\" y=\"" << plotBottom + 36
      << "\" text-anchor=\"middle\">time from the start</text>\n";
}

void writeYAxis(std::ostream& out, const YScale& scale, const Axis& axis, bool right,
                int plotHeight) {
  const int decimals = tickDecimals(scale.ticks);
  const int x = right ? kPlotLeft + kPlotWidth + 6 : kPlotLeft - 6;
  for (const double tick : scale.ticks) {
    const std::string y = formatFixed(scale.pixel(tick, plotHeight), 1);
    if (!right) {
      out << "<line x1=\"" << kPlotLeft << "\" y1=\"" << y << "\" x2=\"" << kPlotLeft + kPlotWidth
          << "\" y2=\"" << y << "\" stroke=\"" << kGridColor << "\"/>\n";
    }
    out << "<text x=\"" << x << "\" y=\"" << y << "\" dy=\"4\" text-anchor=\""
        << (right ? "start" : "end") << "\">" << formatFixed(tick, decimals) << "</text>\n";
  }
  const int titleX = right ? kWidth - 12 : 14;
  const int titleY = kPlotTop + plotHeight / 2;
  out << "<text x=\"" << titleX << "\" y=\"" << titleY << "\" text-anchor=\"middle\" transform=\"rotate("
      << (right ? 90 : -90) << ' ' << titleX << ' ' << titleY << ")\">" << escapeText(axis.title)
      << "</text>\n";
}

void writeFrame(std::ostream& out, int plotHeight) {
  // Half-pixel coordinates and crisp edges: a one-pixel line of exactly
  // kFrameColor, which the browser test looks for.
  out << "<rect x=\"" << kPlotLeft - 1 << ".5\" y=\"" << kPlotTop - 1 << ".5\" width=\""
      << kPlotWidth + 1 << "\" height=\"" << plotHeight + 1 << "\" fill=\"none\" stroke=\""
      << kFrameColor << "\" shape-rendering=\"crispEdges\"/>\n";
}

void writeSeries(std::ostream& out, const Series& series, const YScale& scale,
                 double durationSeconds, int plotHeight) {
  const std::vector<PlotPoint> points = downsample(series, durationSeconds, kPlotWidth);
  if (points.empty()) {
    return;
  }
  const std::string base = formatFixed(scale.pixel(0, plotHeight), 1);
  std::string d;
  d.reserve(points.size() * 14);
  std::string segmentStartX;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const PlotPoint& point = points[i];
    const std::string x = formatFixed(kPlotLeft + point.x, 1);
    const std::string y = formatFixed(scale.pixel(point.value, plotHeight), 1);
    if (i == 0 || point.breakBefore) {
      if (series.area && i != 0) {
        d += "V" + base + "H" + segmentStartX + "Z";
      }
      segmentStartX = x;
      d += series.area ? "M" + x + " " + base + "V" + y : "M" + x + " " + y;
    } else {
      d += "L" + x + " " + y;
    }
  }
  if (series.area) {
    d += "V" + base + "H" + segmentStartX + "Z";
    out << "<path d=\"" << d << "\" fill=\"" << series.color << "\" stroke=\"none\"/>\n";
    return;
  }
  out << "<path d=\"" << d << "\" fill=\"none\" stroke=\"" << series.color
      << "\" stroke-width=\"2\" stroke-linejoin=\"round\""
      << (series.dashed ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
}

void openSvg(std::ostream& out, std::string_view id, std::string_view ariaLabel, int height) {
  out << "<svg id=\"" << escapeText(id) << "\" xmlns=\"http://www.w3.org/2000/svg\" width=\""
      << kWidth << "\" height=\"" << height << "\" viewBox=\"0 0 " << kWidth << ' ' << height
      << "\" role=\"img\" aria-label=\"" << escapeText(ariaLabel) << "\" font-family=\"sans-serif\" "
      << "font-size=\"12\" fill=\"" << kTextColor << "\">\n";
}

}  // namespace
bool writeLineChart(std::ostream& out, const LineChart& chart) {
  const int plotHeight = kLineChartPlotHeight;
  const int plotBottom = kPlotTop + plotHeight;
  const double duration = chart.durationSeconds > 0 ? chart.durationSeconds : 1;
  bool clipped = false;
  const YScale left = yScale(chart, false, clipped);
  bool rightClipped = false;
  const std::optional<YScale> right =
      chart.right ? std::optional<YScale>(yScale(chart, true, rightClipped)) : std::nullopt;
  openSvg(out, chart.id, chart.ariaLabel, plotBottom + kAxisBelow);
  out << "<rect x=\"" << kPlotLeft << "\" y=\"" << kPlotTop << "\" width=\"" << kPlotWidth
      << "\" height=\"" << plotHeight << "\" fill=\"#ffffff\"/>\n";
  writeYAxis(out, left, chart.left, false, plotHeight);
  if (right) {
    writeYAxis(out, *right, *chart.right, true, plotHeight);
  }
  writeTimeAxis(out, duration, plotBottom);
  // Areas first, so lines stay on top of them.
  for (const bool areas : {true, false}) {
    for (const Series& series : chart.series) {
      if (series.area == areas) {
        writeSeries(out, series, series.rightAxis && right ? *right : left, duration, plotHeight);
      }
    }
  }
  for (const ReferenceLine& reference : chart.references) {
    const std::string y = formatFixed(left.pixel(reference.value, plotHeight), 1);
    out << "<line x1=\"" << kPlotLeft << "\" y1=\"" << y << "\" x2=\"" << kPlotLeft + kPlotWidth
        << "\" y2=\"" << y << "\" stroke=\"" << reference.color
        << "\" stroke-width=\"2\" stroke-dasharray=\"10 5\"/>\n";
    out << "<text x=\"" << kPlotLeft + kPlotWidth - 4 << "\" y=\"" << y
        << "\" dy=\"-5\" text-anchor=\"end\" fill=\"" << reference.color << "\">"
        << escapeText(reference.label) << "</text>\n";
  }
  writeFrame(out, plotHeight);
  out << "</svg>\n";
  return clipped;
}

void writeLaneChart(std::ostream& out, const LaneChart& chart) {
  const int plotHeight = std::max<int>(1, static_cast<int>(chart.lanes.size())) * kLaneHeight;
  const int plotBottom = kPlotTop + plotHeight;
  const double duration = chart.durationSeconds > 0 ? chart.durationSeconds : 1;
  openSvg(out, chart.id, chart.ariaLabel, plotBottom + kAxisBelow);
  out << "<rect x=\"" << kPlotLeft << "\" y=\"" << kPlotTop << "\" width=\"" << kPlotWidth
      << "\" height=\"" << plotHeight << "\" fill=\"#ffffff\"/>\n";
  writeTimeAxis(out, duration, plotBottom);
  for (std::size_t lane = 0; lane < chart.lanes.size(); ++lane) {
    const int top = kPlotTop + static_cast<int>(lane) * kLaneHeight;
    if (lane % 2 == 1) {
      out << "<rect x=\"" << kPlotLeft << "\" y=\"" << top << "\" width=\"" << kPlotWidth
          << "\" height=\"" << kLaneHeight << "\" fill=\"#f4f4f4\"/>\n";
    }
    for (const Band& band : chart.lanes[lane].bands) {
      const double x0 = pixelX(band.startSeconds, duration, kPlotWidth);
      // At least one pixel wide, so a single limited step shows.
      const double width = std::max(1.0, pixelX(band.endSeconds, duration, kPlotWidth) - x0);
      out << "<rect x=\"" << formatFixed(kPlotLeft + x0, 1) << "\" y=\"" << top + 3
          << "\" width=\"" << formatFixed(width, 1) << "\" height=\"" << kLaneHeight - 6
          << "\" fill=\"" << band.color << "\"><title>" << escapeText(band.title)
          << "</title></rect>\n";
    }
    out << "<text x=\"" << kPlotLeft + 6 << "\" y=\"" << top + kLaneHeight / 2
        << "\" dy=\"4\" paint-order=\"stroke\" stroke=\"#ffffff\" stroke-width=\"3\">"
        << escapeText(chart.lanes[lane].label) << "</text>\n";
  }
  writeFrame(out, plotHeight);
  out << "</svg>\n";
}

}  // namespace kubeai::simulate::svg
