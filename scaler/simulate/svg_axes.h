#pragma once

// The ticks and labels of the simulate report's chart axes (svg_chart.h).

#include <string>
#include <vector>

namespace kubeai::simulate::svg {

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

}  // namespace kubeai::simulate::svg
