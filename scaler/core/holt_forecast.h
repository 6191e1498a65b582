#pragma once

#include <chrono>

#include "core/algorithm_memory.h"

namespace kubeai::core {

// Holt's linear trend (double exponential smoothing) over irregularly spaced
// observations, as Predictive runs it on each metric's demand.
//
//   first observation:   level = y, trend = 0
//   second:              level = y, trend = (y - level) / dt
//   after:               predicted = level + trend * dt
//                        level'    = alpha * y + (1 - alpha) * predicted
//                        trend'    = beta * (level' - level) / dt + (1 - beta) * trend
//   forecast(h)          = max(0, level + trend * h)
//
// Why Holt and not Holt-Winters: a start-up horizon is minutes, and over
// minutes a daily season is a straight line, so the trend carries what the
// season would; Holt-Winters needs two full days before its season means
// anything (most policies run for less between edits, and a restart would need
// a day of state in the status), while Holt is useful from the second
// observation. A linear ramp is forecast exactly from then on, and a constant
// series has no trend at all.
struct HoltParameters {
  double alpha = 0.5;  // level smoothing, per observation
  double beta = 0.2;   // trend smoothing, per observation
  // An observation after a gap longer than this starts the model again: a
  // trend measured before it says nothing about now.
  std::chrono::milliseconds maxGap{10 * 60 * 1000};
};

// Folds observation `y` at `now` into `state` (a fresh state for its first).
// An observation no later than the last one is ignored.
void holtObserve(HoltState& state, double y, std::chrono::system_clock::time_point now,
                 const HoltParameters& parameters);

// The demand `horizon` after the last observation, never below 0.
[[nodiscard]] double holtForecast(const HoltState& state, std::chrono::milliseconds horizon);

}  // namespace kubeai::core
