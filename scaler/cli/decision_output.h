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
// word), algorithmError (null or the message). `metrics` is the policy's
// spec.metrics, which names the custom slots.
nlohmann::json decisionToJson(const core::Decision& decision, const core::MetricsSpec& metrics);

// A few aligned lines for people.
std::string decisionToText(const std::string& policyKey, const core::Decision& decision,
                           const core::MetricsSpec& metrics);

}  // namespace kubeai::cli
