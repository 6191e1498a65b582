#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/result.h"

namespace kubeai::core {

// serve --custom-queries=deny (docs/install.md, "Trust model"): whoever may
// create a policy would otherwise run any PromQL with the scaler's Prometheus
// credentials and read the answer back through status.currentMetrics. Under
// deny only the queries the server writes itself run: the seed's defaults and
// spec.metrics.engine's (core/engine_presets.h), and custom metrics' engine +
// signal presets, all scoped by the server to the policy's namespace and
// target.

inline constexpr std::string_view kCustomQueriesFlag = "--custom-queries";
// Starts the message of a policy refused for its own queries; the status
// writer turns it into the reason below (see kube::invalidReason).
inline constexpr std::string_view kCustomQueryDeniedPrefix = "custom queries denied: ";
inline constexpr std::string_view kCustomQueryDeniedReason = "CustomQueryDenied";

// The fields of `policy` holding PromQL its author wrote, as paths
// ("spec.metrics.latency.prometheusQuery", "spec.metrics.custom[1].prometheusQuery"),
// in field order: every prometheusQuery that is set, whether or not its
// metric is enabled (a disabled metric is one edit away from running it).
[[nodiscard]] std::vector<std::string> ownQueryFields(const Policy& policy);

// Ok when the policy has none of ownQueryFields(); else an Error starting
// with kCustomQueryDeniedPrefix, naming every such field and the flag.
[[nodiscard]] Status checkNoOwnQueries(const Policy& policy);

}  // namespace kubeai::core
