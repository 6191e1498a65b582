#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"

namespace prometheus {
class Collectable;
class Registry;
}  // namespace prometheus

namespace kubeai::telemetry {

// The Prometheus families the server exposes on /metrics: the original Go
// project's kubeai_autoscaler_* families (so its dashboards and alerts keep
// working) and the server's own kubeai_scaler_* families.
//
// Per policy (labels namespace, policy):
//   kubeai_autoscaler_scaling_decisions_total{direction}     up | down | none
//   kubeai_autoscaler_current_replicas{target}
//   kubeai_autoscaler_desired_replicas{target}
//   kubeai_autoscaler_ready_replicas{target}                 when the replica source knows them
//   kubeai_autoscaler_metric_value{metric_type}             the seed four: only metrics enabled and with data
//   kubeai_autoscaler_metric_target{metric_type}            the seed four: only metrics enabled with a target
//   kubeai_scaler_policy_metric_value{metric}                every metric by name: enabled and with data
//   kubeai_scaler_policy_metric_target{metric}               every metric by name: enabled with a target
//   kubeai_scaler_policy_metric_ratio{metric}                every metric by name: its ratio in the last decision
//   kubeai_autoscaler_reconcile_errors_total{error_type}
//   kubeai_autoscaler_cooldown_active                        0 | 1
//   kubeai_autoscaler_last_scale_time_seconds                unix seconds; once the policy scaled
//   kubeai_autoscaler_forecast_replicas                      Predictive: demand a horizon ahead, replicas' worth
//   kubeai_autoscaler_forecast_horizon_seconds               Predictive: that horizon
//   kubeai_autoscaler_panic_active                           Burst: 0 | 1
//   kubeai_scaler_policy_state{state}                        1, one series: pending | ready | stale | invalid
//   kubeai_scaler_policy_stale{reason}                       1 while stale; absent otherwise
// Process-wide:
//   kubeai_autoscaler_reconcile_duration_seconds             histogram of evaluations
//   kubeai_scaler_grpc_requests_total{method,code}           code as gRPC names it: OK, NOT_FOUND, ...
//   kubeai_scaler_grpc_request_duration_seconds{method}      histogram
//   kubeai_scaler_policies{state}                            pending | ready | stale | invalid
//   kubeai_scaler_plugins_loaded, kubeai_scaler_plugin_load_errors
//   kubeai_scaler_config_reload_errors_total{source}
//   kubeai_scaler_plugin_failures_total{plugin,kind}, kubeai_scaler_plugin_host_restarts_total{plugin}
//                                                            (PluginTelemetry, same registry)
//
// metric_type is latency_p99, latency_p95 (milliseconds), gpu_utilization
// (percent) or request_queue_depth (total queue; its target is per replica, as
// the policy states it). metric is the name status and logs use (latencyP99,
// latencyP95, gpuUtilization, requestQueueDepth, or a spec.metrics.custom[]
// name) for every metric alike; an AverageValue target is per replica. A
// policy has at most core::kMaxMetricSlots metrics, so at most 3 x 20 such
// series; a decision replaces them all, so a metric the policy dropped (or
// whose data or target went away) loses its series at the next decision, and
// a refused (invalid) policy has none.
//
// A policy's state follows the evaluation loop's calls: a decision makes it
// ready; an error of type "stale" makes it stale, and "invalid" invalid; any
// other error (a failed step such as "metrics") leaves it stale if it was,
// otherwise ready when it has a decision in force, else pending. The stale
// reason is the type of the failed step recorded last before it went stale
// ("metrics", or "plugin_unavailable": a plugin that keeps failing makes its
// policy stale at once): a fixed vocabulary, never a message. Both series
// follow the policy's state within one evaluation cycle, and the recovered
// policy's stale series disappears.
//
// The ready, forecast and panic series follow the last decision: a decision
// without ready replicas, or by an algorithm other than Predictive (forecast)
// or Burst (panic), has none, and a refused policy loses its forecast and
// panic series as it does its metrics.
//
// Series are created when first recorded and a policy's series are removed
// with it (removePolicy), so a deleted policy disappears from /metrics instead
// of exporting its last values forever.
//
// The per-policy families are kept as plain values and exported at scrape
// time (about 0.3 KiB per policy; removal O(log n)) rather than as
// prometheus-cpp series: those cost about 0.5 KiB each (7 KiB per policy
// measured) and Family::Remove scans the whole family, 33 ms per deleted
// policy with 10,000 loaded. The process-wide families are prometheus-cpp's,
// in registry().
//
// Thread-safe: every method may be called from any thread; a recorded decision
// takes one short lock, and a scrape holds it only to copy the values.
class Telemetry {
 public:
  Telemetry();
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // One evaluation of `policy`: its decision, what it was decided on, whether
  // cooldown now holds the published value, when the policy last scaled, and
  // how long the evaluation took.
  void recordDecision(const core::Policy& policy, const core::Decision& decision,
                      const core::Observation& observation, bool cooldownActive,
                      std::optional<core::TimePoint> lastScaleTime, double evaluationSeconds);

  // A failed evaluation step of one policy (e.g. "metrics", "replicas", "plugin"),
  // or the policy's state: "stale" (its metrics failed past the staleness
  // bound) or "invalid" (refused, never evaluated); see the class comment.
  void recordError(std::string_view ns, std::string_view name, std::string_view errorType);

  // Drops every series of ns/name. Recording the policy again recreates them
  // (from zero), so call it after the policy's last evaluation.
  void removePolicy(std::string_view ns, std::string_view name);

  // One finished gRPC call; grpcCode is the numeric grpc::StatusCode (0 = OK).
  void recordRpc(std::string_view method, int grpcCode, double seconds);

  // One evaluation cycle of every policy, metric reads included.
  void recordCycle(double seconds);
  // One evaluation of some policies only (an edit of them, their metrics-file
  // entries changed): not a cycle, counted apart.
  void recordPartialEvaluation(double seconds);

  // Policies per state; the four states of the store are always exported
  // (0 when absent from the map), any other key is exported as given.
  void setPolicyStates(const std::map<std::string, std::size_t>& countsByState);

  void setPlugins(std::size_t loaded, std::size_t failed);

  // A configuration file or source that failed to reload ("policy-dir", "metrics-file", "plugin-dir", ...).
  void recordReloadError(std::string_view source);

  // Everything above, for HttpEndpoint::Options::collectables.
  [[nodiscard]] std::vector<std::shared_ptr<const prometheus::Collectable>> collectables() const;

  // The process-wide families (one of collectables()), for anyone adding families of their own.
  [[nodiscard]] std::shared_ptr<prometheus::Registry> registry() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The canonical name of a numeric gRPC status code ("OK", "NOT_FOUND",
// "UNAVAILABLE", ...); a code outside 0..16 is "UNKNOWN", as gRPC reads it.
std::string_view grpcCodeName(int grpcCode) noexcept;

}  // namespace kubeai::telemetry
