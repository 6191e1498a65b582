#include "simulate/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "core/decide.h"
#include "core/metric_target.h"
#include "core/validation.h"
#include "simulate/algorithm_mode_counter.h"
#include "simulate/engine_model.h"
#include "simulate/metric_binding.h"
#include "simulate/replica_fleet.h"

namespace kubeai::simulate {
namespace {

// Simulated time starts here (2024-01-01T00:00:00Z): a fixed epoch, so that a
// plugin that reads `now` sees the same times in every run.
constexpr std::chrono::seconds kEpoch{1'704'067'200};
// Two changes in opposite directions closer than this are a reversal (flapping).
constexpr double kReversalWindowSeconds = 300;
constexpr double kBacklogEpsilon = 1e-9;

double seconds(std::chrono::milliseconds duration) { return static_cast<double>(duration.count()) / 1000.0; }

core::TimePoint simulatedTime(std::int64_t msFromStart) {
  return core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(kEpoch) +
                         std::chrono::duration_cast<core::TimePoint::duration>(std::chrono::milliseconds(msFromStart)));
}

// A simulated time as seconds from the run's start, as a row's `time`.
double secondsFromStart(core::TimePoint at) {
  return std::chrono::duration<double>(at - simulatedTime(0)).count();
}

// How many steps to run: the workload's duration, or the demand's span.
std::size_t stepCount(const Workload& workload, const DemandSeries& demand) {
  if (workload.duration) {
    const std::int64_t interval = workload.interval.count();
    return static_cast<std::size_t>((workload.duration->count() + interval - 1) / interval);
  }
  return demand.steps.size();
}

// Scale events of one run as the HPA made them (requested replicas), for the
// summary's ups, downs and reversals.
class ScaleEventCounter {
 public:
  void record(std::int32_t from, std::int32_t to, double at, PolicySummary& summary) {
    if (to == from) {
      return;
    }
    const int direction = to > from ? 1 : -1;
    (direction > 0 ? summary.scaleUps : summary.scaleDowns) += 1;
    if (lastDirection_ != 0 && direction != lastDirection_ && at - lastAt_ <= kReversalWindowSeconds) {
      ++summary.reversals;
    }
    lastDirection_ = direction;
    lastAt_ = at;
  }

