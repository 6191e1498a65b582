#pragma once

// What the per-policy families share when they are built at scrape time from
// plain values (policy_series, metric_series): the policy's key and labels,
// and samples added to a prometheus::MetricFamily. Source-only: the public
// header (telemetry.h) forward-declares prometheus-cpp.

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <compare>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace kubeai::telemetry::detail {

// No series: NaN is never a value here, since non-finite input is "no data".
inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct PolicyKey {
  std::string ns;
  std::string name;
  auto operator<=>(const PolicyKey&) const = default;
};

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type);

// The policy's labels plus one more, sorted by name as prometheus-cpp sorts them.
std::vector<prometheus::ClientMetric::Label> policyLabels(const PolicyKey& key, const char* extraName = nullptr,
                                                          std::string_view extraValue = {});

void addCounter(prometheus::MetricFamily& to, std::vector<prometheus::ClientMetric::Label> labels, double value);
void addGauge(prometheus::MetricFamily& to, std::vector<prometheus::ClientMetric::Label> labels, double value);

}  // namespace kubeai::telemetry::detail
