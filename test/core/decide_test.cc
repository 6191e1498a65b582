#include "core/decide.h"

#include <doctest/doctest.h>

#include <limits>

#include "core/builtin_algorithms.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Decision decideOnce(const Policy& policy, const Observation& observation, const AlgorithmRegistry& registry) {
  return decide(policy, observation, History{}, testing::at(0), registry).decision;
}

Decision decideOnce(const Policy& policy, const Observation& observation) {
  const auto registry = AlgorithmRegistry::withBuiltins();
  return decideOnce(policy, observation, *registry);
}

Observation gpu(std::int32_t current, std::optional<double> percent) {
  Observation observation;
  observation.currentReplicas = current;
  observation.gpuUtilizationPercent = percent;
  return observation;
}

TEST_CASE("the pipeline end to end: reasons, ratios, limits") {
  struct Row {
    const char* what;
    std::int32_t min;
    std::int32_t max;
    Observation observation;
    std::int32_t desired;
    const char* reason;
    LimitedBy limitedBy;
  };
  const Row rows[] = {
      {"scale up", 1, 10, gpu(4, 120), 6, kReasonMaxRatio, LimitedBy::kNone},
      {"scale up, capped by max", 1, 5, gpu(4, 160), 5, kReasonMaxRatio, LimitedBy::kMaxReplicas},
      {"scale down", 1, 10, gpu(8, 20), 2, kReasonMaxRatio, LimitedBy::kNone},
      {"scale down, floored by min", 3, 10, gpu(8, 20), 3, kReasonMaxRatio, LimitedBy::kMinReplicas},
      {"hold within tolerance at 72 %", 1, 10, gpu(4, 72), 4, kReasonWithinTolerance, LimitedBy::kNone},
      {"hold within tolerance at 88 %", 1, 10, gpu(4, 88), 4, kReasonWithinTolerance, LimitedBy::kNone},
      {"holding below min still clamps", 5, 10, gpu(2, 80), 5, kReasonWithinTolerance, LimitedBy::kMinReplicas},
      {"holding above max still clamps", 1, 3, gpu(6, 80), 3, kReasonWithinTolerance, LimitedBy::kMaxReplicas},
      {"no data holds", 1, 10, gpu(4, std::nullopt), 4, kReasonNoMetrics, LimitedBy::kNone},
      {"no data below min clamps", 2, 10, gpu(1, std::nullopt), 2, kReasonNoMetrics, LimitedBy::kMinReplicas},
      {"NaN is no data", 1, 10, gpu(4, kNaN), 4, kReasonNoMetrics, LimitedBy::kNone},
      {"+Inf is no data", 1, 10, gpu(4, kInf), 4, kReasonNoMetrics, LimitedBy::kNone},
      {"idle 0 % is data: scale to min", 1, 10, gpu(6, 0), 1, kReasonMaxRatio, LimitedBy::kMinReplicas},
      {"current 0 with load wakes", 0, 10, gpu(0, 200), 3, kReasonMaxRatio, LimitedBy::kNone},
      {"current 0 at min 1", 1, 10, gpu(0, std::nullopt), 1, kReasonNoMetrics, LimitedBy::kMinReplicas},
      {"current 0, min 0, no data stays 0", 0, 10, gpu(0, std::nullopt), 0, kReasonNoMetrics, LimitedBy::kNone},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    Policy policy = testing::makePolicy();
    policy.spec.metrics.latency.reset();
    policy.spec.metrics.requestQueueDepth.reset();
    policy.spec.minReplicas = row.min;
    policy.spec.maxReplicas = row.max;
    const Decision decision = decideOnce(policy, row.observation);
    CHECK(decision.desiredReplicas == row.desired);
    CHECK(decision.reason == row.reason);
    CHECK(decision.limitedBy == row.limitedBy);
    CHECK(decision.currentReplicas == row.observation.currentReplicas);
    CHECK(decision.algorithm == "MaxRatio");
    CHECK(decision.algorithmValid);
  }
}

TEST_CASE("the decision explains itself: ratios by slot, the deciding ratio, the recommendation") {
  Policy policy = testing::makePolicy();
  Observation observation{4, 750.0, std::nullopt, 40.0, 20.0};
  const Decision decision = decideOnce(policy, observation);
  CHECK(*decision.ratios[slotIndex(MetricSlot::kLatencyP99)] == doctest::Approx(1.5));
  CHECK_FALSE(decision.ratios[slotIndex(MetricSlot::kLatencyP95)].has_value());
  CHECK(*decision.ratios[slotIndex(MetricSlot::kGpuUtilization)] == doctest::Approx(0.5));
  CHECK(*decision.ratios[slotIndex(MetricSlot::kRequestQueueDepth)] == doctest::Approx(0.5));
  REQUIRE(decision.ratio.has_value());
  CHECK(*decision.ratio == doctest::Approx(1.5));
  CHECK(decision.recommendedReplicas == 6);
  CHECK(decision.desiredReplicas == 6);
  CHECK(decision.requestedAlgorithm == "MaxRatio");
}

TEST_CASE("an unknown algorithm falls back to MaxRatio and says so") {
  Policy policy = testing::makePolicy();
  policy.spec.algorithm.name = "NoSuchAlgorithm";
  const Decision decision = decideOnce(policy, gpu(4, 120));
  CHECK(decision.requestedAlgorithm == "NoSuchAlgorithm");
  CHECK(decision.algorithm == "MaxRatio");
  CHECK_FALSE(decision.algorithmValid);
  CHECK(decision.desiredReplicas == 6);
  CHECK(decision.reason == kReasonMaxRatio);
}