 private:
  int lastDirection_ = 0;
  double lastAt_ = 0;
};

struct PolicyPlan {
  const core::Policy* policy;
  MetricBinding binding;
};

core::Result<std::vector<PolicyPlan>> plan(std::span<const core::Policy> policies,
                                           const core::AlgorithmRegistry& algorithms, const Capacity& capacity,
                                           bool tokenCountsKnown) {
  std::vector<PolicyPlan> plans;
  std::set<std::string> keys;
  for (const core::Policy& policy : policies) {
    if (!keys.insert(policy.key()).second) {
      return core::Error{"policy " + policy.key() + " is given twice: each policy's run keeps its own history and "
                         "plugin state by its namespace/name"};
    }
    auto binding = bindMetrics(policy);
    if (!binding.ok()) {
      return binding.error();
    }
    if (auto inputs = checkModelInputs(policy, binding.value(), capacity, tokenCountsKnown); !inputs.ok()) {
      return inputs.error();
    }
    const std::string& name = policy.spec.algorithm.name.empty() ? std::string(core::kDefaultAlgorithm)
                                                                 : policy.spec.algorithm.name;
    if (const auto algorithm = algorithms.find(name)) {
      if (const core::Status verdict = core::checkAlgorithmParameters(policy, *algorithm); !verdict.ok()) {
        return verdict.error().withContext("policy " + policy.key());
      }
    }
    plans.push_back(PolicyPlan{&policy, std::move(binding).value()});
  }
  return plans;
}

// An SLO is broken by a value over it, or by no value at all while nothing
// ready serves a demand or a backlog (the worst latency of all).
bool violates(const std::optional<double>& value, const std::optional<double>& slo, bool unserved) {
  if (!slo) {
    return false;
  }
  return value ? *value > *slo : unserved;
}

double toSeconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

// The run's totals, in whole milliseconds: the summary and a sum of the
// timeline's rows are then the same numbers, whatever the run's length.
struct RunTotals {
  std::int64_t replicaMs = 0;
  std::int64_t latencyMs = 0;
  std::int64_t ttftMs = 0;
  std::int64_t waitingMs = 0;
  std::int64_t anyMs = 0;
  std::int64_t shortMs = 0;  // summed waits for capacity
  std::int64_t shortSinceMs = -1;  // when the ready replicas stopped serving the demand; -1: they serve it
};

void finishShortfall(RunTotals& totals, PolicySummary& summary, std::int64_t nowMs) {
  const std::int64_t waited = nowMs - totals.shortSinceMs;
  totals.shortMs += waited;
  ++summary.timeToCapacity.count;
  summary.timeToCapacity.maxSeconds = std::max(summary.timeToCapacity.maxSeconds, toSeconds(waited));
  totals.shortSinceMs = -1;
}

// What Predictive and Burst saw, into the row (issue 14: the timeline says
// it, as status and evaluate do).
void explainInRow(const core::Decision& decision, const core::PolicySpec& spec, TimelineRow& row) {
  if (decision.forecast) {
    const core::ForecastExplanation& forecast = *decision.forecast;
    row.forecastReplicas = forecast.forecastReplicas;
    row.horizonSeconds = forecast.horizonSeconds;
    row.horizonSource = std::string(core::horizonSourceName(forecast.horizonSource));
    row.reactiveReplicas = forecast.reactiveReplicas;
    row.forecastDecided = forecast.decided;
    row.forecastRaised = forecastRaised(forecast, spec);
  }
  if (decision.panic) {
    row.panicking = decision.panic->panicking;
    if (decision.panic->panicking && decision.panic->since) {
      row.panicSince = secondsFromStart(*decision.panic->since);
    }
  }
}

PolicyRun runPolicy(const Workload& workload, const DemandSeries& demand, const PolicyPlan& plan,
                    const core::AlgorithmRegistry& algorithms, const SimulateOptions& options) {
  const core::Policy& policy = *plan.policy;
  PolicyRun run;
  run.policy = policy.key();
  run.requestedAlgorithm =
      policy.spec.algorithm.name.empty() ? std::string(core::kDefaultAlgorithm) : policy.spec.algorithm.name;
  run.algorithm = algorithms.find(run.requestedAlgorithm) ? run.requestedAlgorithm : std::string(core::kDefaultAlgorithm);
  PolicySummary& summary = run.summary;

  const std::int64_t intervalMs = workload.interval.count();
  const std::int64_t syncMs = workload.hpa.syncPeriod.count();
  const std::size_t steps = stepCount(workload, demand);
  ReplicaFleet fleet(workload.replicas, workload.seed);
  HorizontalPodAutoscaler hpa(workload.hpa, workload.keda);
  EngineState engine;
  ScaleEventCounter events;
  RunTotals totals;
  std::int32_t requested = std::max(workload.replicas.initial, 0);
  std::int32_t published = requested;
  std::int32_t publishedBefore = published;
  core::History history;
  AlgorithmModeCounter modes(policy.spec);
  std::int64_t nextSyncMs = syncMs;  // the HPA's first sync after the start
  summary.minReplicas = std::numeric_limits<std::int32_t>::max();
  if (options.keepTimeline) {
    run.timeline.reserve(steps);
  }
  core::DecideSettings settings;
  settings.reason = core::CallReason::kSimulate;
  settings.reactionTime = options.reactionTime;

  for (std::size_t i = 0; i < steps; ++i) {
    const std::int64_t startMs = static_cast<std::int64_t>(i) * intervalMs;
    const std::int64_t endMs = startMs + intervalMs;
    const DemandStep step = i < demand.steps.size() ? demand.steps[i] : DemandStep{};
    const ReplicaFleet::Counts counts = fleet.countAt(startMs);

    EngineInput input;
    input.seconds = toSeconds(intervalMs);
    input.requestsPerSecond = step.requestsPerSecond;
    input.meanContextTokens = step.meanContextTokens > 0 ? step.meanContextTokens : demand.meanContextTokens;
    input.meanGeneratedTokens = step.meanGeneratedTokens > 0 ? step.meanGeneratedTokens : demand.meanGeneratedTokens;
    input.readyReplicas = counts.ready;
    const EngineMetrics metrics = advanceEngine(workload.capacity, engine, input);

    const core::TimePoint now = simulatedTime(endMs);
    if (i == 0) {
      // First sight at the first decision, as serve seeds a policy it has
      // not decided for yet.
      history = core::firstSightHistory(requested, now);
    }
    settings.cycle = i + 1;
    const core::Observation observation = observe(plan.binding, metrics, requested, counts.ready);
    core::Outcome outcome = core::decide(policy, observation, std::move(history), now, algorithms, settings);
    history = std::move(outcome.history);
    const core::Decision& decision = outcome.decision;
    if (!decision.algorithmError.empty()) {
      ++summary.decisionsFailed;
    }
    modes.count(decision, intervalMs);
    // An unservable policy answers UNAVAILABLE: KEDA keeps the HPA where it is.
    if (decision.algorithmUnservable.empty()) {
      published = decision.desiredReplicas;
    }

    TimelineRow row;
    row.time = toSeconds(startMs);
    row.demand = step.requestsPerSecond;
    row.replicas = counts.existing;
    row.readyReplicas = counts.ready;
    row.requestedReplicas = requested;
    row.desiredReplicas = published;
    const bool rowKept = options.keepTimeline || options.onRow;
    if (rowKept) {
      // Texts only for a row someone reads: a summary-only sweep skips them.
      row.metrics.reserve(plan.binding.slots.size());
      for (const SlotSignal& slot : plan.binding.slots) {
        row.metrics.emplace_back(slot.name, decision.values[static_cast<std::size_t>(slot.slot)]);
      }
      row.limitedBy = std::string(core::limitedByName(decision.limitedBy));
      row.reason = decision.algorithmUnservable.empty() ? decision.reason : decision.algorithmUnservable;
      explainInRow(decision, policy.spec, row);
    }
    row.latencyP99Ms = metrics.e2eLatencyP99Ms;
    row.timeToFirstTokenP95Ms = metrics.timeToFirstTokenP95Ms;
    row.requestsWaiting = metrics.poolRequestsWaiting.value_or(metrics.backlog);
    row.backlog = metrics.backlog;
    row.gpuUtilizationPercent = metrics.gpuUtilizationPercent;
    const bool unserved = counts.ready == 0 && (step.requestsPerSecond > 0 || metrics.backlog > kBacklogEpsilon);
    row.violatesLatencyP99 = violates(row.latencyP99Ms, workload.slo.latencyP99Ms, unserved);
    row.violatesTimeToFirstTokenP95 = violates(row.timeToFirstTokenP95Ms, workload.slo.timeToFirstTokenP95Ms, unserved);
    row.violatesRequestsWaiting = workload.slo.requestsWaiting && row.requestsWaiting > *workload.slo.requestsWaiting;

    totals.replicaMs += static_cast<std::int64_t>(counts.existing) * intervalMs;
    totals.latencyMs += row.violatesLatencyP99 ? intervalMs : 0;
    totals.ttftMs += row.violatesTimeToFirstTokenP95 ? intervalMs : 0;
    totals.waitingMs += row.violatesRequestsWaiting ? intervalMs : 0;
    totals.anyMs += row.violatesLatencyP99 || row.violatesTimeToFirstTokenP95 || row.violatesRequestsWaiting ? intervalMs : 0;
    summary.peakBacklog = std::max(summary.peakBacklog, metrics.backlog);
    summary.minReplicas = std::min(summary.minReplicas, counts.existing);
    summary.maxReplicas = std::max(summary.maxReplicas, counts.existing);
    // Short of capacity: what the ready replicas serve is below the demand.
    const bool enough = static_cast<double>(counts.ready) * metrics.serviceRate >= step.requestsPerSecond - 1e-9;
    if (!enough && totals.shortSinceMs < 0) {
      totals.shortSinceMs = startMs;
    } else if (enough && totals.shortSinceMs >= 0) {
      finishShortfall(totals, summary, startMs);
    }

    if (options.onRow) {
      options.onRow(run, row);
    }
    if (options.keepTimeline) {
      run.timeline.push_back(std::move(row));
    }

    // The HPA at each of its syncs within (start, end]: one at the end reads
    // this step's value, one before it the value published at the step's
    // start. None after the last step: nothing after it is simulated.
    for (; i + 1 < steps && nextSyncMs <= endMs; nextSyncMs += syncMs) {
      const std::int32_t read = nextSyncMs == endMs ? published : publishedBefore;
      const std::int32_t next = hpa.sync(requested, read, nextSyncMs);
      events.record(requested, next, toSeconds(nextSyncMs), summary);
      requested = next;
      fleet.scaleTo(requested, nextSyncMs);
    }
    publishedBefore = published;
  }
  const std::int64_t endOfRunMs = static_cast<std::int64_t>(steps) * intervalMs;
  if (totals.shortSinceMs >= 0) {
    finishShortfall(totals, summary, endOfRunMs);  // still short at the end: until the end
  }
  if (summary.timeToCapacity.count > 0) {
    summary.timeToCapacity.meanSeconds = toSeconds(totals.shortMs) / summary.timeToCapacity.count;
  }
  if (steps == 0) {
    summary.minReplicas = 0;
  }
  summary.replicaSeconds = toSeconds(totals.replicaMs);
  summary.sloViolationSeconds.latencyP99Ms = toSeconds(totals.latencyMs);
  summary.sloViolationSeconds.timeToFirstTokenP95Ms = toSeconds(totals.ttftMs);
  summary.sloViolationSeconds.requestsWaiting = toSeconds(totals.waitingMs);
  summary.sloViolationSeconds.any = toSeconds(totals.anyMs);
  modes.finish(summary);
  summary.gpuHours = summary.replicaSeconds * workload.gpusPerReplica / 3600.0;
  if (workload.costPerGpuHour) {
    summary.cost = summary.gpuHours * *workload.costPerGpuHour;
  }
  return run;
}

bool tokenCountsKnown(const DemandSeries& demand) {
  return demand.meanContextTokens > 0 || demand.meanGeneratedTokens > 0;
}

}  // namespace

core::Status checkWorkloadDemand(const Workload& workload, const DemandSeries& demand) {
  if (demand.interval != workload.interval) {
    return core::Error{"the demand is binned at " + std::to_string(demand.interval.count()) +
                       " ms, the workload's interval is " + std::to_string(workload.interval.count()) + " ms"};
  }
  if (workload.slo.timeToFirstTokenP95Ms && !tokenCountsKnown(demand)) {
    // Without token counts the model has no time to first token: every
    // interval would be judged on nothing.
    return core::Error{"spec.slo.timeToFirstTokenP95Ms: the engine model needs token counts to produce the time to "
                       "first token, and this demand has none (an arrivals trace has them; a rate series or a "
                       "Prometheus query does not)"};
  }
  if (stepCount(workload, demand) > static_cast<std::size_t>(kMaxRunSteps)) {
    return core::Error{"the run spans more than " + std::to_string(kMaxRunSteps) + " intervals"};
  }
  return core::Ok{};
}

core::Result<SimulationResult> runSimulation(const Workload& workload, const DemandSeries& demand,
                                             std::span<const core::Policy> policies,
                                             const core::AlgorithmRegistry& algorithms,
                                             const SimulateOptions& options) {
  if (const core::Status checked = checkWorkloadDemand(workload, demand); !checked.ok()) {
    return checked.error();
  }
  auto plans = plan(policies, algorithms, workload.capacity, tokenCountsKnown(demand));
  if (!plans.ok()) {
    return plans.error();
  }
  SimulationResult result;
  result.workload = workload.name;
  result.interval = seconds(workload.interval);
  result.duration = static_cast<double>(stepCount(workload, demand)) * result.interval;
  result.gpusPerReplica = workload.gpusPerReplica;
  result.costPerGpuHour = workload.costPerGpuHour;
  result.capacityRequestsPerSecond = workload.capacity.requestsPerSecond;
  result.initialReplicas = workload.replicas.initial;
  result.startupMinSeconds = workload.replicas.startup.min;
  result.startupMaxSeconds = workload.replicas.startup.max;
  result.shutdownSeconds = workload.replicas.shutdownSeconds;
  result.sloLatencyP99Ms = workload.slo.latencyP99Ms;
  result.sloTimeToFirstTokenP95Ms = workload.slo.timeToFirstTokenP95Ms;
  result.sloRequestsWaiting = workload.slo.requestsWaiting;
  for (const PolicyPlan& policyPlan : plans.value()) {
    // A plugin's state is the run's own: none from before, none left after.
    const core::Policy& policy = *policyPlan.policy;
    const auto algorithm = algorithms.find(policy.spec.algorithm.name);
    if (algorithm) {
      algorithm->forgetPolicy(policy.metadata.namespace_, policy.metadata.name);
    }
    result.policies.push_back(runPolicy(workload, demand, policyPlan, algorithms, options));
    if (algorithm) {
      algorithm->forgetPolicy(policy.metadata.namespace_, policy.metadata.name);
    }
  }
  return result;
}

}  // namespace kubeai::simulate
