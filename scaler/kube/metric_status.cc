// status.metrics: every metric a policy uses, by name, with its value, target
// and ratio (policy_status.h); built from a decision and compared as written.
#include <algorithm>
#include <cmath>

#include "core/metric_target.h"
#include "kube/policy_status.h"

namespace kubeai::kube {
namespace {

// As written: two decimals, and no number JSON cannot hold.
std::optional<double> writable(const std::optional<double>& value) {
  if (!value || !std::isfinite(detail::roundedToCents(*value))) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> rounded(const std::optional<double>& value) {
  return value ? std::optional<double>(detail::roundedToCents(*value)) : std::nullopt;
}

}  // namespace

std::vector<MetricStatus> metricStatuses(const core::MetricsSpec& metrics, const core::Decision& decision) {
  std::vector<MetricStatus> out;
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < slots; ++i) {
    const core::MetricTarget target = core::metricTarget(metrics, static_cast<core::MetricSlot>(i));
    // The decision's own rule for a slot it can use (computeRatios): enabled, a target > 0.
    if (!target.enabled || !target.target || !(*target.target > 0.0) ||
        !std::isfinite(detail::roundedToCents(*target.target))) {
      continue;
    }
    out.push_back(MetricStatus{std::string(target.name), writable(decision.values[i]), *target.target,
                               std::string(target.targetType), std::string(target.unit),
                               writable(decision.ratios[i])});
  }
  return out;
}

StatusChange detail::compareMetricStatuses(const std::optional<std::vector<MetricStatus>>& written,
                                           const std::optional<std::vector<MetricStatus>>& built) {
  if (written.has_value() != built.has_value()) {
    return StatusChange::kSignificant;
  }
  if (!built) {
    return StatusChange::kNone;
  }
  if (written->size() != built->size()) {
    return StatusChange::kSignificant;  // a metric appeared or went away
  }
  bool moved = false;
  for (std::size_t i = 0; i < built->size(); ++i) {
    const MetricStatus& was = (*written)[i];
    const MetricStatus& is = (*built)[i];
    // What follows the spec, not the load: a difference is a status no longer true of the policy.
    if (was.name != is.name || was.targetType != is.targetType || was.unit != is.unit ||
        roundedToCents(was.target) != roundedToCents(is.target)) {
      return StatusChange::kSignificant;
    }
    // As for currentMetrics and decidedRatio: data arriving or going is more than noise.
    if (was.value.has_value() != is.value.has_value() || was.ratio.has_value() != is.ratio.has_value()) {
      return StatusChange::kSignificant;
    }
    moved = moved || rounded(was.value) != rounded(is.value) || rounded(was.ratio) != rounded(is.ratio);
  }
  return moved ? StatusChange::kMetricsOnly : StatusChange::kNone;
}

}  // namespace kubeai::kube
