// Start-up awareness: while replicas start, per-pod metrics count the ready
// replicas and a scale-up on its way counts as capacity; and the start-up
// time measured from the observations (Predictive's horizon).

#include <doctest/doctest.h>

#include "core/decide.h"
#include "core/startup_tracking.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

using testing::at;

Policy gpuPolicy(std::optional<bool> startupAware) {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.maxReplicas = 100;
  policy.spec.startupAware = startupAware;
  policy.spec.metrics.gpuUtilization->targetPercentage = 40.0;
  return policy;
}

Observation gpu(std::int32_t current, std::optional<std::int32_t> ready, double percent) {
  Observation observation;
  observation.currentReplicas = current;
  observation.readyReplicas = ready;
  observation.gpuUtilizationPercent = percent;
  return observation;
}

struct Row {
  int t;
  std::int32_t current;
  std::optional<std::int32_t> ready;
  double percent;
  std::int32_t aware;    // published with startupAware (the default)
  std::int32_t unaware;  // published with startupAware: false
};

TEST_CASE("one load, one scale-up: the replicas still starting count as capacity") {
  // 2 ready replicas at 160 % of the GPU target of 40 % (3.2 replicas' worth). The HPA
  // takes us to 4 at t = 30; the two new ones are ready at t = 150.
  const Row rows[] = {
      {0, 2, 2, 64.0, 4, 4},    // 1.6 x 2 = 3.2 -> 4
      {15, 2, 2, 64.0, 4, 4},   // our change on its way
      {30, 4, 2, 64.0, 4, 7},   // aware: 1.6 x 2/4 x 4 = 3.2 -> 4; unaware stacks: 1.6 x 4 -> 7
      {45, 4, 2, 64.0, 4, 7},
      {150, 4, 4, 32.0, 4, 4},   // all ready: 0.8 x 4 = 3.2 -> 4
  };
  const auto registry = AlgorithmRegistry::withBuiltins();
  for (const bool aware : {true, false}) {
    CAPTURE(aware);
    const Policy policy = gpuPolicy(aware ? std::nullopt : std::optional<bool>(false));
    History history = firstSightHistory(2, at(0));
    for (const Row& row : rows) {
      CAPTURE(row.t);
      Outcome outcome = decide(policy, gpu(row.current, row.ready, row.percent), std::move(history), at(row.t),
                               *registry, DecideSettings{.reactionTime = std::chrono::seconds(30)});
      CHECK(outcome.decision.desiredReplicas == (aware ? row.aware : row.unaware));
      CHECK(outcome.decision.readyReplicas == row.ready);
      const bool starting = aware && row.ready && *row.ready < row.current;
      CHECK(outcome.decision.servingReplicas == (starting ? *row.ready : row.current));
      history = std::move(outcome.history);
    }
  }
}

TEST_CASE("start-up awareness scales per-pod ratios only, never a total per replica") {
  Policy policy = gpuPolicy(std::nullopt);
  policy.spec.metrics.requestQueueDepth = RequestQueueDepthMetricSpec{true, 10.0, ""};
  Observation observation = gpu(8, 2, 30.0);
  observation.requestQueueDepth = 40.0;  // 40 waiting, 10 per replica: 4 replicas' worth
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Decision decision = decide(policy, observation, History{}, at(0), *registry).decision;
  CHECK(decision.ratios[slotIndex(MetricSlot::kGpuUtilization)].value_or(-1) == doctest::Approx(0.75 * 2 / 8));
  CHECK(decision.reason == "scaled based on max ratio");
  CHECK(decision.ratios[slotIndex(MetricSlot::kRequestQueueDepth)].value_or(-1) == doctest::Approx(40.0 / (10.0 * 8)));
  CHECK(decision.desiredReplicas == 4);  // the queue's 4 beats the GPU's ceil(0.75 x 2) = 2
}

