#pragma once

#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "core/policy.h"
#include "core/result.h"
#include "source/metric_source.h"
#include "source/prometheus/client/query_transport.h"
#include "source/prometheus/query_template.h"

namespace kubeai::source::prometheus {

struct PrometheusSourceOptions {
  QueryOptions queries;
  // Told once per distinct Prometheus warning, with the query that first
  // raised it; empty = spdlog's default logger at warn level.
  std::function<void(const std::string& query, const std::string& warning)> onWarning;
  // serve --prometheus-tenant-from-namespace: each policy's queries are sent
  // as its namespace's (X-Scope-OrgID, QueryTransport::tenantQueries), one
  // HTTP query per distinct expression and tenant; except the replicas and
  // ready-replicas queries (kube-state-metrics, the platform's tenant), sent
  // with no tenant header.
  bool tenantFromNamespace{};
};

// The metric source over any Prometheus-compatible HTTP API (DESIGN §6).
//
// Each cycle it expands every policy's queries (query_template.h), sends each
// distinct expression once — 10,000 policies sharing 50 expressions make 50
// HTTP queries, run in parallel by the transport — and maps the answers back.
//
// Per policy: a query it needs that failed (transport, HTTP, Prometheus error,
// several series) makes its reading an Error naming the metric, the query and
// the cause, so the loop keeps the last decision and marks it stale after
// --metrics-stale-after; the same failure fails no other policy. No data (an
// empty result, NaN, ±Inf) leaves that metric out, except that an empty
// result (no series) of a metric with treatEmptyAsZero reads 0. Latency
// queries return seconds; readings are milliseconds. The replicas query is
// read like the others (an empty result is no data, whatever the metrics
// say); a failure fails the reading. So is the ready replicas query
// (kube-state-metrics' *_status_replicas_ready), sent beside it: an empty
// result leaves readyReplicas unknown and fails nothing.
class PrometheusMetricSource final : public MetricSource {
 public:
  // `transport` must outlive the source.
  explicit PrometheusMetricSource(QueryTransport& transport, PrometheusSourceOptions options = {});

  // The policy's queries expand (known placeholders, names inside strings):
  // checked when policies load, so that a broken template is reported as an
  // invalid policy at once rather than as a failed read every cycle.
  // Thread-safe, also while read() runs: it touches no mutable state.
  [[nodiscard]] core::Status check(const core::Policy& policy) const;

 private:
  // Evaluation thread only (MetricSource's contract): one call at a time.
  std::vector<core::Result<MetricReading>> readPolicies(const core::PolicyList& policies) override;
  void reportWarnings(const std::string& query, const std::vector<std::string>& warnings);

  QueryTransport& transport_;
  const PrometheusSourceOptions options_;
  std::unordered_set<std::string> warned_;  // warnings already logged
};

}  // namespace kubeai::source::prometheus
