#pragma once

#include <nlohmann/json.hpp>

#include "core/policy.h"
#include "policy/json_decoder.h"

// Source-only: spec.metrics of a manifest, the seed's four and the custom metrics.
namespace kubeai::policy::detail {

// Reads spec.metrics out of `spec`; every problem goes to `in` with its path.
// Semantic checks (unique names, a signal the engine has) are validation's.
void decodeMetrics(Decoder& in, const nlohmann::json& spec, core::MetricsSpec& metrics);

}  // namespace kubeai::policy::detail
