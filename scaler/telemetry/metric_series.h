#pragma once

// A policy's metric series on /metrics, seed and custom alike, from one store:
//   kubeai_scaler_policy_metric_value{namespace,policy,metric}   the value read
//   kubeai_scaler_policy_metric_target{namespace,policy,metric}  the target as the policy states it
//   kubeai_scaler_policy_metric_ratio{namespace,policy,metric}   what the decision weighed
// with `metric` the metric's name (core::metricName: latencyP99, kvCache), and
// the original project's kubeai_autoscaler_metric_value / _target{metric_type}
// for the seed four (latency_p99, ...), so its dashboards keep working.
// Source-only (telemetry.cc, policy_series.cc).

#include <prometheus/metric_family.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/decision.h"
#include "core/metric_slot.h"
#include "core/observation.h"
#include "core/policy.h"
#include "telemetry/exposition.h"

namespace kubeai::telemetry::detail {

// One metric of a policy as last exported; kNoValue: that series is absent.
// Only metrics with at least one series are kept, so a policy holds at most
// core::kMaxMetricSlots of them (about 64 bytes each).
struct MetricSeries {
  std::string name;
  std::uint8_t slot = 0;  // core::MetricSlot: the seed four also feed the metric_type families
  double value = kNoValue;
  double target = kNoValue;
  double ratio = kNoValue;
};

// What one decision leaves of a policy's metrics, worked out before the
// collector's lock is taken; the names view the policy, so use it within the call.
struct DecidedMetrics {
  struct Entry {
    std::string_view name;
    std::uint8_t slot = 0;
    double value = kNoValue;
    double target = kNoValue;
    double ratio = kNoValue;
  };
  std::array<Entry, core::kMaxMetricSlots> entries{};
  std::size_t count = 0;
};

// Every slot of the policy (at most core::kMaxMetricSlots): the value while
// the metric is enabled and has data, its target while it is enabled and has
// one, the decision's ratio while it has one (only finite numbers). A metric
// the policy dropped, disabled or never had is not there.
DecidedMetrics decidedMetrics(const core::Policy& policy, const core::Decision& decision,
                              const core::Observation& observation);

// Makes `to` what `from` says, reusing its storage: no allocation per decision
// once a policy's metrics are known.
void assignMetrics(std::vector<MetricSeries>& to, const DecidedMetrics& from);

// The five families, filled policy by policy at scrape time.
class MetricFamilies {
 public:
  MetricFamilies();
  void add(const PolicyKey& key, const std::vector<MetricSeries>& metrics);
  // Appends the families (empty ones too: a family with no series shows only its HELP and TYPE).
  void moveInto(std::vector<prometheus::MetricFamily>& families);

 private:
  prometheus::MetricFamily legacyValue_;
  prometheus::MetricFamily legacyTarget_;
  prometheus::MetricFamily value_;
  prometheus::MetricFamily target_;
  prometheus::MetricFamily ratio_;
};

}  // namespace kubeai::telemetry::detail
