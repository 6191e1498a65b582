#include "telemetry/metric_series.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "core/metric_target.h"

namespace kubeai::telemetry::detail {
namespace {

// Indexed by core::MetricSlot; the original project's label values.
constexpr std::array<const char*, core::kMetricSlotCount> kMetricTypeNames = {
    "latency_p99", "latency_p95", "gpu_utilization", "request_queue_depth"};

// NaN and Inf are "no data" (DESIGN §3), not a value to export.
double finiteOrNone(const std::optional<double>& value) {
  return value && std::isfinite(*value) ? *value : kNoValue;
}

}  // namespace

DecidedMetrics decidedMetrics(const core::Policy& policy, const core::Decision& decision,
                              const core::Observation& observation) {
  DecidedMetrics out;
  const core::MetricsSpec& metrics = policy.spec.metrics;
  // Validation holds custom[] to kMaxCustomMetrics; the bound holds anyway.
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<core::MetricSlot>(i);
    const core::MetricTarget target = core::metricTarget(metrics, slot);
    if (!target.enabled) continue;
    DecidedMetrics::Entry entry;
    entry.name = target.name;
    entry.slot = static_cast<std::uint8_t>(i);
    entry.value = finiteOrNone(observation.value(slot));
    entry.target = finiteOrNone(target.target);
    entry.ratio = finiteOrNone(decision.ratios[i]);
    if (std::isnan(entry.value) && std::isnan(entry.target) && std::isnan(entry.ratio)) continue;  // no series
    out.entries[out.count++] = entry;
  }
  return out;
}

void assignMetrics(std::vector<MetricSeries>& to, const DecidedMetrics& from) {
  to.resize(from.count);
  for (std::size_t i = 0; i < from.count; ++i) {
    const DecidedMetrics::Entry& entry = from.entries[i];
    MetricSeries& series = to[i];
    series.name.assign(entry.name);
    series.slot = entry.slot;
    series.value = entry.value;
    series.target = entry.target;
    series.ratio = entry.ratio;
  }
}

MetricFamilies::MetricFamilies()
    : legacyValue_(family("kubeai_autoscaler_metric_value",
                          "Last observed metric value (latency in ms, GPU utilization in percent, total queue depth)",
                          prometheus::MetricType::Gauge)),
      legacyTarget_(family("kubeai_autoscaler_metric_target",
                           "Configured metric target (latency in ms, GPU utilization in percent, queue depth per "
                           "replica)",
                           prometheus::MetricType::Gauge)),
      value_(family("kubeai_scaler_policy_metric_value",
                    "Last observed value of each of the policy's metrics, seed and custom, by name (in the metric's "
                    "unit)",
                    prometheus::MetricType::Gauge)),
      target_(family("kubeai_scaler_policy_metric_target",
                     "Target of each of the policy's metrics by name, as the policy states it (per replica for "
                     "AverageValue)",
                     prometheus::MetricType::Gauge)),
      ratio_(family("kubeai_scaler_policy_metric_ratio",
                    "Ratio of each of the policy's metrics by name in its last decision (1 is on target)",
                    prometheus::MetricType::Gauge)) {}

void MetricFamilies::add(const PolicyKey& key, const std::vector<MetricSeries>& metrics) {
  for (const MetricSeries& metric : metrics) {
    if (metric.slot < core::kMetricSlotCount) {
      const char* type = kMetricTypeNames[metric.slot];
      if (!std::isnan(metric.value)) addGauge(legacyValue_, policyLabels(key, "metric_type", type), metric.value);
      if (!std::isnan(metric.target)) addGauge(legacyTarget_, policyLabels(key, "metric_type", type), metric.target);
    }
    if (!std::isnan(metric.value)) addGauge(value_, policyLabels(key, "metric", metric.name), metric.value);
    if (!std::isnan(metric.target)) addGauge(target_, policyLabels(key, "metric", metric.name), metric.target);
    if (!std::isnan(metric.ratio)) addGauge(ratio_, policyLabels(key, "metric", metric.name), metric.ratio);
  }
}

void MetricFamilies::moveInto(std::vector<prometheus::MetricFamily>& families) {
  for (auto* each : {&legacyValue_, &legacyTarget_, &value_, &target_, &ratio_}) {
    families.push_back(std::move(*each));
  }
}

}  // namespace kubeai::telemetry::detail
