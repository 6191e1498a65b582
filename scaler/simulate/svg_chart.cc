#include "simulate/svg_chart.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>

namespace kubeai::simulate::svg {
namespace {

constexpr int kAxisBelow = 44;  // tick labels and the time axis's title
constexpr std::string_view kGridColor = "#e6e6e6";
constexpr std::string_view kTextColor = "#333333";

std::optional<double> finite(const std::optional<double>& value) {
  if (value && std::isfinite(*value)) {
    return value;
  }
  return std::nullopt;
}

int columnOf(double seconds, double durationSeconds, int columns) {
  const double position = seconds / durationSeconds * columns;
  if (!(position >= 0)) {  // also NaN
    return 0;
  }
  return static_cast<int>(std::min(std::floor(position), static_cast<double>(columns - 1)));
}

double pixelX(double seconds, double durationSeconds, int width = kPlotWidth) {
  return std::clamp(seconds / durationSeconds, 0.0, 1.0) * width;
}

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
    const std::string x = formatFixed(kPlotLeft + pixelX(tick.seconds, durationSeconds), 1);
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

std::string formatFixed(double value, int decimals) {
  if (!std::isfinite(value)) {
    return "n/a";
  }
  std::array<char, 400> buffer{};  // the largest double in fixed notation fits
  const std::to_chars_result written = std::to_chars(
      buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed, decimals);
  std::string text(buffer.data(), written.ec == std::errc() ? written.ptr : buffer.data());
  // "-0.0" and the like: a value that rounds to zero is written as zero.
  if (!text.empty() && text.front() == '-' &&
      text.find_first_not_of("0.", 1) == std::string::npos) {
    text.erase(0, 1);
  }
  return text;
}

std::string escapeText(std::string_view text) {
  std::string escaped;
  escaped.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': escaped += "&amp;"; break;
      case '<': escaped += "&lt;"; break;
      case '>': escaped += "&gt;"; break;
      case '"': escaped += "&quot;"; break;
      case '\'': escaped += "&#39;"; break;
      default:
        // Control characters are not allowed in XML 1.0 text: a space instead.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') {
          escaped += ' ';
        } else {
          escaped += c;
        }
    }
  }
  return escaped;
}

std::vector<double> niceTicks(double low, double high, int target, bool integral) {
  if (!std::isfinite(low) || !std::isfinite(high) || high <= low) {
    return {low, low + 1};
  }
  const double rough = (high - low) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= rough) {
      break;
    }
  }
  if (integral) {
    step = std::max(step, 1.0);
  }
  std::vector<double> ticks;
  const double first = std::floor(low / step) * step;
  // Bounded: at most target*2.5+2 ticks come out of a 1-2-5 step.
  for (int i = 0; i < 64; ++i) {
    const double tick = first + i * step;
    ticks.push_back(tick);
    if (tick >= high * (1 - 1e-12)) {
      break;
    }
  }
  return ticks;
}

int tickDecimals(const std::vector<double>& ticks) {
  if (ticks.size() < 2) {
    return 0;
  }
  const double step = ticks[1] - ticks[0];
  if (!(step > 0) || step >= 1) {
    return 0;
  }
  return std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
}

std::string timeLabel(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0) {
    return "0";
  }
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  const std::int64_t days = total / 86400;
  const std::int64_t hours = total % 86400 / 3600;
  const std::int64_t minutes = total % 3600 / 60;
  const std::int64_t rest = total % 60;
  std::string label;
  const auto add = [&label](std::int64_t value, const char* unit) {
    if (value != 0) {
      // Appended piece by piece: GCC 12's -Wrestrict misfires on "x" + string.
      if (!label.empty()) {
        label += ' ';
      }
      label += std::to_string(value);
      label += unit;
    }
  };
  add(days, "d");
  add(hours, "h");
  add(minutes, "m");
  add(rest, "s");
  return label;
}

std::vector<TimeTick> timeTicks(double durationSeconds) {
  if (!std::isfinite(durationSeconds) || durationSeconds <= 0) {
    return {{0, "0"}};
  }
  static constexpr std::array<double, 15> kSteps = {
      15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800};
  double step = kSteps.back();
  for (const double candidate : kSteps) {
    if (durationSeconds / candidate <= 10) {
      step = candidate;
      break;
    }
  }
  while (durationSeconds / step > 10) {  // beyond 20 days: whole weeks and more
    step *= 2;
  }
  std::vector<TimeTick> ticks;
  for (double t = 0; t <= durationSeconds * (1 + 1e-12); t += step) {
    ticks.push_back({t, timeLabel(t)});
  }
  return ticks;
}

