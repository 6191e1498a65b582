#pragma once

#include <chrono>
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
  // --current-replicas: required unless --history gives the rows.
  std::optional<std::int32_t> currentReplicas;
  // --ready-replicas: the target's ready replicas; not given = unknown, as for
  // a source that does not know them.
  std::optional<std::int32_t> readyReplicas;
  std::vector<std::string> metrics;  // KEY=VALUE
  std::optional<std::filesystem::path> pluginDir;
  std::string output = "text";  // text | json
  // --history FILE: observations in time order, replayed through the core
  // row by row as serve would see them (evaluate_history.h). The rows give
  // the replicas and metrics: --current-replicas, --ready-replicas and
  // --metric are refused with it.
  std::optional<std::filesystem::path> historyFile;
  // --reaction-time (with --history): how long a published change counts as
  // current while the rows' current replicas have not reached it, as serve's.
  std::chrono::milliseconds reactionTime{30'000};
  // --ignore-status: a status in the policy file (`kubectl get -o yaml`)
  // seeds the first decision as serve's after a restart (evaluate_seed.h);
  // with this, evaluate starts from first sight (--history) or no history.
  bool ignoreStatus = false;
};

// Where a metric KEY's value goes in an observation: a seed field
// (latencyP99Ms, latencyP95Ms, gpuUtilizationPercent, requestQueueDepth) or
// the slot of the policy's custom metric of that name; nullptr for any other
// KEY. --metric and the --history rows both decode their keys with it.
std::optional<double>* metricField(core::Observation& observation, const std::string& key,
                                   const core::MetricsSpec& policyMetrics);

// The KEYs metricField() knows for this policy, for an error message.
std::string knownMetricKeys(const core::MetricsSpec& policyMetrics);

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
// do not apply; rate policies apply relative to the current replicas. With
// historyFile, one decision per row with the history carried from row to row.
// A status in the policy file (unless ignoreStatus) makes the first decision
// serve's first sight after a restart (the one decision at the wall clock,
// or the first row), seeded from the status when serve would seed from it;
// rows that begin before the status's latest time are refused (serve would
// read that status as from the future).
int runEvaluate(const EvaluateOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli
