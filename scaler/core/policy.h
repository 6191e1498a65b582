#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.h"
#include "core/engine_presets.h"
#include "core/metric_slot.h"

namespace kubeai::core {

// The AIInferenceAutoscalerPolicy (kubeai.io/v1alpha1) as the pipeline sees it.
// Optional fields keep "omitted" apart from an explicit value (minReplicas: 0
// means scale to zero, an omitted one means 1); the defaults of DESIGN §2 are
// applied by the effective*() accessors, never by overwriting what was written.

inline constexpr std::int32_t kDefaultMinReplicas = 1;
inline constexpr std::int32_t kDefaultCooldownSeconds = 300;
inline constexpr double kDefaultTolerance = 0.1;
inline constexpr const char* kDefaultAlgorithm = "MaxRatio";
inline constexpr const char* kDefaultNamespace = "default";

struct TargetRef {
  std::string apiVersion = "apps/v1";
  std::string kind;  // Deployment | StatefulSet
  std::string name;

  bool operator==(const TargetRef&) const = default;
};

struct LatencyMetricSpec {
  bool enabled = true;
  std::optional<double> targetP99Ms;
  std::optional<double> targetP95Ms;
  std::string prometheusQuery;
  bool treatEmptyAsZero = false;  // an empty query result (no series) is 0, not no data

  bool operator==(const LatencyMetricSpec&) const = default;
};

struct GpuUtilizationMetricSpec {
  bool enabled = true;
  std::optional<double> targetPercentage;  // 1..100
  std::string prometheusQuery;
  bool treatEmptyAsZero = false;  // an empty query result (no series) is 0, not no data

  bool operator==(const GpuUtilizationMetricSpec&) const = default;
};

struct RequestQueueDepthMetricSpec {
  bool enabled = false;
  std::optional<double> targetDepth;  // per replica
  std::string prometheusQuery;
  bool treatEmptyAsZero = false;  // an empty query result (no series) is 0, not no data

  bool operator==(const RequestQueueDepthMetricSpec&) const = default;
};

// The HPA's external-metric target types: Value compares the value itself
// (ratio = value / target), AverageValue the value per replica
// (ratio = value / (target x max(current, 1))).
enum class MetricTargetType { kValue, kAverageValue };

// "Value", "AverageValue".
inline std::string_view metricTargetTypeName(MetricTargetType type) noexcept {
  return type == MetricTargetType::kAverageValue ? "AverageValue" : "Value";
}

// spec.metrics.custom[]: a named metric from the policy's own query or from an
// engine preset (core/engine_presets.h).
struct CustomMetricSpec {
  std::string name;             // camelCase, unique in the policy, not a seed name
  std::string prometheusQuery;  // exclusive with engine + signal
  std::string engine;
  std::string signal;
  MetricTargetType targetType = MetricTargetType::kValue;
  double targetValue = 0.0;
  // The unit engine + signal's preset returns, set by the parser (kNone for a
  // query of the user's): kept here so that a decision never looks it up.
  MetricUnit unit = MetricUnit::kNone;
  double weight = 1.0;            // WeightedRatio's weight for this metric
  bool treatEmptyAsZero = false;  // an empty query result (no series) is 0, not no data

  bool operator==(const CustomMetricSpec&) const = default;
};

// A metric block left out of the policy is not configured at all.
struct MetricsSpec {
  std::optional<LatencyMetricSpec> latency;
  std::optional<GpuUtilizationMetricSpec> gpuUtilization;
  std::optional<RequestQueueDepthMetricSpec> requestQueueDepth;
  // spec.metrics.engine: the seed four's default queries from this engine's
  // metric names; empty keeps the seed's defaults.
  std::string engine;
  std::vector<CustomMetricSpec> custom;  // at most kMaxCustomMetrics, slots 4 + i

