// Burst (Knative's panic mode) as sequences: when panic begins and ends, and
// what it asks for meanwhile, worked out by hand from the documented windows.

#include <doctest/doctest.h>

#include <string>

#include "core/burst_algorithm.h"
#include "core/decide.h"
#include "core/validation.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

using testing::at;

Policy burstPolicy() {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.maxReplicas = 100;
  policy.spec.algorithm.name = "Burst";
  policy.spec.metrics.gpuUtilization->targetPercentage = 20.0;  // room above the target: no saturation
  return policy;
}

Observation gpu(std::int32_t current, double percent) {
  Observation observation;
  observation.currentReplicas = current;
  observation.readyReplicas = current;
  observation.gpuUtilizationPercent = percent;
  return observation;
}

TEST_CASE("Burst: panic enters and leaves at the documented times") {
  // 4 replicas, a decision every 2 s. Demand 4 replicas' worth (20 %, at the
  // target) until t = 60, then 10 (50 %) until t = 100, then 4.
  // Defaults: stable window 60 s, panic window 6 s, threshold 2.0.
  //   t = 60: panic window {56, 58, 60} = (4 + 4 + 10) / 3 = 6 -> 6 / 4 = 1.5: calm;
  //           stable window (0, 60] = (29 x 4 + 10) / 30 = 4.2 -> 1.05: within tolerance, 4
  //   t = 62: {58, 60, 62} = 8 -> 2.0 >= 2: panic since 62, asks ceil(8) = 8
  //   t = 64: {60, 62, 64} = 10 -> 10
  //   t = 100: {96, 98, 100} = 8, still over: the panic is extended to 100
  //   t = 102..158: under the threshold, but within 60 s of 100: holds 10
  //   t = 160: 60 s without panic: calm; the stable window (100, 160] is all 4: 4
  const Policy policy = burstPolicy();
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(4, at(0));
  for (int t = 0; t <= 200; t += 2) {
    CAPTURE(t);
    const double percent = (t >= 60 && t < 100) ? 50.0 : 20.0;
    Outcome outcome = decide(policy, gpu(4, percent), std::move(history), at(t), *registry);
    history = std::move(outcome.history);
    const Decision& decision = outcome.decision;
    REQUIRE(decision.panic);
    const bool panicking = t >= 62 && t < 160;
    CHECK(decision.panic->panicking == panicking);
    if (panicking) {
      REQUIRE(decision.panic->since);
      CHECK(*decision.panic->since == at(62));
      CHECK(decision.reason == kReasonBurstPanic);
    } else {
      CHECK_FALSE(decision.panic->since);
    }
    std::int32_t expected = 4;
    if (t == 62) {
      expected = 8;
    } else if (t >= 64 && t < 160) {
      expected = 10;
    }
    CHECK(decision.recommendedReplicas == expected);
  }
}

TEST_CASE("Burst: the panic ratio and the means are explained") {
  const Policy policy = burstPolicy();
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(4, at(0));
  Outcome first = decide(policy, gpu(4, 20.0), std::move(history), at(0), *registry);
  Outcome second = decide(policy, gpu(4, 80.0), std::move(first.history), at(10), *registry);
  // Panic window (4, 10] holds only t = 10: 16 replicas' worth, 4x the 4 serving.
  REQUIRE(second.decision.panic);
  CHECK(second.decision.panic->panicReplicas == doctest::Approx(16.0));
  CHECK(second.decision.panic->stableReplicas == doctest::Approx(10.0));
  CHECK(second.decision.panic->panicRatio == doctest::Approx(4.0));
  CHECK(second.decision.panic->panicThreshold == 2.0);
  CHECK_FALSE(second.decision.panic->saturated);
  CHECK(second.decision.recommendedReplicas == 16);
}

TEST_CASE("Burst: a saturated percentage counts as over the threshold") {
  // GPU at 100 % against a target of 80 % is a ratio of 1.25, under 2.0, but
  // full pods cannot show more: it panics, and holds until a calm stable window.
  Policy policy = burstPolicy();
  policy.spec.metrics.gpuUtilization->targetPercentage = 80.0;
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(4, at(0));
  Outcome full = decide(policy, gpu(4, 100.0), std::move(history), at(0), *registry);
  REQUIRE(full.decision.panic);
  CHECK(full.decision.panic->saturated);
  CHECK(full.decision.panic->panicking);
  // The load is read as at least 2.0 x the 4 serving: 8, where 1.25 x 4 gives 5.
  CHECK(full.decision.recommendedReplicas == 8);
  Outcome calm = decide(policy, gpu(8, 60.0), std::move(full.history), at(30), *registry);
  CHECK(calm.decision.panic->panicking);  // 30 s since the last over: still panicking
  CHECK(calm.decision.recommendedReplicas == 8);
  Outcome over = decide(policy, gpu(8, 60.0), std::move(calm.history), at(60), *registry);
  CHECK_FALSE(over.decision.panic->panicking);
  CHECK_FALSE(over.decision.panic->saturated);
}