TEST_CASE("the configured algorithm is used, with the policy's tolerance") {
  Policy policy = testing::makePolicy();
  policy.spec.algorithm.name = "AverageRatio";
  policy.spec.algorithm.tolerance = 0.3;
  Observation observation{4, 750.0, std::nullopt, 40.0, std::nullopt};  // mean of 1.5 and 0.5 = 1.0
  const Decision decision = decideOnce(policy, observation);
  CHECK(decision.algorithm == "AverageRatio");
  CHECK(decision.reason == kReasonWithinTolerance);
  CHECK(decision.desiredReplicas == 4);
}

TEST_CASE("WeightedRatio with all present weights zero holds, with its reason") {
  Policy policy = testing::makePolicy();
  policy.spec.algorithm.name = "WeightedRatio";
  policy.spec.algorithm.weights = {0.0, 0.0, 0.0, 0.0};
  const Decision decision = decideOnce(policy, gpu(3, 200));
  CHECK(decision.desiredReplicas == 3);
  CHECK(decision.reason == kReasonTotalWeightZero);
}

class FailingAlgorithm final : public ScalingAlgorithm {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "Failing"; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput&) const override {
    return Error{"model server unreachable"};
  }
};

class NegativeAlgorithm final : public ScalingAlgorithm {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "Negative"; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput&) const override {
    return AlgorithmOutput{-3, "oops", std::nullopt, false, {}, {}};
  }
};

class EchoAlgorithm final : public ScalingAlgorithm {
 public:
  [[nodiscard]] std::string_view name() const noexcept override { return "Echo"; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput& input) const override {
    // Reports what it was given, so the test can check the input.
    std::string seen = std::string(input.policyNamespace) + "/" + std::string(input.policyName) + " " +
                       std::to_string(input.ratios.size()) + " " + input.parameters->at("mode");
    return AlgorithmOutput{input.maxReplicas + 5, seen, std::nullopt, false, {}, {}};
  }
};

TEST_CASE("a failing algorithm holds the current replicas and says why") {
  auto registry = AlgorithmRegistry::withBuiltins();
  REQUIRE(registry->add(std::make_shared<FailingAlgorithm>()).ok());
  REQUIRE(registry->add(std::make_shared<NegativeAlgorithm>()).ok());
  Policy policy = testing::makePolicy();

  policy.spec.algorithm.name = "Failing";
  const Decision failed = decideOnce(policy, gpu(4, 160), *registry);
  CHECK(failed.desiredReplicas == 4);
  CHECK(failed.algorithmError == "model server unreachable");
  CHECK(failed.reason == "algorithm Failing failed, holding current replicas: model server unreachable");

  policy.spec.algorithm.name = "Negative";
  const Decision negative = decideOnce(policy, gpu(4, 160), *registry);
  CHECK(negative.desiredReplicas == 4);
  CHECK(negative.algorithmError == "returned negative desired replicas (-3)");
}

TEST_CASE("plugins get identity, present ratios and parameters, their answer is still clamped") {
  auto registry = AlgorithmRegistry::withBuiltins();
  REQUIRE(registry->add(std::make_shared<EchoAlgorithm>()).ok());
  Policy policy = testing::makePolicy();
  policy.metadata.namespace_ = "llm";
  policy.spec.algorithm.name = "Echo";
  policy.spec.algorithm.parameters = {{"mode", "fast"}};
  Observation observation{4, 400.0, std::nullopt, 40.0, std::nullopt};
  const Decision decision = decideOnce(policy, observation, *registry);
  CHECK(decision.reason == "llm/chat 2 fast");
  CHECK(decision.recommendedReplicas == 15);
  CHECK(decision.desiredReplicas == 10);
  CHECK(decision.limitedBy == LimitedBy::kMaxReplicas);
}

TEST_CASE("no present slot never calls the algorithm") {
  auto registry = AlgorithmRegistry::withBuiltins();
  REQUIRE(registry->add(std::make_shared<FailingAlgorithm>()).ok());
  Policy policy = testing::makePolicy();
  policy.spec.algorithm.name = "Failing";
  const Decision decision = decideOnce(policy, gpu(4, std::nullopt), *registry);
  CHECK(decision.reason == kReasonNoMetrics);
  CHECK(decision.algorithmError.empty());
}

TEST_CASE("huge ratios saturate instead of overflowing") {
  Policy policy = testing::makePolicy();
  policy.spec.maxReplicas = std::numeric_limits<std::int32_t>::max();
  const Decision decision = decideOnce(policy, gpu(std::numeric_limits<std::int32_t>::max(), 1e300));
  CHECK(decision.desiredReplicas == std::numeric_limits<std::int32_t>::max());
}

TEST_CASE("negative current replicas are read as zero") {
  const Decision decision = decideOnce(testing::makePolicy(), gpu(-4, std::nullopt));
  CHECK(decision.currentReplicas == 0);
  CHECK(decision.desiredReplicas == 1);
}

TEST_CASE("decide is deterministic: same inputs, same decision and history") {
  Policy policy = testing::makePolicy();
  policy.spec.scaleDown = ScalingRules{60, {{ScalingPolicyType::kPods, 1, 30}}, SelectPolicy::kMax};
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Outcome first = decide(policy, gpu(5, 20), History{}, testing::at(10), *registry);
  const Outcome second = decide(policy, gpu(5, 20), History{}, testing::at(10), *registry);
  CHECK(first.decision.desiredReplicas == second.decision.desiredReplicas);
  CHECK(first.history.published == second.history.published);
  CHECK(first.history.recommendations.size() == second.history.recommendations.size());
}

}  // namespace
}  // namespace kubeai::core
