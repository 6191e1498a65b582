#include "telemetry/policy_series.h"

#include <prometheus/metric_type.h>

#include <cmath>
#include <string_view>

namespace kubeai::telemetry::detail {
namespace {

// The stale reason when no failed step was recorded before it (not expected).
constexpr std::string_view kUnknownReason = "unknown";

}  // namespace

std::vector<prometheus::MetricFamily> PolicySeriesCollector::Collect() const {
  // Copied under the lock, exported outside it: recorders wait for a copy of
  // plain values, not for building the exposition.
  std::vector<std::pair<PolicyKey, PolicyValues>> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.assign(policies_.begin(), policies_.end());
  }
  using prometheus::MetricType;
  auto decisions = family("kubeai_autoscaler_scaling_decisions_total",
                          "Scaling decisions per policy, by direction of the desired against the current replicas",
                          MetricType::Counter);
  auto currentReplicas = family("kubeai_autoscaler_current_replicas",
                                "Replicas of the policy's target when it was last evaluated", MetricType::Gauge);
  auto desiredReplicas =
      family("kubeai_autoscaler_desired_replicas", "Replicas the policy asks KEDA for", MetricType::Gauge);
  auto readyReplicas = family("kubeai_autoscaler_ready_replicas",
                              "Ready replicas of the policy's target when it was last evaluated, when known",
                              MetricType::Gauge);
  auto forecastReplicas = family("kubeai_autoscaler_forecast_replicas",
                                 "Predictive: the demand forecast a horizon ahead, in replicas' worth (the metric "
                                 "whose forecast is highest)",
                                 MetricType::Gauge);
  auto forecastHorizon = family("kubeai_autoscaler_forecast_horizon_seconds",
                                "Predictive: how far ahead the last decision forecast (horizonSeconds, the measured "
                                "start-up time, or the default)",
                                MetricType::Gauge);
  auto panicActive = family("kubeai_autoscaler_panic_active", "Burst: 1 while the policy is in panic mode",
                            MetricType::Gauge);
  MetricFamilies metrics;
  auto reconcileErrors = family("kubeai_autoscaler_reconcile_errors_total",
                                "Failed policy evaluation steps, by error type", MetricType::Counter);
  auto cooldownActive = family("kubeai_autoscaler_cooldown_active",
                               "1 while the cooldown period holds the policy's current replicas", MetricType::Gauge);
  auto lastScaleTime = family("kubeai_autoscaler_last_scale_time_seconds",
                              "Unix time at which the policy's desired replicas last changed", MetricType::Gauge);
  auto policyState = family("kubeai_scaler_policy_state",
                            "1 for the policy's state: pending (no metrics yet), ready, stale (RPCs answer "
                            "UNAVAILABLE), invalid (refused)",
                            MetricType::Gauge);
  auto policyStale = family("kubeai_scaler_policy_stale",
                            "1 while the policy is stale (RPCs answer UNAVAILABLE), by the type of the failed step "
                            "that made it so",
                            MetricType::Gauge);

  for (const auto& [key, values] : snapshot) {
    for (std::size_t direction = 0; direction < values.decisions.size(); ++direction) {
      if (values.decisions[direction] == 0) continue;
      addCounter(decisions, policyLabels(key, "direction", kDirectionNames[direction]),
                 static_cast<double>(values.decisions[direction]));
    }
    if (values.decided) {
      addGauge(currentReplicas, policyLabels(key, "target", values.target), values.currentReplicas);
      addGauge(desiredReplicas, policyLabels(key, "target", values.target), values.desiredReplicas);
      addGauge(cooldownActive, policyLabels(key), values.cooldownActive ? 1.0 : 0.0);
      if (values.readyReplicas >= 0) {
        addGauge(readyReplicas, policyLabels(key, "target", values.target), values.readyReplicas);
      }
    }
    if (!std::isnan(values.forecastReplicas)) {
      addGauge(forecastReplicas, policyLabels(key), values.forecastReplicas);
    }
    if (!std::isnan(values.forecastHorizonSeconds)) {
      addGauge(forecastHorizon, policyLabels(key), values.forecastHorizonSeconds);
    }
    if (values.panicActive >= 0) {
      addGauge(panicActive, policyLabels(key), values.panicActive);
    }
    metrics.add(key, values.metrics);
    if (!std::isnan(values.lastScaleTimeSeconds)) {
      addGauge(lastScaleTime, policyLabels(key), values.lastScaleTimeSeconds);
    }
    for (const auto& [errorType, count] : values.errors) {
      addCounter(reconcileErrors, policyLabels(key, "error_type", errorType), static_cast<double>(count));
    }
    if (values.status != PolicyStatus::kUnknown) {
      addGauge(policyState, policyLabels(key, "state", kStoreStates[static_cast<std::size_t>(values.status)]), 1.0);
    }
    if (values.status == PolicyStatus::kStale) {
      addGauge(policyStale,
               policyLabels(key, "reason", values.failure.empty() ? kUnknownReason : std::string_view(values.failure)),
               1.0);
    }
  }

  std::vector<prometheus::MetricFamily> families;
  families.reserve(17);
  for (auto* each : {&decisions, &currentReplicas, &desiredReplicas, &readyReplicas}) {
    families.push_back(std::move(*each));
  }
  metrics.moveInto(families);
  for (auto* each : {&reconcileErrors, &cooldownActive, &lastScaleTime, &forecastReplicas, &forecastHorizon,
                     &panicActive, &policyState, &policyStale}) {
    families.push_back(std::move(*each));
  }
  return families;
}

}  // namespace kubeai::telemetry::detail
