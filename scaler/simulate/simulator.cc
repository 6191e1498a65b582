#include "simulate/simulator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "core/decide.h"
#include "core/metric_target.h"
#include "core/validation.h"
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
constexpr double kTimeEpsilon = 1e-9;

double seconds(std::chrono::milliseconds duration) { return static_cast<double>(duration.count()) / 1000.0; }

core::TimePoint simulatedTime(double secondsFromStart) {
  return core::TimePoint(std::chrono::duration_cast<core::TimePoint::duration>(
      kEpoch + std::chrono::duration<double>(secondsFromStart)));
}

// How many steps to run: the workload's duration, or the demand's span.
std::size_t stepCount(const Workload& workload, const DemandSeries& demand) {
  if (workload.duration) {
    return static_cast<std::size_t>(std::ceil(seconds(*workload.duration) / seconds(workload.interval) - 1e-9));
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

bool violates(const std::optional<double>& value, const std::optional<double>& slo, double demand) {
  if (!slo) {
    return false;
  }
  // No value with demand: nothing ready serves it, the worst latency of all.
  return value ? *value > *slo : demand > 0;
}

PolicyRun runPolicy(const Workload& workload, const DemandSeries& demand, const PolicyPlan& plan,
                    const core::AlgorithmRegistry& algorithms, const SimulateOptions& options) {
  const core::Policy& policy = *plan.policy;
  PolicyRun run;
  run.policy = policy.key();
  run.algorithm = policy.spec.algorithm.name.empty() ? std::string(core::kDefaultAlgorithm) : policy.spec.algorithm.name;
  PolicySummary& summary = run.summary;

  const double interval = seconds(workload.interval);
  const double syncPeriod = seconds(workload.hpa.syncPeriod);
  const std::size_t steps = stepCount(workload, demand);
  ReplicaFleet fleet(workload.replicas, workload.seed);
  EngineState engine;
  ScaleEventCounter events;
  std::int32_t requested = std::max(workload.replicas.initial, 0);
  std::int32_t published = requested;
  core::History history = core::firstSightHistory(requested, simulatedTime(0));
  double nextSync = syncPeriod;  // the HPA's first sync after the start
  std::int32_t publishedBefore = published;
  // When the ready replicas stopped carrying the demand; negative: they carry it.
  double overloadedSince = -1;
  summary.minReplicas = std::numeric_limits<std::int32_t>::max();
  if (options.keepTimeline) {
    run.timeline.reserve(steps);
  }

  for (std::size_t i = 0; i < steps; ++i) {
    const double start = static_cast<double>(i) * interval;
    const double end = start + interval;
    const DemandStep step = i < demand.steps.size() ? demand.steps[i] : DemandStep{};
    const ReplicaFleet::Counts counts = fleet.countAt(start);

    EngineInput input;
    input.seconds = interval;
    input.requestsPerSecond = step.requestsPerSecond;
    input.meanContextTokens = step.meanContextTokens > 0 ? step.meanContextTokens : demand.meanContextTokens;
    input.meanGeneratedTokens = step.meanGeneratedTokens > 0 ? step.meanGeneratedTokens : demand.meanGeneratedTokens;
    input.readyReplicas = counts.ready;
    const EngineMetrics metrics = advanceEngine(workload.capacity, engine, input);

    core::DecideSettings settings;
    settings.reason = core::CallReason::kSimulate;
    settings.cycle = i + 1;
    const core::Observation observation = observe(plan.binding, metrics, requested);
    core::Outcome outcome =
        core::decide(policy, observation, std::move(history), simulatedTime(end), algorithms, settings);
    history = std::move(outcome.history);
    const core::Decision& decision = outcome.decision;
    if (!decision.algorithmError.empty()) {
      ++summary.decisionsFailed;
    }
    // An unservable policy answers UNAVAILABLE: KEDA keeps the HPA where it is.
    if (decision.algorithmUnservable.empty()) {
      published = decision.desiredReplicas;
    }

    TimelineRow row;
    row.time = start;
    row.demand = step.requestsPerSecond;
    row.replicas = counts.existing;
    row.readyReplicas = counts.ready;
    row.requestedReplicas = requested;
    row.desiredReplicas = published;
    for (const SlotSignal& slot : plan.binding.slots) {
      row.metrics.emplace_back(slot.name, decision.values[static_cast<std::size_t>(slot.slot)]);
    }
    row.limitedBy = std::string(core::limitedByName(decision.limitedBy));
    row.reason = decision.algorithmUnservable.empty() ? decision.reason : decision.algorithmUnservable;
    row.latencyP99Ms = metrics.e2eLatencyP99Ms;
    row.timeToFirstTokenP95Ms = metrics.timeToFirstTokenP95Ms;
    row.requestsWaiting = metrics.poolRequestsWaiting.value_or(metrics.backlog);
    row.backlog = metrics.backlog;
    row.gpuUtilizationPercent = metrics.gpuUtilizationPercent.value_or(0);
    row.violatesLatencyP99 = violates(row.latencyP99Ms, workload.slo.latencyP99Ms, step.requestsPerSecond);
    row.violatesTimeToFirstTokenP95 =
        violates(row.timeToFirstTokenP95Ms, workload.slo.timeToFirstTokenP95Ms, step.requestsPerSecond);
    row.violatesRequestsWaiting = workload.slo.requestsWaiting && row.requestsWaiting > *workload.slo.requestsWaiting;

    summary.replicaSeconds += counts.existing * interval;
    summary.sloViolationSeconds.latencyP99Ms += row.violatesLatencyP99 ? interval : 0;
    summary.sloViolationSeconds.timeToFirstTokenP95Ms += row.violatesTimeToFirstTokenP95 ? interval : 0;
    summary.sloViolationSeconds.requestsWaiting += row.violatesRequestsWaiting ? interval : 0;
    summary.sloViolationSeconds.any +=
        row.violatesLatencyP99 || row.violatesTimeToFirstTokenP95 || row.violatesRequestsWaiting ? interval : 0;
    summary.peakBacklog = std::max(summary.peakBacklog, metrics.backlog);
    summary.minReplicas = std::min(summary.minReplicas, counts.existing);
    summary.maxReplicas = std::max(summary.maxReplicas, counts.existing);
    // A demand step: the ready replicas stop carrying the demand (a backlog
    // builds); it ends when they carry it again.
    const bool carried = metrics.backlog <= kBacklogEpsilon;
    if (!carried && overloadedSince < 0) {
      overloadedSince = start;
    } else if (carried && overloadedSince >= 0) {
      summary.timeToCapacitySeconds.push_back(start - overloadedSince);
      overloadedSince = -1;
    }

    if (options.onRow) {
      options.onRow(run, row);
    }
    if (options.keepTimeline) {
      run.timeline.push_back(std::move(row));
    }

    // The HPA at each of its syncs within (start, end]: one at the end reads
    // this step's value, one before it the value published at the step's start.
    // None after the last step: nothing after it is simulated.
    for (; i + 1 < steps && nextSync <= end + kTimeEpsilon; nextSync += syncPeriod) {
      const std::int32_t read = nextSync >= end - kTimeEpsilon ? published : publishedBefore;
      const std::int32_t next = hpaRequested(requested, read, workload.hpa.tolerance);
      events.record(requested, next, nextSync, summary);
      requested = next;
      fleet.scaleTo(requested, nextSync);
    }
    publishedBefore = published;
  }
  if (overloadedSince >= 0) {
    // Still short at the end: how long it had been.
    summary.timeToCapacitySeconds.push_back(static_cast<double>(steps) * interval - overloadedSince);
  }
  if (steps == 0) {
    summary.minReplicas = 0;
  }
  summary.gpuHours = summary.replicaSeconds * workload.gpusPerReplica / 3600.0;
  if (workload.costPerGpuHour) {
    summary.cost = summary.gpuHours * *workload.costPerGpuHour;
  }
  return run;
}

}  // namespace

core::Result<SimulationResult> runSimulation(const Workload& workload, const DemandSeries& demand,
                                             std::span<const core::Policy> policies,
                                             const core::AlgorithmRegistry& algorithms,
                                             const SimulateOptions& options) {
  if (demand.interval != workload.interval) {
    return core::Error{"the demand is binned at " + std::to_string(demand.interval.count()) +
                       " ms, the workload's interval is " + std::to_string(workload.interval.count()) + " ms"};
  }
  const bool tokenCountsKnown = demand.meanContextTokens > 0 || demand.meanGeneratedTokens > 0;
  auto plans = plan(policies, algorithms, workload.capacity, tokenCountsKnown);
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
