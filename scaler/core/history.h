#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace kubeai::core {

// Wall-clock time, passed into the pipeline (it never reads a clock itself).
using TimePoint = std::chrono::system_clock::time_point;

struct TimedReplicas {
  TimePoint at;
  std::int32_t replicas = 0;
};

// What behaviour (stabilization, rate policies, cooldown) remembers about one
// policy between decisions. decide() takes one and returns the next; an empty
// History is a policy seen for the first time (or `evaluate`, which has none).
//
// The behaviour stages govern the published series: stabilization and rate
// policies work from the value last published, and a policy period starts with
// the value published at that time.
struct History {
  std::optional<std::int32_t> published;        // the value last published; nullopt before the first decision
  std::optional<TimePoint> lastChangeAt;        // when `published` last changed (cooldown, status.lastScaleTime)
  std::int32_t publishedBeforeChanges = 0;      // the published value before changes.front()
  std::vector<TimedReplicas> changes;           // published changes within the longest rate-policy period
  std::vector<TimedReplicas> recommendations;   // raw recommendations within the longest stabilization window

  // The published value at time `at`: the last change at or before it, else
  // the value before all recorded changes.
  [[nodiscard]] std::int32_t publishedAt(TimePoint at) const;
};

}  // namespace kubeai::core
