#pragma once

#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "core/observation.h"
#include "core/policy.h"
#include "core/result.h"

namespace kubeai::cli {

struct EvaluateOptions {
  std::filesystem::path policyFile;
  std::string name;  // NAME or NAMESPACE/NAME; may be empty when the file holds one policy
  std::int32_t currentReplicas = 0;
  // --ready-replicas: the target's ready replicas; not given = unknown, as for
  // a source that does not know them.
  std::optional<std::int32_t> readyReplicas;
  std::vector<std::string> metrics;  // KEY=VALUE
  std::optional<std::filesystem::path> pluginDir;
  std::string output = "text";  // text | json
};

// Parses --metric KEY=VALUE arguments. KEY is latencyP99Ms, latencyP95Ms,
// gpuUtilizationPercent, requestQueueDepth or the name of one of the policy's
// custom metrics (spec.metrics.custom[].name); a metric not given has no data.
core::Result<core::Observation> parseMetricArguments(std::int32_t currentReplicas,
                                                     const std::vector<std::string>& metrics,
                                                     const core::MetricsSpec& policyMetrics);

// The observation `evaluate` decides on: --current-replicas,
// --ready-replicas and the --metric arguments (as parseMetricArguments).
core::Result<core::Observation> evaluateObservation(const EvaluateOptions& options,
                                                    const core::MetricsSpec& policyMetrics);

// One decision without history: stabilization and cooldown need history and
// do not apply; rate policies apply relative to the current replicas.
int runEvaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli
