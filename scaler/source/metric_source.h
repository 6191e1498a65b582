#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "core/metric_slot.h"
#include "core/observation.h"
#include "core/policy.h"
#include "core/result.h"

namespace kubeai::source {

// What a metric source saw for one policy. An empty optional is no data,
// never 0.
struct MetricReading {
  std::optional<std::int32_t> currentReplicas;  // when the source knows them (file, kube-state-metrics)
  std::optional<double> latencyP99Ms;
  std::optional<double> latencyP95Ms;
  std::optional<double> gpuUtilizationPercent;
  std::optional<double> requestQueueDepth;  // total across replicas
  // spec.metrics.custom[i]'s value, for the policy read.
  std::array<std::optional<double>, core::kMaxCustomMetrics> custom{};
  std::optional<std::int32_t> readyReplicas{};  // status.readyReplicas, when the source knows them

  // The observation for the pipeline; replicas are `fallbackReplicas` when the
  // reading does not carry them.
  [[nodiscard]] core::Observation observation(std::int32_t fallbackReplicas) const;
};

// Where the evaluation loop gets metric values (DESIGN §6): the metrics file,
// Prometheus. Called from the evaluation thread only, once per cycle for all
// policies at once (so a source can share one query among many policies), or
// for the few policies an edit changed.
class MetricSource {
 public:
  virtual ~MetricSource() = default;

  // One result per policy, in the same order. An Error is a failed read (a
  // query that failed, a source that is down): the loop keeps the policy's last
  // decision and marks it stale after --metrics-stale-after. A policy the
  // source knows nothing about is a reading without data, not an error.
  // The policies are shared (no copy of a set of 10,000 for each read).
  std::vector<core::Result<MetricReading>> read(const core::PolicyList& policies) { return readPolicies(policies); }
  // The same for policies held by value (tests, one-off callers): each copied once.
  std::vector<core::Result<MetricReading>> read(const std::vector<core::Policy>& policies);
  std::vector<core::Result<MetricReading>> read(std::initializer_list<core::Policy> policies);

 private:
  // What a source implements: read()'s contract.
  virtual std::vector<core::Result<MetricReading>> readPolicies(const core::PolicyList& policies) = 0;
};

}  // namespace kubeai::source
