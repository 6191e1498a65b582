#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "core/metric_slot.h"

namespace kubeai::core {

// What the metric and replica sources saw for one policy. An empty optional is
// "no data" (no series, NaN, a failed query); it is never read as 0.
struct Observation {
  std::int32_t currentReplicas = 0;
  std::optional<double> latencyP99Ms;
  std::optional<double> latencyP95Ms;
  std::optional<double> gpuUtilizationPercent;
  std::optional<double> requestQueueDepth;  // total across replicas
  // spec.metrics.custom[i]'s value, in the unit its query returns.
  std::array<std::optional<double>, kMaxCustomMetrics> custom{};
  // The target's ready replicas (status.readyReplicas), when the source knows
  // them: while fewer than currentReplicas, the rest are still starting. Last,
  // so that positional initialisers of the fields above keep their meaning.
  std::optional<std::int32_t> readyReplicas{};

  // The value of any slot (seed or custom).
  [[nodiscard]] std::optional<double> value(MetricSlot slot) const noexcept {
    switch (slot) {
      case MetricSlot::kLatencyP99: return latencyP99Ms;
      case MetricSlot::kLatencyP95: return latencyP95Ms;
      case MetricSlot::kGpuUtilization: return gpuUtilizationPercent;
      case MetricSlot::kRequestQueueDepth: return requestQueueDepth;
    }
    const std::size_t index = customIndex(slot);
    return index < custom.size() ? custom[index] : std::nullopt;
  }
};

}  // namespace kubeai::core
