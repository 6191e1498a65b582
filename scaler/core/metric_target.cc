#include "core/metric_target.h"

#include "core/engine_presets.h"

namespace kubeai::core {

MetricTarget metricTarget(const MetricsSpec& metrics, MetricSlot slot) noexcept {
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
  return out;
}

}  // namespace kubeai::core
