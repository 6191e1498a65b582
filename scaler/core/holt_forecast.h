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
  // An observation after a gap longer than this starts the model again from
  // it: a trend measured before the gap says nothing about now, and projected
  // across it would ask for the load of a ramp that may have ended.
  std::chrono::milliseconds maxGap{2 * 60 * 1000};
  // An observation sooner than this after the last (a cycle triggered by an
  // edit, milliseconds after a timed one) moves the level only: a trend over
  // so short a time is noise divided by almost nothing.
  std::chrono::milliseconds minSpacing{5 * 1000};
};

// How `y` is to be folded in.
enum class HoltUpdate {
  kFull,       // level and trend
  kLevelOnly,  // the level only: `y` jumped for a reason that is not load (our own scale-up, unseen)
};

// Folds observation `y` at `now` into `state` (a fresh state for its first).
// An observation at the same time as the last is ignored; one more than a
// second before it (a clock set back) starts the model again. A level or
// trend that is not finite starts it again too.
void holtObserve(HoltState& state, double y, std::chrono::system_clock::time_point now,
                 const HoltParameters& parameters, HoltUpdate update = HoltUpdate::kFull);

// The demand `horizon` after the last observation, never below 0.
[[nodiscard]] double holtForecast(const HoltState& state, std::chrono::milliseconds horizon);

}  // namespace kubeai::core
