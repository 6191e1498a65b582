#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/decision.h"

namespace kubeai::cli {

// The decision as `evaluate --output json` prints it: desiredReplicas,
// currentReplicas, recommendedReplicas, algorithm, requestedAlgorithm,
// algorithmValid, reason, ratios (present slots only), ratio, limitedBy
// (null or a word), algorithmError (null or the message).
nlohmann::json decisionToJson(const core::Decision& decision);

// A few aligned lines for people.
std::string decisionToText(const std::string& policyKey, const core::Decision& decision);

}  // namespace kubeai::cli