TEST_CASE("a saturated percentage is a lower bound: it is not scaled to the ready replicas") {
  // 2 of 4 ready at 100 % GPU: the load may be any multiple of what they
  // serve, so the two on their way are no known match for it.
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = gpuPolicy(std::nullopt);
  const Decision full = decide(policy, gpu(4, 2, 100.0), History{}, at(0), *registry).decision;
  CHECK(full.ratios[slotIndex(MetricSlot::kGpuUtilization)].value_or(-1) == doctest::Approx(2.5));
  CHECK(full.desiredReplicas == 10);
  const Decision below = decide(policy, gpu(4, 2, 99.0), History{}, at(0), *registry).decision;
  CHECK(below.ratios[slotIndex(MetricSlot::kGpuUtilization)].value_or(-1) == doctest::Approx(99.0 / 40 * 2 / 4));
  CHECK(below.desiredReplicas == 5);
}

// llm-d's pool saturation (custom, Value 80 %) or a KV cache (the same, but a
// share that is full at 100).
Policy customPercentPolicy(MetricUnit unit) {
  Policy policy = gpuPolicy(std::nullopt);
  policy.spec.metrics.gpuUtilization.reset();
  CustomMetricSpec custom;
  custom.name = "pool";
  custom.engine = "llm-d";
  custom.signal = unit == MetricUnit::kPercent ? "kvCacheUtilization" : "poolSaturation";
  custom.targetType = MetricTargetType::kValue;
  custom.targetValue = 80.0;
  custom.unit = unit;
  policy.spec.metrics.custom.push_back(custom);
  return policy;
}

TEST_CASE("a percentage of capacity past 100 (pool saturation) still measures the load: the starting pods count") {
  // The pool's demand over its 5 ready pods' capacity: 133 %, a load of 20
  // requests/s on pods of 3. Against 80 %: 1.67 x 5 = 8.33 -> 9, whatever
  // the requested replicas. Taken whole, as a saturated GPU is, the same
  // reading stacks a scale-up a cycle (1.67 x 9 -> 15, then 24), the overshoot
  // `simulate` showed on a step to 20 requests/s (peak 24 for the 9 needed).
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy pool = customPercentPolicy(MetricUnit::kPercentOfCapacity);
  struct PoolRow {
    int t;
    std::int32_t current;
    std::int32_t ready;
    std::int32_t published;
  };
  const PoolRow rows[] = {
      {0, 5, 5, 9},    // 1.67 x 5 = 8.33 -> 9
      {30, 9, 5, 9},   // 1.67 x 5/9 x 9 = 8.33: no second scale-up for the same load
      {60, 9, 5, 9},
      {90, 9, 5, 9},
  };
  History history = firstSightHistory(5, at(0));
  for (const PoolRow& row : rows) {
    CAPTURE(row.t);
    Observation observation;
    observation.currentReplicas = row.current;
    observation.readyReplicas = row.ready;
    observation.custom[0] = 100.0 * 20.0 / (3.0 * row.ready);
    Outcome outcome = decide(pool, observation, std::move(history), at(row.t), *registry,
                             DecideSettings{.reactionTime = std::chrono::seconds(30)});
    CHECK(outcome.decision.desiredReplicas == row.published);
    history = std::move(outcome.history);
  }
  // A KV cache at 133 % cannot be: at 100 % it is full, a lower bound, and
  // is left whole (1.25 x 9 -> 12) so that stacking probes the load.
  const Policy kv = customPercentPolicy(MetricUnit::kPercent);
  Observation full;
  full.currentReplicas = 9;
  full.readyReplicas = 5;
  full.custom[0] = 100.0;
  const Decision decision = decide(kv, full, History{}, at(0), *registry).decision;
  CHECK(decision.ratios[slotIndex(customSlot(0))].value_or(-1) == doctest::Approx(1.25));
  CHECK(decision.desiredReplicas == 12);
  // The same 100 from the pool is exactly its capacity: 1.25 x 5/9 x 9 = 6.25,
  // below the 9 asked for while 4 start, so it holds them (the HPA's rule).
  const Decision poolFull = decide(pool, full, History{}, at(0), *registry).decision;
  CHECK(poolFull.ratios[slotIndex(customSlot(0))].value_or(-1) == doctest::Approx(1.25 * 5 / 9));
  CHECK(poolFull.desiredReplicas == 9);
}

