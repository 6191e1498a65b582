#pragma once

// From a chart's steps to what one pixel column can show (svg_chart.h): the
// vertices of a series' line, and the bands of a lane.

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace kubeai::simulate::svg {

struct Series;  // svg_chart.h

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

namespace detail {

// A value that can be drawn: nullopt when missing or not finite.
inline std::optional<double> finite(const std::optional<double>& value) {
  if (value && std::isfinite(*value)) {
    return value;
  }
  return std::nullopt;
}

// The x of `seconds` in a plot `width` pixels wide spanning [0, durationSeconds].
inline double pixelX(double seconds, double durationSeconds, int width) {
  return std::clamp(seconds / durationSeconds, 0.0, 1.0) * width;
}

}  // namespace detail

}  // namespace kubeai::simulate::svg
