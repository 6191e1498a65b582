#pragma once

#include <optional>
#include <string_view>

#include "core/metric_slot.h"
#include "core/policy.h"

namespace kubeai::core {

// What a policy asks of one of its slots, for every metric alike (seed or
// custom): the pipeline's ratios, ABI 1.1's metric details, status, /metrics
// and the decision's log line all read it from here.
struct MetricTarget {
  std::string_view name;        // metricName(): "latencyP99", "kvCache"
  std::string_view unit;        // "ms", "percent", "requests"; "" for a query of the user's
  std::string_view targetType;  // "Value", "Utilization", "AverageValue"
  std::optional<double> target;  // in `unit`; per replica when perReplica
  bool perReplica = false;       // ratio = value / (target x max(current, 1))
  bool enabled = false;          // configured and enabled (a target may still be missing)
};

// `slot` must be below slotCount(metrics).
MetricTarget metricTarget(const MetricsSpec& metrics, MetricSlot slot) noexcept;

}  // namespace kubeai::core
