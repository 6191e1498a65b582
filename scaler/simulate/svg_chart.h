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

// What the charts are drawn with, and html_report.cc uses too: the axes' ticks
// and labels, the downsampling to pixel columns, numbers and escaped text.
#include "simulate/svg_axes.h"
#include "simulate/svg_downsample.h"
#include "simulate/svg_text.h"

namespace kubeai::simulate::svg {

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

}  // namespace kubeai::simulate::svg
