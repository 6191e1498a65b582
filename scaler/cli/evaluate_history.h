#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"

// `evaluate --history FILE`: a sequence of observations replayed through the
// core as serve's evaluation loop would see them, one decision per row.
namespace kubeai::cli {

// One row of a history file.
struct HistoryRow {
  core::TimePoint at;             // when it was observed
  std::optional<double> seconds;  // `time` as seconds from the start, when given so
  std::string timestamp;          // `time` as given, when an RFC 3339 time
  core::Observation observation;
};

// A history file's rows, or every problem in it.
struct HistoryFile {
  std::vector<HistoryRow> rows;
  // "row 3: currentReplicas: required" (rows count from 1), or the file as a
  // whole ("must be a list of observations"); empty when the rows are good.
  std::vector<std::string> errors;
};

// Seconds from the start are times from 2024-01-01T00:00:00Z, simulate's
// epoch: the same rows give the same times (Burst's "since") in every run.
core::TimePoint historyTime(double secondsFromStart);

// Parses a history (YAML or JSON): a list of mappings in time order, e.g.
//
//   - {time: 0,  currentReplicas: 2, gpuUtilizationPercent: 90}
//   - {time: 15, currentReplicas: 3, readyReplicas: 2, gpuUtilizationPercent: 80, kvCache: 0.7}
//
// `time` (required): seconds from the start (a number >= 0) or an RFC 3339
// time, one form for the whole file, each row later than the one before.
// `currentReplicas` (required) and `readyReplicas` (not given or null:
// unknown) are integers >= 0, as in the metrics file. Every other key is a
// metric as `--metric` takes it (metricField(): a seed metric, or the name of
// one of the policy's custom metrics), a number >= 0; null or left out is no
// data, .nan and .inf are passed on (the pipeline reads them as no data).
HistoryFile parseHistory(std::string_view text, const core::MetricsSpec& policyMetrics);

// Reads and parses; every error starts with the file's path ("FILE: row 3:
// ..."), and a file that cannot be read is the one error.
HistoryFile loadHistory(const std::filesystem::path& path, const core::MetricsSpec& policyMetrics);

// The decision of every row, as serve's evaluation loop makes them: the
// first row seen for the first time (core::firstSightHistory at its time
// with its current replicas and `seed`, what a previous process published:
// evaluate_seed.h), each later row decided with the History the row before
// it left. The last decision is the one a server that saw these observations
// would publish. `policy` must have passed validation and its algorithm's
// parameter check.
std::vector<core::Decision> replayHistory(const core::Policy& policy, const std::vector<HistoryRow>& rows,
                                          const core::AlgorithmRegistry& algorithms,
                                          const core::DecideSettings& settings,
                                          const std::optional<core::PublishedSeed>& seed = std::nullopt);

}  // namespace kubeai::cli
