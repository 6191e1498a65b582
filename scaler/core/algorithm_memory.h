#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/metric_slot.h"

namespace kubeai::core {

// What the built-ins that look through time keep about one policy between
// decisions. It lives in the policy's History, so serve, simulate and the
// tests run the same state through the same pure code, and a restart seeds it
// like the rest of the history.

// Holt's linear trend for one metric's demand, in replicas' worth (see
// holt_forecast.h).
struct HoltState {
  MetricSlot slot = MetricSlot::kLatencyP99;
  double level = 0.0;
  double trendPerSecond = 0.0;
  std::chrono::system_clock::time_point at{};  // the observation last folded in
  std::int32_t observations = 0;               // 1: a level, no trend yet
  // The current replicas at that observation (kept in memory only): a change
  // the demand cannot see past moves the level, never the trend.
  std::int32_t replicas = -1;
  // The metric's target at that observation (not in the status: a seed
  // takes it from the spec the status was written for; 0: unknown): an edit
  // of it restarts the model.
  double target = 0.0;
  // Which metric the slot held at that observation: metricIdentity() (not in
  // the status either: a seed takes it from the spec, by the model's name;
  // 0: unknown). A custom metric renamed is another metric, and restarts the
  // model; one moved to another slot by an edit of the list takes its model
  // along (followMetrics()).
  std::uint64_t metric = 0;
};

struct DemandSample {
  std::chrono::system_clock::time_point at{};
  double replicas = 0.0;  // demand in replicas' worth
};

// Knative's panic mode, as Burst keeps it.
struct BurstState {
  std::vector<DemandSample> samples;  // within the stable window, oldest first
  std::optional<std::chrono::system_clock::time_point> panicSince;   // this panic began
  std::optional<std::chrono::system_clock::time_point> lastOverAt;   // last over the threshold
  std::int32_t maxPanicReplicas = 0;  // the most asked for during this panic
};

struct AlgorithmMemory {
  std::vector<HoltState> forecasts;  // Predictive: one per metric seen
  BurstState burst;
};

}  // namespace kubeai::core
