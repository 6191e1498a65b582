#pragma once

// A synthetic SimulationResult for the HTML report's tests: a demand step up
// and back down, three policies that follow it differently, every kind of
// limit acting somewhere, and latency above the SLO while replicas start.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "simulate/simulation_result.h"

namespace kubeai::simulate::test {

inline SimulationResult reportFixture(std::size_t steps = 480, std::size_t policyCount = 3) {
  SimulationResult result;
  result.workload = "code-assistant";
  result.interval = 15;
  result.duration = static_cast<double>(steps) * result.interval;
  result.gpusPerReplica = 1;
  result.costPerGpuHour = 2.5;
  result.sloLatencyP99Ms = 8000;
  result.sloTimeToFirstTokenP95Ms = 1000;
  result.sloRequestsWaiting = 20;
  static const char* const kLimits[] = {"minReplicas",    "maxReplicas",   "scaleUpPolicy",
                                        "scaleDownPolicy", "stabilization", "cooldown"};
  for (std::size_t p = 0; p < policyCount; ++p) {
    PolicyRun run;
    run.policy = "default/policy-" + std::to_string(p);
    run.algorithm = p == 2 ? "CappedSmoothRatio" : "MaxRatio";
    int replicas = 2;
    for (std::size_t i = 0; i < steps; ++i) {
      TimelineRow row;
      row.time = static_cast<double>(i) * result.interval;
      const double phase = static_cast<double>(i) / static_cast<double>(steps);
      // A step up at a quarter and down at three quarters, with a ripple so
      // the downsampled lines have something to keep.
      row.demand = (phase >= 0.25 && phase < 0.75 ? 20.0 : 5.0) + std::sin(static_cast<double>(i) * 0.7);
      const int needed = static_cast<int>(std::ceil(row.demand / 2.5));
      const int target = needed + static_cast<int>(p);
      if (replicas < target) {
        replicas += 1 + static_cast<int>(p);  // each policy climbs at its own rate
        replicas = std::min(replicas, target);
      } else if (replicas > target && i % (4 + p) == 0) {
        --replicas;
      }
      row.replicas = replicas;
      // Start-up: the last two added are not ready yet while climbing.
      row.readyReplicas = replicas < target ? std::max(1, replicas - 2) : replicas;
      row.requestedReplicas = replicas;
      row.desiredReplicas = target;
      const double load = row.demand / (2.5 * row.readyReplicas);
      row.latencyP99Ms = load >= 1 ? 30000.0 : 2000.0 + 4000.0 * load + 500.0 * static_cast<double>(p);
      row.timeToFirstTokenP95Ms = 300;
      row.gpuUtilizationPercent = std::min(100.0, 100 * load);
      row.metrics = {{"gpuUtilization", row.gpuUtilizationPercent}};
      // Each policy shows two kinds of limit, in alternating stretches.
      if (i % 40 < 12) {
        row.limitedBy = kLimits[(2 * p + (i / 40) % 2) % 6];
        row.reason = "limited by " + row.limitedBy;
      }
      run.timeline.push_back(std::move(row));
    }
    run.summary.replicaSeconds = 1000.0 * static_cast<double>(p + 1);
    run.summary.gpuHours = run.summary.replicaSeconds / 3600;
    run.summary.cost = run.summary.gpuHours * 2.5;
    run.summary.sloViolationSeconds = {45, 15, 30, 60};
    run.summary.peakBacklog = 12.5;
    run.summary.scaleUps = 3;
    run.summary.scaleDowns = 2;
    run.summary.reversals = static_cast<int>(p);
    run.summary.minReplicas = 2;
    run.summary.maxReplicas = 8 + static_cast<int>(p);
    run.summary.timeToCapacity = {2, 150, 180};
    run.summary.decisionsFailed = 0;
    result.policies.push_back(std::move(run));
  }
  return result;
}

// The same, with policy-0 a Predictive (a forecast on every row, raising the
// answer while the demand is high; the horizon the default until t = 600,
// measured after) and policy-1 a Burst (in panic for 10 steps from each of
// the demand's two jumps).
inline SimulationResult reportFixtureWithPredictiveAndBurst(std::size_t steps = 480, std::size_t policyCount = 3) {
  SimulationResult result = reportFixture(steps, policyCount);
  PolicyRun& predictive = result.policies.at(0);
  predictive.algorithm = "Predictive";
  predictive.requestedAlgorithm = "Predictive";
  std::int32_t raised = 0;
  for (TimelineRow& row : predictive.timeline) {
    row.forecastReplicas = row.demand / 2.5 + 1.5;
    const bool measured = row.time >= 600;
    row.horizonSeconds = measured ? 120 : 60;
    row.horizonSource = measured ? "measured" : "default";
    row.forecastDecided = row.demand > 10;
    // One decided step in four was at maxReplicas with MaxRatio's answer:
    // decided, yet it raised nothing published, and no band shows it.
    row.forecastRaised = *row.forecastDecided && static_cast<int>(row.time) % 60 != 0;
    raised += *row.forecastRaised ? 1 : 0;
  }
  predictive.summary.forecastRaised = raised;
  if (result.policies.size() > 1) {
    PolicyRun& burst = result.policies[1];
    burst.algorithm = "Burst";
    burst.requestedAlgorithm = "Burst";
    const std::size_t up = steps / 4;
    const std::size_t down = 3 * steps / 4;
    for (std::size_t i = 0; i < burst.timeline.size(); ++i) {
      TimelineRow& row = burst.timeline[i];
      row.panicking = (i >= up && i < up + 10) || (i >= down && i < down + 10);
      if (*row.panicking) {
        row.panicSince = static_cast<double>(i < down ? up : down) * result.interval + result.interval;
      }
    }
    burst.summary.panics = 2;
    burst.summary.panicSeconds = 20 * result.interval;
  }
  return result;
}

}  // namespace kubeai::simulate::test
