#pragma once

// A small SVG chart writer for the simulate report (html_report.cc).
//
// Why our own: Debian 12's C++ plotting libraries do not fit a report that
// must be one deterministic, self-contained file written from a library call.
// PLplot (libplplot-dev) and GNU plotutils (libplot-dev, last release 2009)
// draw through device drivers into files with global stream state and bring
// their own runtime packages into the scaler image; gnuplot-iostream and
// sciplot run an external gnuplot process; giza, MAGICS++ and Qt's widgets
// draw through Cairo/Qt toolkits. The JavaScript charting libraries would have
// to be embedded in the page. What the report needs is a few hundred lines:
// step lines, a filled area, reference lines, bands, ticks and downsampling.
//
// Everything here is deterministic: numbers are written with std::to_chars in
// a fixed precision (no locale, no "-0"), and nothing reads a clock.

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace kubeai::simulate::svg {

// `value` with `decimals` digits after the point, locale-free; "n/a" when not
// finite. Never "-0".
std::string formatFixed(double value, int decimals);

// Text for HTML and SVG (element content and attribute values).
std::string escapeText(std::string_view text);

// Tick values from 0 or `low` up to at least `high`, steps of 1, 2 or 5 x 10^k,
// about `target` of them. `integral`: the step is at least 1.
std::vector<double> niceTicks(double low, double high, int target, bool integral);

// The number of digits after the point that tick labels for `ticks` need.
int tickDecimals(const std::vector<double>& ticks);

struct TimeTick {
  double seconds = 0;
  std::string label;  // "0", "15m", "1h 30m", "2d 6h"
};

// Readable time-axis ticks over [0, duration] seconds: a step of 1, 2, 5, 10,
// 15 or 30 minutes, or 1, 2, 3, 6 or 12 hours, or whole days, at most ~10 ticks.
std::vector<TimeTick> timeTicks(double durationSeconds);

// A label for `seconds` from the start ("45m", "1h 15m", "1d 2h").
std::string timeLabel(double seconds);

// One step series: value i holds over [times[i], times[i] + stepSeconds).
// nullopt or a non-finite value: no data, the line breaks.
struct Series {
  std::string color;  // "#rrggbb"
  std::vector<double> times;
  std::vector<std::optional<double>> values;
  double stepSeconds = 0;
  bool dashed = false;
  bool area = false;        // filled down to zero instead of a line
  bool rightAxis = false;   // on the right-hand y axis
};

struct ReferenceLine {
  double value = 0;
  std::string color;
  std::string label;  // drawn at the right end, inside the plot
};

struct Axis {
  std::string title;
  bool integral = false;  // replicas: integer ticks
  // Values above `clipAt` are drawn at the top edge (latency during a backlog
  // would flatten everything else); nullopt: the axis fits the data.
  std::optional<double> clipAt;
};

struct LineChart {
  std::string id;        // the svg element's id
  std::string ariaLabel;
  double durationSeconds = 0;  // the time axis runs over [0, durationSeconds]
  Axis left;
  std::optional<Axis> right;
  std::vector<Series> series;
  std::vector<ReferenceLine> references;
};

// A lane of colored intervals (where limits acted, per policy).
struct Band {
  double startSeconds = 0;
  double endSeconds = 0;
  std::string color;
  std::string title;  // the tooltip
};

struct Lane {
  std::string label;
  std::vector<Band> bands;
};

struct LaneChart {
  std::string id;
  std::string ariaLabel;
  double durationSeconds = 0;
  std::vector<Lane> lanes;
};

// The plot's geometry, shared by both kinds of chart (and the browser test).
inline constexpr int kWidth = 1240;
inline constexpr int kPlotLeft = 80;
inline constexpr int kPlotWidth = 1080;  // one downsampling column per pixel
inline constexpr int kPlotTop = 16;
inline constexpr int kLineChartPlotHeight = 300;
inline constexpr int kLaneHeight = 28;
// The plot frame's color: drawn nowhere else, so the browser test finds each
// chart's plot area by it.
inline constexpr std::string_view kFrameColor = "#8c8c8c";

// Writes `chart` as one <svg> element. Returns whether values were clipped
// at the left axis's clipAt (the caption then says so).
bool writeLineChart(std::ostream& out, const LineChart& chart);
void writeLaneChart(std::ostream& out, const LaneChart& chart);

// The vertices of a step series' line over `columns` pixel columns spanning
// [0, durationSeconds]. While the series has no more steps than columns it is
// kept exactly, as steps; otherwise each column keeps the minimum and the
// maximum of the steps that start in it, in the order they occurred, so every
// peak and trough stays visible. A step (or column) with no data breaks the
// line. Vertices in the middle of a horizontal run are dropped.
struct PlotPoint {
  double x = 0;  // pixels from the plot's left edge
  double value = 0;
  bool breakBefore = false;  // the line restarts here (after a gap)
};
std::vector<PlotPoint> downsample(const Series& series, double durationSeconds, int columns);

// Bands from a per-step category (-1: none): consecutive steps of one
// category merge; beyond `columns` steps, each pixel column shows the
// category that acted in most of its steps (ties: the lower category), so
// short limits stay visible.
struct CategoryRun {
  double startSeconds = 0;
  double endSeconds = 0;
  int category = -1;
};
std::vector<CategoryRun> categoryRuns(const std::vector<double>& times,
                                      const std::vector<int>& categories, double stepSeconds,
                                      double durationSeconds, int columns);

}  // namespace kubeai::simulate::svg