TEST_CASE("Burst: a percentage of capacity past 100 is a ratio like any other, not saturated") {
  // llm-d's pool saturation at 150 % against 80 %: 1.875 x the 4 ready, under
  // the threshold of 2.0, so no panic; at 170 % (2.125 once the 6 s panic
  // window holds that reading alone, at t = 8) it panics on its ratio.
  Policy policy = burstPolicy();
  policy.spec.metrics.gpuUtilization.reset();
  CustomMetricSpec pool;
  pool.name = "pool";
  pool.engine = "llm-d";
  pool.signal = "poolSaturation";
  pool.targetValue = 80.0;
  pool.unit = MetricUnit::kPercentOfCapacity;
  policy.spec.metrics.custom.push_back(pool);
  const auto registry = AlgorithmRegistry::withBuiltins();
  Observation observation;
  observation.currentReplicas = 4;
  observation.readyReplicas = 4;
  observation.custom[0] = 150.0;
  Outcome calm = decide(policy, observation, firstSightHistory(4, at(0)), at(0), *registry);
  REQUIRE(calm.decision.panic);
  CHECK_FALSE(calm.decision.panic->saturated);
  CHECK_FALSE(calm.decision.panic->panicking);
  CHECK(calm.decision.recommendedReplicas == 8);  // ceil(1.875 x 4) = 8, the stable window's
  observation.custom[0] = 170.0;
  Outcome over = decide(policy, observation, std::move(calm.history), at(8), *registry);
  CHECK(over.decision.panic->panicRatio == doctest::Approx(2.125));
  CHECK_FALSE(over.decision.panic->saturated);
  CHECK(over.decision.panic->panicking);
}

TEST_CASE("Burst: a steady load never panics and follows the stable window") {
  const Policy policy = burstPolicy();
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(4, at(0));
  for (int t = 0; t <= 600; t += 15) {
    Outcome outcome = decide(policy, gpu(4, 20.0), std::move(history), at(t), *registry);
    CHECK_FALSE(outcome.decision.panic->panicking);
    CHECK(outcome.decision.desiredReplicas == 4);
    history = std::move(outcome.history);
  }
}

TEST_CASE("Burst: parameters are checked, naming the field") {
  const BurstAlgorithm burst;
  auto check = [&](AlgorithmParameters parameters) {
    return burst.validateParameters(ValidateInput{"chat", "default", &parameters, {}});
  };
  CHECK(check({}).ok());
  CHECK(check({{"stableWindowSeconds", "120"}, {"panicWindowSeconds", "12"}, {"panicThreshold", "1.5"}}).ok());
  const auto wide = check({{"panicWindowSeconds", "90"}});
  REQUIRE_FALSE(wide.ok());
  CHECK(wide.error().message ==
        "spec.algorithm.parameters.panicWindowSeconds: must be <= stableWindowSeconds (60) (Burst)");
  const auto low = check({{"panicThreshold", "1"}});
  REQUIRE_FALSE(low.ok());
  CHECK(low.error().message == "spec.algorithm.parameters.panicThreshold: must be > 1 and <= 100 (Burst), got 1");
}

}  // namespace
}  // namespace kubeai::core

namespace kubeai::core {
namespace {

TEST_CASE("Burst: validate names the parameter once, as the built-in words it") {
  Policy policy = testing::makePolicy();
  policy.spec.algorithm.name = "Burst";
  policy.spec.algorithm.parameters = {{"stableWindow", "60"}};
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Status verdict = checkAlgorithmParameters(policy, *registry->find("Burst"));
  REQUIRE_FALSE(verdict.ok());
  CHECK(verdict.error().message ==
        "spec.algorithm.parameters.stableWindow: unknown parameter of Burst (known: stableWindowSeconds, "
        "panicWindowSeconds, panicThreshold)");
}

}  // namespace
}  // namespace kubeai::core

namespace kubeai::core {
namespace {

TEST_CASE("Burst: an old panic does not come back after a gap, and a panic is never a hold") {
  const Policy policy = burstPolicy();
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(4, at(0));
  Outcome panic = decide(policy, gpu(4, 100.0 * 0.5 * 2), std::move(history), at(0), *registry);  // 100 %: 20 x
  REQUIRE(panic.decision.panic->panicking);
  // An hour without decisions (no metrics), then a burst of 2.5x: a new panic, from now.
  Outcome later = decide(policy, gpu(4, 50.0), std::move(panic.history), at(3600), *registry);
  REQUIRE(later.decision.panic->panicking);
  CHECK(*later.decision.panic->since == at(3600));
  CHECK(later.decision.recommendedReplicas == 10);

  // A clock set back an hour: the samples from the "future" are dropped.
  Outcome back = decide(policy, gpu(4, 20.0), std::move(later.history), at(0), *registry);
  CHECK(back.decision.panic->stableReplicas == doctest::Approx(4.0));
}

TEST_CASE("Burst: a panic answering the current replicas stops our scale-down on its way") {
  Policy policy = burstPolicy();
  policy.spec.metrics.gpuUtilization->targetPercentage = 95.0;
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(10, at(0));
  Outcome calm = decide(policy, gpu(10, 50.0), std::move(history), at(0), *registry);
  REQUIRE(calm.decision.desiredReplicas == 6);  // 10 x 50/95 -> 6: on its way
  Outcome full = decide(policy, gpu(10, 100.0), std::move(calm.history), at(15), *registry);
  REQUIRE(full.decision.panic->panicking);
  CHECK(full.decision.recommendedReplicas >= 10);
  CHECK(full.decision.desiredReplicas >= 10);
}

}  // namespace
}  // namespace kubeai::core
