#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/history.h"

namespace kubeai::core {

// How long replicas take to become ready after a scale-up, measured from the
// observations alone: a rise of the current (requested) replicas starts a
// clock, and the first observation with that many ready replicas stops it.
// Predictive's horizon defaults to it, in serve and in simulate alike.
//
// `tracking` keeps the clocks still running and the last few samples. A fall
// of the requested replicas below a clock's count cancels that clock (the
// scale-up was undone before it could finish); without ready replicas there
// is nothing to measure and nothing changes.
void observeStartup(StartupTracking& tracking, std::int32_t currentReplicas, std::optional<std::int32_t> readyReplicas,
                    TimePoint now);

// The longest start-up time measured: Predictive's horizonSeconds bound.
inline constexpr std::chrono::milliseconds kMaxMeasuredStartup{3'600'000};

// The median of the samples kept, at most kMaxMeasuredStartup, or nullopt
// before the first. A clock running for more than 30 minutes is dropped.
[[nodiscard]] std::optional<std::chrono::milliseconds> measuredStartup(const StartupTracking& tracking);

}  // namespace kubeai::core
