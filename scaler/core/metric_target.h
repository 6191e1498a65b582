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
  // A percentage that is full at 100 (MetricUnit::kPercent): isSaturated().
  bool capped = false;
  bool enabled = false;          // configured and enabled (a target may still be missing)
};

// `slot` must be below slotCount(metrics). Inline: it runs for every slot of
// every decision.
inline MetricTarget metricTarget(const MetricsSpec& metrics, MetricSlot slot) noexcept {
  MetricTarget out;
  out.name = metricName(metrics, slot);
  switch (slot) {
    case MetricSlot::kLatencyP99:
    case MetricSlot::kLatencyP95:
      out.unit = "ms";
      out.targetType = "Value";
      if (metrics.latency) {
        out.enabled = metrics.latency->enabled;
        out.target = slot == MetricSlot::kLatencyP99 ? metrics.latency->targetP99Ms : metrics.latency->targetP95Ms;
      }
      return out;
    case MetricSlot::kGpuUtilization:
      out.unit = "percent";
      out.capped = true;
      out.targetType = "Utilization";
      if (metrics.gpuUtilization) {
        out.enabled = metrics.gpuUtilization->enabled;
        out.target = metrics.gpuUtilization->targetPercentage;
      }
      return out;
    case MetricSlot::kRequestQueueDepth:
      out.unit = "requests";
      out.targetType = "AverageValue";
      out.perReplica = true;
      if (metrics.requestQueueDepth) {
        out.enabled = metrics.requestQueueDepth->enabled;
        out.target = metrics.requestQueueDepth->targetDepth;
      }
      return out;
  }
  const std::size_t index = customIndex(slot);
  if (index >= metrics.custom.size()) {
    return out;
  }
  const CustomMetricSpec& custom = metrics.custom[index];
  out.enabled = true;
  out.target = custom.targetValue;
  out.perReplica = custom.targetType == MetricTargetType::kAverageValue;
  out.targetType = metricTargetTypeName(custom.targetType);
  out.unit = metricUnitName(custom.unit);
  out.capped = custom.unit == MetricUnit::kPercent;
  return out;
}


}  // namespace kubeai::core
