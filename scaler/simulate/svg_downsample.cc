#include "simulate/svg_downsample.h"

#include <cstddef>

#include "simulate/svg_chart.h"

namespace kubeai::simulate::svg {
namespace {

using detail::finite;
using detail::pixelX;

int columnOf(double seconds, double durationSeconds, int columns) {
  const double position = seconds / durationSeconds * columns;
  if (!(position >= 0)) {  // also NaN
    return 0;
  }
  return static_cast<int>(std::min(std::floor(position), static_cast<double>(columns - 1)));
}

}  // namespace

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

}  // namespace kubeai::simulate::svg
