#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kubeai::simulate {

// One evaluation interval of one policy's run: what existed during it, what
// the engine showed at its end, and what the policy published then.
struct TimelineRow {
  double time = 0;                   // seconds from the start (the interval's start)
  double demand = 0;                 // offered requests per second
  std::int32_t replicas = 0;         // that exist during the step (starting or ready)
  std::int32_t readyReplicas = 0;    // that serve during the step
  std::int32_t requestedReplicas = 0;  // the workload's spec.replicas as the HPA left it (the policy's currentReplicas)
  std::int32_t desiredReplicas = 0;  // what the policy published at the step's end
  // By the policy's metric names, in slot order; nullopt: no data.
  std::vector<std::pair<std::string, std::optional<double>>> metrics;
  std::string limitedBy;             // "" when nothing limited the decision
  std::string reason;
  // What the SLO is judged on (nullopt: not produced, e.g. no ready replica).
  std::optional<double> latencyP99Ms;
  std::optional<double> timeToFirstTokenP95Ms;
  double requestsWaiting = 0;
  double backlog = 0;
  std::optional<double> gpuUtilizationPercent;  // nullopt: no ready replica
  // Which SLOs the step violated (each counts `interval` seconds).
  bool violatesLatencyP99 = false;
  bool violatesTimeToFirstTokenP95 = false;
  bool violatesRequestsWaiting = false;
  // What Predictive saw (nullopt, "": another algorithm's decision; filled
  // only for a row a timeline or a stream reads, as the texts above).
  std::optional<double> forecastReplicas;   // the forecast demand a horizon ahead, replicas' worth
  std::optional<double> horizonSeconds;
  std::string horizonSource;                // "parameter", "measured", "default"
  std::optional<std::int32_t> reactiveReplicas;  // MaxRatio's answer, beside the forecast's
  std::optional<bool> forecastDecided;      // the forecast's answer was above MaxRatio's (status's `decided`)
  // And so raised what is published: above MaxRatio's once both are within
  // [minReplicas, maxReplicas]. The summary's forecastRaised counts these.
  std::optional<bool> forecastRaised;
  // What Burst saw (nullopt: another algorithm's decision).
  std::optional<bool> panicking;
  // While panicking: when this panic began, seconds from the start like
  // `time` — a decision's time, so the end of the interval that entered it.
  std::optional<double> panicSince;
};

struct SloViolationSeconds {
  double latencyP99Ms = 0;
  double timeToFirstTokenP95Ms = 0;
  double requestsWaiting = 0;
  double any = 0;  // seconds in which at least one SLO was violated
};

struct PolicySummary {
  double replicaSeconds = 0;  // every replica that exists, starting, ready or shutting down
  double gpuHours = 0;
  std::optional<double> cost;  // with costPerGpuHour
  SloViolationSeconds sloViolationSeconds{};
  double peakBacklog = 0;
  std::int32_t scaleUps = 0;    // published-value increases
  std::int32_t scaleDowns = 0;
  std::int32_t reversals = 0;   // a change of direction within 5 minutes of the previous change
  std::int32_t minReplicas = 0;
  std::int32_t maxReplicas = 0;
  // Each time the demand rose above what the ready replicas serve (ready x
  // the model's rate), how long until they served it again: how many times,
  // and the mean and the longest wait (0 when it never happened). Still short
  // at the end counts until the end.
  struct TimeToCapacity {
    std::int32_t count = 0;
    double meanSeconds = 0;
    double maxSeconds = 0;
  };
  TimeToCapacity timeToCapacity{};
  std::int32_t decisionsFailed = 0;  // a plugin or an algorithm that failed: the decision held
  // Predictive: the decisions whose forecast raised what is published
  // (TimelineRow::forecastRaised; nullopt: no decision forecast). Burst: the panics it entered and the
  // intervals' seconds whose decision was in panic (nullopt: no decision read
  // a panic window). Counted like the other figures, with or without timelines.
  std::optional<std::int32_t> forecastRaised;
  std::optional<std::int32_t> panics;
  std::optional<double> panicSeconds;
};

struct PolicyRun {
  std::string policy;     // "namespace/name"
  std::string algorithm;           // the one that ran: MaxRatio for one not loaded, as serve runs it
  std::string requestedAlgorithm;  // as the policy names it
  PolicySummary summary;
  std::vector<TimelineRow> timeline;  // empty in summary-only mode
};

struct SimulationResult {
  std::string workload;
  double interval = 15;  // seconds
  double duration = 0;   // seconds simulated
  std::int32_t gpusPerReplica = 1;
  std::optional<double> costPerGpuHour;
  // What one ready replica serves (spec.capacity.requestsPerSecond), for the
  // report's ready capacity; the model may lower it by tokensPerSecond.
  std::optional<double> capacityRequestsPerSecond;
  // The replicas' model: what every figure depends on (a start-up of 0 makes
  // any policy look good on GPUs), said in every output's header.
  std::int32_t initialReplicas = 1;
  double startupMinSeconds = 0;  // fixed when min == max, else uniform in [min, max]
  double startupMaxSeconds = 0;
  double shutdownSeconds = 0;
  // The SLO targets, for the report's lines.
  std::optional<double> sloLatencyP99Ms;
  std::optional<double> sloTimeToFirstTokenP95Ms;
  std::optional<double> sloRequestsWaiting;
  std::vector<PolicyRun> policies;

  // With no SLO at all, nothing is judged: not even `any`.
  [[nodiscard]] bool anySloSet() const noexcept {
    return sloLatencyP99Ms || sloTimeToFirstTokenP95Ms || sloRequestsWaiting;
  }
};

}  // namespace kubeai::simulate
