#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/validation.h"

namespace kubeai::simulate {

inline constexpr std::string_view kWorkloadApiVersion = "kubeai.io/v1alpha1";
inline constexpr std::string_view kWorkloadKind = "SimulationWorkload";

// How long a new replica takes to become ready: fixed (min == max) or uniform
// in [min, max], drawn from the workload's seed.
struct StartupSeconds {
  double min = 0;
  double max = 0;
};

struct ReplicasModel {
  std::int32_t initial = 1;
  StartupSeconds startup{};
  // A removed replica stops serving at once and costs for this long.
  double shutdownSeconds = 0;
};

// What one ready replica can do (docs/simulate.md, the engine model).
struct Capacity {
  double requestsPerSecond = 0;             // > 0: throughput of one replica
  std::optional<double> tokensPerSecond;    // tokens (prompt + generated) per second of one replica
  std::optional<double> kvCacheTokens;      // KV-cache tokens of one replica
};

// The service level a policy is judged against; an absent field is not judged.
struct Slo {
  std::optional<double> latencyP99Ms;
  std::optional<double> timeToFirstTokenP95Ms;
  std::optional<double> requestsWaiting;
};

struct PrometheusDemand {
  std::string query;
  std::string start;  // RFC 3339 or Unix seconds, as Prometheus' query_range takes them
  std::string end;
  std::chrono::milliseconds step{15'000};
};

// Exactly one of arrivals, rate, prometheus is set.
struct DemandSpec {
  std::optional<std::filesystem::path> arrivals;  // resolved against the workload file's directory
  std::optional<std::filesystem::path> rate;
  std::optional<PrometheusDemand> prometheus;
  double scale = 1.0;
};

// The HPA between KEDA and the workload: its sync, its tolerance (the bounds
// form of Kubernetes >= 1.33: 1 - tolerance <= D / current <= 1 + tolerance
// keeps current), and its scale-up policies, which Kubernetes fills with these
// defaults when behavior.scaleUp names none: at most max(+pods, +percent) per
// period. Both 0: no limit.
struct HpaModel {
  std::chrono::milliseconds syncPeriod{15'000};
  double tolerance = 0.1;
  std::int32_t scaleUpPods = 4;
  std::int32_t scaleUpPercent = 100;
  std::chrono::milliseconds scaleUpPeriod{15'000};
};

// KEDA around the HPA: it activates a workload at zero (to
// max(1, minReplicaCount)) at its next poll once the trigger is active
// (desired > 0), and scales it back to minReplicaCount once the trigger has
// been inactive for cooldownPeriod; in between the HPA's floor is
// max(1, minReplicaCount).
struct KedaModel {
  std::chrono::milliseconds cooldownPeriod{300'000};
  std::int32_t minReplicaCount = 0;
};

// A SimulationWorkload (DESIGN §8, docs/simulate.md).
struct Workload {
  std::string name;
  std::chrono::milliseconds interval{15'000};
  std::optional<std::chrono::milliseconds> duration;  // default: the span of the demand
  std::uint64_t seed = 1;
  HpaModel hpa{};
  KedaModel keda{};
  ReplicasModel replicas{};
  Capacity capacity{};
  std::int32_t gpusPerReplica = 1;
  std::optional<double> costPerGpuHour;
  Slo slo{};
  DemandSpec demand{};
};

// At most this many evaluation intervals in a run (duration / interval), as
// for a trace's span (demand.h kMaxDemandSteps).
inline constexpr std::int64_t kMaxRunSteps = std::int64_t{1} << 21;
// Start-up and shutdown times above this (a week) are refused.
inline constexpr double kMaxReplicaSeconds = 604'800;

// One workload file as read: every error with its field path, as policies are
// (an unknown field is an error here: a misspelt SLO must not pass unjudged).
struct WorkloadDocument {
  Workload workload;
  std::vector<core::FieldError> errors;
  [[nodiscard]] bool ok() const noexcept { return errors.empty(); }
};

// `baseDir`: where relative demand paths are resolved (the workload file's directory).
WorkloadDocument parseWorkloadYaml(std::string_view text, const std::filesystem::path& baseDir);

// Reads and parses; a file that cannot be read is one error with an empty field.
WorkloadDocument loadWorkloadFile(const std::filesystem::path& path);

}  // namespace kubeai::simulate
