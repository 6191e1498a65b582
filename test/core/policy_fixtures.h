#pragma once

#include <chrono>

#include "core/history.h"
#include "core/policy.h"

namespace kubeai::core::testing {

// A valid policy with GPU (target 80 %) and both latencies (P99 500 ms,
// P95 300 ms) enabled, min 1, max 10, no cooldown; tests change what they need.
inline Policy makePolicy() {
  Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "default";
  policy.spec.targetRef = TargetRef{"apps/v1", "Deployment", "chat-server"};
  policy.spec.minReplicas = 1;
  policy.spec.maxReplicas = 10;
  policy.spec.cooldownPeriod = 0;
  policy.spec.metrics.gpuUtilization = GpuUtilizationMetricSpec{true, 80.0, ""};
  policy.spec.metrics.latency = LatencyMetricSpec{true, 500.0, 300.0, ""};
  policy.spec.metrics.requestQueueDepth = RequestQueueDepthMetricSpec{true, 10.0, ""};
  return policy;
}

inline TimePoint at(int seconds) { return TimePoint{} + std::chrono::hours(24 * 365 * 50) + std::chrono::seconds(seconds); }

}  // namespace kubeai::core::testing
