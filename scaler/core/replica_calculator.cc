#include "core/replica_calculator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "core/metric_target.h"

namespace kubeai::core {
namespace {

constexpr double kIntegerSlack = 1e-9;

}  // namespace

SlotRatios computeRatios(const PolicySpec& spec, const Observation& observation) {
  SlotRatios ratios{};
  const std::size_t slots = std::min(slotCount(spec.metrics), kMaxMetricSlots);
  const double replicas = std::max(observation.currentReplicas, 1);
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<MetricSlot>(i);
    const MetricTarget target = metricTarget(spec.metrics, slot);
    if (target.enabled) {
      ratios.set(i, metricRatio(observation.value(slot), target.target, target.perReplica ? replicas : 1.0));
    }
  }
  return ratios;
}

SlotValues observedValues(const PolicySpec& spec, const Observation& observation) {
  SlotValues values{};
  const std::size_t slots = std::min(slotCount(spec.metrics), kMaxMetricSlots);
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<MetricSlot>(i);
    if (metricTarget(spec.metrics, slot).enabled) {
      values.set(i, observation.value(slot));
    }
  }
  return values;
}

bool withinTolerance(double ratio, double tolerance) {
  const double lower = 1.0 - tolerance;
  const double upper = 1.0 + tolerance;
  return ratio >= lower - kIntegerSlack && ratio <= upper + kIntegerSlack;
}

std::int32_t ceilReplicas(double value) {
  constexpr auto kMax = static_cast<double>(std::numeric_limits<std::int32_t>::max());
  if (!(value > 0.0)) {
    return 0;
  }
  if (value >= kMax) {
    return std::numeric_limits<std::int32_t>::max();
  }
  const double nearest = std::round(value);
  const double rounded = std::fabs(value - nearest) <= kIntegerSlack ? nearest : std::ceil(value);
  return static_cast<std::int32_t>(rounded);
}

RatioScaling scaleByRatio(std::int32_t currentReplicas, double ratio, double tolerance) {
  // A NaN ratio says nothing about load; never let it read as "scale to 0".
  if (std::isnan(ratio)) {
    return {currentReplicas, true};
  }
  if (currentReplicas > 0 && withinTolerance(ratio, tolerance)) {
    return {currentReplicas, true};
  }
  const double base = std::max(currentReplicas, 1);
  return {ceilReplicas(base * ratio), false};
}

}  // namespace kubeai::core