std::vector<PlotPoint> downsample(const Series& series, double durationSeconds, int columns) {
  std::vector<PlotPoint> points;
  const std::size_t count = std::min(series.times.size(), series.values.size());
  if (count == 0 || !(durationSeconds > 0) || columns <= 0) {
    return points;
  }
  // Appends a vertex, dropping the middle one of three on one horizontal run.
  const auto add = [&points](double x, double value, bool breakBefore) {
    if (!breakBefore && points.size() >= 2) {
      const PlotPoint& last = points.back();
      const PlotPoint& before = points[points.size() - 2];
      if (!last.breakBefore && last.value == value && before.value == value) {
        points.back().x = x;
        return;
      }
    }
    points.push_back({x, value, breakBefore});
  };
  bool broken = true;
  if (count <= static_cast<std::size_t>(columns)) {
    for (std::size_t i = 0; i < count; ++i) {
      const auto value = finite(series.values[i]);
      if (!value) {
        broken = true;
        continue;
      }
      add(pixelX(series.times[i], durationSeconds, columns), *value, broken);
      add(pixelX(series.times[i] + series.stepSeconds, durationSeconds, columns), *value, false);
      broken = false;
    }
    return points;
  }
  std::size_t i = 0;
  while (i < count) {
    const int column = columnOf(series.times[i], durationSeconds, columns);
    std::optional<double> low;
    std::optional<double> high;
    std::size_t lowAt = 0;
    std::size_t highAt = 0;
    for (; i < count && columnOf(series.times[i], durationSeconds, columns) == column; ++i) {
      const auto value = finite(series.values[i]);
      if (!value) {
        continue;
      }
      if (!low || *value < *low) {
        low = value;
        lowAt = i;
      }
      if (!high || *value > *high) {
        high = value;
        highAt = i;
      }
    }
    if (!low) {
      broken = true;
      continue;
    }
    const double x = column + 0.5;
    if (*low == *high) {
      add(x, *low, broken);
    } else if (lowAt < highAt) {
      add(x, *low, broken);
      add(x, *high, false);
    } else {
      add(x, *high, broken);
      add(x, *low, false);
    }
    broken = false;
  }
  return points;
}

std::vector<CategoryRun> categoryRuns(const std::vector<double>& times,
                                      const std::vector<int>& categories, double stepSeconds,
                                      double durationSeconds, int columns) {
  std::vector<CategoryRun> runs;
  const std::size_t count = std::min(times.size(), categories.size());
  if (count == 0 || !(durationSeconds > 0) || columns <= 0) {
    return runs;
  }
  const auto extend = [&runs](double start, double end, int category) {
    if (category < 0) {
      return;
    }
    if (!runs.empty() && runs.back().category == category && runs.back().endSeconds >= start) {
      runs.back().endSeconds = std::max(runs.back().endSeconds, end);
      return;
    }
    runs.push_back({start, end, category});
  };
  if (count <= static_cast<std::size_t>(columns)) {
    for (std::size_t i = 0; i < count; ++i) {
      extend(times[i], times[i] + stepSeconds, categories[i]);
    }
    return runs;
  }
  const double columnSeconds = durationSeconds / columns;
  std::size_t i = 0;
  std::vector<int> votes;
  while (i < count) {
    const int column = columnOf(times[i], durationSeconds, columns);
    votes.clear();
    for (; i < count && columnOf(times[i], durationSeconds, columns) == column; ++i) {
      if (categories[i] >= 0) {
        if (static_cast<std::size_t>(categories[i]) >= votes.size()) {
          votes.resize(static_cast<std::size_t>(categories[i]) + 1, 0);
        }
        ++votes[static_cast<std::size_t>(categories[i])];
      }
    }
    const auto best = std::max_element(votes.begin(), votes.end());
    if (best != votes.end() && *best > 0) {
      extend(column * columnSeconds, (column + 1) * columnSeconds,
             static_cast<int>(best - votes.begin()));
    }
  }
  return runs;
}

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
      const double x0 = pixelX(band.startSeconds, duration);
      // At least one pixel wide, so a single limited step shows.
      const double width = std::max(1.0, pixelX(band.endSeconds, duration) - x0);
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