  bool operator==(const MetricsSpec&) const = default;
};

// The name of a slot as status, logs, /metrics and the metrics file spell it:
// the seed's (latencyP99...) or the custom metric's own. `slot` must be one of
// the policy's (a custom slot below 4 + custom.size()).
inline std::string_view metricName(const MetricsSpec& metrics, MetricSlot slot) noexcept {
  if (!isCustomSlot(slot)) {
    return metricSlotName(slot);
  }
  const std::size_t index = customIndex(slot);
  return index < metrics.custom.size() ? std::string_view(metrics.custom[index].name) : std::string_view("unknown");
}

// How many slots the policy has: the seed four and its custom metrics.
inline std::size_t slotCount(const MetricsSpec& metrics) noexcept {
  return kMetricSlotCount + metrics.custom.size();
}

struct AlgorithmSpec {
  std::string name = kDefaultAlgorithm;
  double tolerance = kDefaultTolerance;
  std::vector<double> weights;  // indexed by MetricSlot; missing entries weigh 1.0
  AlgorithmParameters parameters;

  bool operator==(const AlgorithmSpec&) const = default;
};

enum class ScalingPolicyType { kPods, kPercent };

struct ScalingPolicy {
  ScalingPolicyType type = ScalingPolicyType::kPods;
  std::int32_t value = 0;
  std::int32_t periodSeconds = 0;

  bool operator==(const ScalingPolicy&) const = default;
};

enum class SelectPolicy { kMax, kMin, kDisabled };

// spec.scaleUp / spec.scaleDown, with HPA semantics.
struct ScalingRules {
  std::int32_t stabilizationWindowSeconds = 0;
  std::vector<ScalingPolicy> policies;  // none = no rate limit
  SelectPolicy selectPolicy = SelectPolicy::kMax;

  bool operator==(const ScalingRules&) const = default;
};

struct PolicySpec {
  TargetRef targetRef;
  std::optional<std::int32_t> minReplicas;
  std::int32_t maxReplicas = 0;
  std::optional<std::int32_t> cooldownPeriod;  // seconds
  MetricsSpec metrics;
  AlgorithmSpec algorithm;
  std::optional<ScalingRules> scaleUp;
  std::optional<ScalingRules> scaleDown;
  // spec.startupAware (extension, default true): while replicas are still
  // starting, the ratios of per-pod metrics count the ready replicas only, and
  // the replicas on their way count as capacity (no stacked scale-ups).
  std::optional<bool> startupAware;

  [[nodiscard]] bool effectiveStartupAware() const { return startupAware.value_or(true); }
  [[nodiscard]] std::int32_t effectiveMinReplicas() const { return minReplicas.value_or(kDefaultMinReplicas); }
  [[nodiscard]] std::int32_t effectiveCooldownSeconds() const {
    return cooldownPeriod.value_or(kDefaultCooldownSeconds);
  }

  bool operator==(const PolicySpec&) const = default;
};

struct PolicyMetadata {
  std::string name;
  std::string namespace_ = kDefaultNamespace;
  std::int64_t generation = 0;
  std::string resourceVersion;
  std::string uid;
};

struct Policy {
  PolicyMetadata metadata;
  PolicySpec spec;

  // "<namespace>/<name>", the key of the metrics file and of plugin state.
  [[nodiscard]] std::string key() const { return metadata.namespace_ + "/" + metadata.name; }
};

// The same policy for an evaluation: everything equal but
// metadata.resourceVersion, which a status write alone changes.
[[nodiscard]] inline bool sameButResourceVersion(const Policy& a, const Policy& b) {
  return a.metadata.name == b.metadata.name && a.metadata.namespace_ == b.metadata.namespace_ &&
         a.metadata.generation == b.metadata.generation && a.metadata.uid == b.metadata.uid && a.spec == b.spec;
}

// The policy ns/name in `set`, which is sorted by namespace, then name (as both
// policy sources hand it); nullptr when absent. O(log n).
[[nodiscard]] const Policy* findInSortedSet(const std::vector<Policy>& set, const std::string& ns,
                                            const std::string& name);

// A policy shared by its holders (the watcher, the evaluation loop, the
// metric read, the status bridge): an edit replaces one pointer, never copies
// the others. Never null in a PolicyList.
using SharedPolicy = std::shared_ptr<const Policy>;
// Policies sorted by namespace, then name, as both policy sources hand them.
using PolicyList = std::vector<SharedPolicy>;

// The same over a PolicyList. O(log n).
[[nodiscard]] const Policy* findInSortedSet(const PolicyList& set, const std::string& ns, const std::string& name);

}  // namespace kubeai::core
