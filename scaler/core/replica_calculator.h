#pragma once

#include <cmath>
#include <cstdint>
#include <optional>

#include "core/metric_slot.h"
#include "core/observation.h"
#include "core/policy.h"

namespace kubeai::core {

// The maths of DESIGN §3, apart from any machinery (after Kubernetes'
// replica_calculator.go).

// current/target for each slot, the seed four and the custom metrics. A slot
// is present when its metric is configured and enabled, has a target > 0 and
// has a finite, non-negative value. Queue depth and AverageValue metrics are
// totals with a target per replica: ratio = value / (target * max(current, 1)).
// value / (target * targetScale) when the value is finite and >= 0 and the
// target finite and > 0; nullopt (no data) otherwise.
inline std::optional<double> metricRatio(const std::optional<double>& value, const std::optional<double>& target,
                                         double targetScale) {
  if (!value || !std::isfinite(*value) || *value < 0.0 || !target || !std::isfinite(*target) || !(*target > 0.0)) {
    return std::nullopt;
  }
  const double ratio = *value / (*target * targetScale);
  if (!std::isfinite(ratio)) {
    return std::nullopt;
  }
  return ratio;
}

SlotRatios computeRatios(const PolicySpec& spec, const Observation& observation);

// A percentage that is full at 100 (`capped`: GPU utilization, a KV cache) is
// saturated at 100 % or more: it shows that the pods are full, never how much
// more is asked of them, so its ratio is only a lower bound of the load.
// Start-up awareness leaves it whole; Burst reads it as over its panic
// threshold. A percentage of capacity (llm-d's pool saturation) is not capped:
// at 150 % it still says the load is 1.5 times what the ready pods carry.
inline bool isSaturated(bool capped, double value) noexcept { return capped && value >= 100.0; }

// 1 - tolerance <= ratio <= 1 + tolerance, inclusive at both ends as a user
// reads them: 72 % and 88 % against 80 % with tolerance 0.1 both hold, which a
// plain fabs(ratio - 1) <= tolerance gets wrong in floating point.
// What was read for each of the policy's enabled slots (the seed four and the
// custom metrics), present or not: status and /metrics show it beside the ratio.
SlotValues observedValues(const PolicySpec& spec, const Observation& observation);

bool withinTolerance(double ratio, double tolerance);

// ceil(value) where a value within 1e-9 of an integer counts as that integer,
// so 3 * (1.1 / 1.1 ...) rounding noise does not add a replica. Saturates to
// [0, INT32_MAX]; NaN gives 0.
std::int32_t ceilReplicas(double value);

struct RatioScaling {
  std::int32_t replicas = 0;
  bool held = false;  // within tolerance: the current replicas are kept
};

// The built-ins' rule: hold within tolerance, else ceil(max(current, 1) * ratio).
// At zero replicas there is nothing to hold: any load (ratio > 0) asks for at
// least one replica, so a queue waiting on a scaled-to-zero workload wakes it.
RatioScaling scaleByRatio(std::int32_t currentReplicas, double ratio, double tolerance);

}  // namespace kubeai::core
