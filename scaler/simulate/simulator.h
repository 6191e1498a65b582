#pragma once

#include <chrono>
#include <functional>
#include <span>

#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/policy.h"
#include "core/result.h"
#include "simulate/demand.h"
#include "simulate/simulation_result.h"
#include "simulate/workload.h"

namespace kubeai::simulate {

struct SimulateOptions {
  // As serve's --reaction-time (core::DecideSettings).
  std::chrono::milliseconds reactionTime = core::kDefaultReactionTime;
  // Keep every policy's timeline in the result (false: summaries only, memory
  // independent of the trace's length).
  bool keepTimeline = true;
  // Called with each row as it is made (streaming CSV), before it is kept.
  std::function<void(const PolicyRun& run, const TimelineRow& row)> onRow;
};

// What runSimulation() checks of the workload and its demand before any
// policy: the demand's interval, the token counts a time-to-first-token SLO
// needs, the run's length. validate says it of a workload file.
core::Status checkWorkloadDemand(const Workload& workload, const DemandSeries& demand);

// Runs every policy against the same demand, closed loop, on a simulated clock
// (DESIGN §8): each interval the engine model turns the demand and the ready
// replicas into metrics, core::decide() (the pipeline and History of `serve`)
// turns them into the published value, a model of KEDA and the HPA (sync
// period, tolerance) into requested replicas, and the replicas model into
// starting and ready ones. Deterministic for the same inputs.
// Errors name the policy and the metric the model cannot produce.
core::Result<SimulationResult> runSimulation(const Workload& workload, const DemandSeries& demand,
                                             std::span<const core::Policy> policies,
                                             const core::AlgorithmRegistry& algorithms,
                                             const SimulateOptions& options = {});

}  // namespace kubeai::simulate
