#pragma once

#include <cstdint>
#include <optional>

namespace kubeai::core {

// What the metric and replica sources saw for one policy. An empty optional is
// "no data" (no series, NaN, a failed query); it is never read as 0.
struct Observation {
  std::int32_t currentReplicas = 0;
  std::optional<double> latencyP99Ms;
  std::optional<double> latencyP95Ms;
  std::optional<double> gpuUtilizationPercent;
  std::optional<double> requestQueueDepth;  // total across replicas
};

}  // namespace kubeai::core