TEST_CASE("no ready replicas known, or more ready than asked for: the current replicas serve") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = gpuPolicy(std::nullopt);
  CHECK(decide(policy, gpu(4, std::nullopt, 80.0), History{}, at(0), *registry).decision.desiredReplicas == 8);
  CHECK(decide(policy, gpu(4, 6, 80.0), History{}, at(0), *registry).decision.desiredReplicas == 8);
  // None ready at all: one counts, as Knative counts them; 2.0 x 1/4 would
  // turn "more" into "fewer", so it holds (next case).
  CHECK(decide(policy, gpu(4, 0, 80.0), History{}, at(0), *registry).decision.desiredReplicas == 4);
  CHECK(decide(policy, gpu(4, 0, 80.0), History{}, at(0), *registry).decision.servingReplicas == 1);
}

TEST_CASE("counting the starting pods never turns a scale-up into a scale-down: it holds, as the HPA does") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = gpuPolicy(std::nullopt);
  // 10 asked for, 5 ready at 1.2 x the target: 1.2 x 5/10 = 0.6 would remove
  // five pods still starting. The HPA (replica_calculator.go) keeps 10.
  const Decision up = decide(policy, gpu(10, 5, 48.0), History{}, at(0), *registry).decision;
  CHECK(up.ratios[slotIndex(MetricSlot::kGpuUtilization)].value_or(-1) == doctest::Approx(0.6));
  CHECK(up.desiredReplicas == 10);
  CHECK(up.reason == "holding current replicas: the ready ones are over target while the rest start");
  // Under the target the direction stands: 0.5 x 5/10 = 0.25 -> 3.
  const Decision down = decide(policy, gpu(10, 5, 20.0), History{}, at(0), *registry).decision;
  CHECK(down.desiredReplicas == 3);
}

TEST_CASE("the start-up time is measured from requested to ready") {
  StartupTracking tracking;
  observeStartup(tracking, 2, 2, at(0));
  CHECK_FALSE(measuredStartup(tracking));
  observeStartup(tracking, 4, 2, at(15));   // clock for 4 from 15
  observeStartup(tracking, 6, 3, at(30));   // clock for 6 from 30
  observeStartup(tracking, 6, 4, at(120));  // 4 ready: 105 s
  REQUIRE(measuredStartup(tracking));
  CHECK(measuredStartup(tracking)->count() == 105'000);
  observeStartup(tracking, 6, 6, at(165));  // 6 ready: 135 s; mean 120
  CHECK(measuredStartup(tracking)->count() == 120'000);
  CHECK(tracking.pending.empty());

  // A scale-up undone before it is ready gives no sample.
  observeStartup(tracking, 9, 6, at(200));
  observeStartup(tracking, 6, 6, at(215));
  observeStartup(tracking, 6, 6, at(400));
  CHECK(tracking.samplesMs.size() == 2);
  CHECK(tracking.pending.empty());

  // A clock running for more than 30 minutes is dropped (a pod that never
  // becomes ready), and the median is kept under an hour.
  StartupTracking stuck;
  observeStartup(stuck, 3, 3, at(0));
  observeStartup(stuck, 4, 3, at(15));
  observeStartup(stuck, 4, 3, at(15 + 1801));
  CHECK(stuck.pending.empty());
  observeStartup(stuck, 4, 4, at(7200));
  CHECK_FALSE(measuredStartup(stuck));
  StartupTracking slow;
  slow.samplesMs = {5'000'000, 6'000'000, 90'000};
  CHECK(measuredStartup(slow)->count() == 3'600'000);
  slow.samplesMs = {100'000, 90'000, 3'000'000};  // one slow pull moves no median
  CHECK(measuredStartup(slow)->count() == 100'000);

  // Without ready replicas nothing is measured.
  StartupTracking blind;
  observeStartup(blind, 2, std::nullopt, at(0));
  observeStartup(blind, 4, std::nullopt, at(15));
  CHECK(blind.pending.empty());
  CHECK_FALSE(blind.lastCurrent);
}

}  // namespace
}  // namespace kubeai::core
