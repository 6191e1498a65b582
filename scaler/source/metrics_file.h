#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "source/metric_source.h"
#include "core/result.h"
#include "core/validation.h"

namespace kubeai::source {

// One entry of the metrics file: what the embedded metric source reports for
// one policy. A key left out of the file is "no data", never 0.
// Kept apart from MetricReading, which has room for every custom metric: the
// file holds one entry per policy for as long as it is loaded.
struct MetricsFileEntry {
  std::optional<std::int32_t> currentReplicas;
  std::optional<std::int32_t> readyReplicas;  // status.readyReplicas; the rest of current are starting
  std::optional<double> latencyP99Ms;
  std::optional<double> latencyP95Ms;
  std::optional<double> gpuUtilizationPercent;
  std::optional<double> requestQueueDepth;  // total across replicas
  // Custom metrics by their spec.metrics.custom[].name.
  std::map<std::string, double, std::less<>> named;

  // The seed four and the replicas (current and ready).
  [[nodiscard]] MetricReading reading() const;
  // What the policy reads: the seed four, and each custom metric's value
  // under its name.
  [[nodiscard]] MetricReading readingFor(const core::Policy& policy) const;

  bool operator==(const MetricsFileEntry&) const = default;
};

// The whole file: entries by "<namespace>/<policyName>".
struct MetricsFile {
  std::map<std::string, MetricsFileEntry, std::less<>> entries;
  std::vector<core::FieldError> warnings;  // unknown keys, accepted

  [[nodiscard]] const MetricsFileEntry* find(std::string_view policyKey) const;
};

// Parses the metrics file (YAML), e.g.
//
//   default/chat:
//     currentReplicas: 3
//     readyReplicas: 2     # one of the 3 still starting
//     latencyP99Ms: 420
//     gpuUtilizationPercent: 81.5
//     kvCache: 72          # spec.metrics.custom[].name: kvCache
//
// Every problem is reported at once with its path ("default/chat.latencyP99Ms:
// must be a number"); a file with any error yields no MetricsFile, so that the
// caller keeps serving the last good one.
core::Result<MetricsFile> parseMetricsFile(std::string_view text);

// Reads and parses; errors name the file.
core::Result<MetricsFile> loadMetricsFile(const std::filesystem::path& path);

}  // namespace kubeai::source
