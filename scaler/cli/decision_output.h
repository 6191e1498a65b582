#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/decision.h"
#include "core/policy.h"

namespace kubeai::cli {

// The decision as `evaluate --output json` prints it: desiredReplicas,
// currentReplicas, recommendedReplicas, algorithm, requestedAlgorithm,
// algorithmValid, reason, ratios (present slots only, by metric name, custom
// metrics too), metrics (every enabled metric: name, value, target,
// targetType, unit, ratio; null where absent), ratio, limitedBy (null or a
// word), algorithmError (null or the message), readyReplicas (null when
// unknown), servingReplicas (what per-pod ratios were counted on), forecast
// (Predictive's: metric, horizonSeconds, horizonSource, demandReplicas,
// forecastReplicas, trendPerMinute, reactiveReplicas, forecastDesiredReplicas,
// decided, observations; without a forecast (a hold without metrics, or
// Predictive's error) only {models: [{metric, level, trendPerSecond,
// observedAt, observations}]}, the models status.forecast writes; else null), panic (Burst's: panicking, since,
// lastOverThreshold, stableReplicas, panicReplicas, panicRatio,
// panicThreshold, saturated, maxPanicReplicas; else null). `metrics` is the policy's
// spec.metrics, which names the custom slots.
nlohmann::json decisionToJson(const core::Decision& decision, const core::MetricsSpec& metrics);

// A few aligned lines for people; with Predictive or Burst, what it saw
// (forecast/reactive, panic/windows lines).
std::string decisionToText(const std::string& policyKey, const core::Decision& decision,
                           const core::MetricsSpec& metrics);

// A decision of Predictive's without a forecast (a hold without metrics, or
// Predictive's error) that still carries models status.forecast writes
// (kube::forecastModelsWritten): shown as the models alone.
bool hasModelsOnly(const core::Decision& decision, const core::MetricsSpec& metrics);

// A ratio with three decimals, as `evaluate` and serve's log line print them.
std::string formatRatio(double ratio);

// Replicas' worth (a forecast, a panic's means) with two decimals, as
// status.forecast and status.panic write them.
std::string formatReplicas(double replicas);

}  // namespace kubeai::cli
