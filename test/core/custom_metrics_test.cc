// spec.metrics.custom[] through the pipeline: slots after the seed four,
// Value and AverageValue ratios, each metric's weight, what validation refuses.
#include <doctest/doctest.h>

#include <string>

#include "core/custom_metric_validation.h"
#include "core/decide.h"
#include "core/metric_target.h"
#include "core/replica_calculator.h"
#include "core/validation.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

CustomMetricSpec custom(std::string name, MetricTargetType type, double target, double weight = 1.0) {
  CustomMetricSpec metric;
  metric.name = std::move(name);
  metric.prometheusQuery = "sum(x)";
  metric.targetType = type;
  metric.targetValue = target;
  metric.weight = weight;
  return metric;
}

// Only custom metrics: GPU and latency off, the queue left out.
Policy customOnly() {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.gpuUtilization.reset();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.metrics.custom = {custom("kvCache", MetricTargetType::kValue, 80.0),
                                custom("waiting", MetricTargetType::kAverageValue, 5.0, 2.0)};
  return policy;
}

Decision decideOnce(const Policy& policy, const Observation& observation) {
  const auto registry = AlgorithmRegistry::withBuiltins();
  return decide(policy, observation, History{}, testing::at(0), *registry).decision;
}

TEST_CASE("custom metrics: Value is value / target, AverageValue is value / (target x max(current, 1))") {
  const Policy policy = customOnly();
  Observation observation;
  observation.currentReplicas = 4;
  observation.custom[0] = 60.0;  // KV 60 % of 80: 0.75
  observation.custom[1] = 40.0;  // 40 waiting over 4 replicas at 5 each: 2.0
  const SlotRatios ratios = computeRatios(policy.spec, observation);
  CHECK(ratios[kMetricSlotCount] == doctest::Approx(0.75));
  CHECK(ratios[kMetricSlotCount + 1] == doctest::Approx(2.0));
  for (std::size_t i = 0; i < kMetricSlotCount; ++i) {
    CHECK_FALSE(ratios[i].has_value());
  }

  const Decision decision = decideOnce(policy, observation);
  CHECK(decision.desiredReplicas == 8);  // MaxRatio: ceil(4 x 2.0)
  CHECK(decision.ratio == doctest::Approx(2.0));
  CHECK(decision.values[kMetricSlotCount] == 60.0);
  CHECK(decision.values[kMetricSlotCount + 1] == 40.0);

  // At 0 replicas AverageValue divides by 1: 3 waiting at 5 each wakes one replica.
  observation.currentReplicas = 0;
  observation.custom[0].reset();
  observation.custom[1] = 3.0;
  CHECK(computeRatios(policy.spec, observation)[kMetricSlotCount + 1] == doctest::Approx(0.6));
}

TEST_CASE("custom metrics: no data is not zero, a real 0 scales down") {
  const Policy policy = customOnly();
  Observation observation;
  observation.currentReplicas = 4;
  Decision decision = decideOnce(policy, observation);
  CHECK(decision.reason == "no metrics available");
  CHECK(decision.desiredReplicas == 4);

  observation.custom[0] = 0.0;
  decision = decideOnce(policy, observation);
  CHECK(decision.desiredReplicas == 1);  // minReplicas
}

TEST_CASE("custom metrics: WeightedRatio weighs each by its own weight, the seed four by position") {
  Policy policy = customOnly();
  policy.spec.algorithm.name = "WeightedRatio";
  policy.spec.algorithm.tolerance = 0.0;
  policy.spec.metrics.gpuUtilization = GpuUtilizationMetricSpec{true, 50.0, ""};
  policy.spec.algorithm.weights = {1.0, 1.0, 3.0};  // GPU weighs 3
  policy.spec.maxReplicas = 20;
  Observation observation;
  observation.currentReplicas = 10;
  observation.gpuUtilizationPercent = 100.0;  // 2.0 x 3
  observation.custom[0] = 40.0;               // 0.5 x 1
  observation.custom[1] = 10.0;               // 10 / (5 x 10) = 0.2, x 2
  const Decision decision = decideOnce(policy, observation);
  const double expected = (2.0 * 3 + 0.5 * 1 + 0.2 * 2) / 6.0;
  REQUIRE(decision.ratio.has_value());
  CHECK(*decision.ratio == doctest::Approx(expected));
  CHECK(decision.desiredReplicas == 12);  // ceil(10 x 1.15)
}

TEST_CASE("custom metrics: metricTarget names the slot and gives the preset's unit") {
  Policy policy = customOnly();
  policy.spec.metrics.custom[0].unit = MetricUnit::kPercent;
  const MetricTarget kv = metricTarget(policy.spec.metrics, customSlot(0));
  CHECK(kv.name == "kvCache");
  CHECK(kv.unit == "percent");
  CHECK(kv.targetType == "Value");
  CHECK(kv.target == 80.0);
  CHECK_FALSE(kv.perReplica);
  const MetricTarget waiting = metricTarget(policy.spec.metrics, customSlot(1));
  CHECK(waiting.targetType == "AverageValue");
  CHECK(waiting.perReplica);
  CHECK(waiting.unit.empty());
  CHECK(metricName(policy.spec.metrics, MetricSlot::kGpuUtilization) == "gpuUtilization");
}

std::string errorsOf(const Policy& policy) {
  std::string out;
  for (const FieldError& error : validatePolicy(policy).errors) {
    out += error.toString();
    out += "\n";
  }
  return out;
}

TEST_CASE("custom metrics: validation names the field of every problem") {
  Policy policy = customOnly();
  CHECK(errorsOf(policy).empty());

  policy.spec.metrics.custom[1].name = "kvCache";
  CHECK(errorsOf(policy).find("spec.metrics.custom[1].name: duplicate name \"kvCache\"") != std::string::npos);

  policy.spec.metrics.custom[1].name = "gpuUtilization";  // camelCase, but the seed's
  CHECK(errorsOf(policy).find("spec.metrics.custom[1].name: must not be one of the seed's metric names (latency, "
                              "latencyP99, ") != std::string::npos);
  policy.spec.metrics.custom[1].name = "readyReplicas";  // the metrics file's key for the ready replicas
  CHECK(errorsOf(policy).find("spec.metrics.custom[1].name: must not be one of the seed's metric names") !=
        std::string::npos);
  policy.spec.metrics.custom[1].name = "Waiting";
  CHECK(errorsOf(policy).find("spec.metrics.custom[1].name: must be a camelCase") != std::string::npos);
  policy.spec.metrics.custom[1].name = "waiting";

  policy.spec.metrics.custom[0].targetValue = 0.0;
  CHECK(errorsOf(policy).find("spec.metrics.custom[0].target.value: must be a number greater than 0") !=
        std::string::npos);
  policy.spec.metrics.custom[0].targetValue = 80.0;

  policy.spec.metrics.custom[0].engine = "vllm";
  CHECK(errorsOf(policy).find("spec.metrics.custom[0]: set either prometheusQuery or engine + signal") !=
        std::string::npos);
  policy.spec.metrics.custom[0].prometheusQuery.clear();
  policy.spec.metrics.custom[0].signal = "kvCacheUtilization";
  CHECK(errorsOf(policy).empty());

  policy.spec.metrics.custom[0].engine = "tgi";
  const std::string tgi = errorsOf(policy);
  CHECK(tgi.find("spec.metrics.custom[0].signal: engine tgi has no signal \"kvCacheUtilization\"; it offers ") !=
        std::string::npos);
  CHECK(tgi.find("requestsWaiting") != std::string::npos);

  policy.spec.metrics.custom[0].engine = "vlm";
  CHECK(errorsOf(policy).find("spec.metrics.custom[0].engine: unknown engine \"vlm\" (known: vllm, ") !=
        std::string::npos);

  policy.spec.metrics.custom[0].engine = "vllm";
  policy.spec.metrics.engine = "ollama";
  CHECK(errorsOf(policy).find("spec.metrics.engine: unknown engine \"ollama\"") != std::string::npos);
  policy.spec.metrics.engine = "vllm";

  policy.spec.metrics.custom[1].weight = -1.0;
  CHECK(errorsOf(policy).find("spec.metrics.custom[1].weight: must be a finite number >= 0") != std::string::npos);
  policy.spec.metrics.custom[1].weight = 1.0;
  CHECK(errorsOf(policy).empty());

  policy.spec.metrics.custom.resize(kMaxCustomMetrics + 1, policy.spec.metrics.custom[1]);
  CHECK(errorsOf(policy).find("spec.metrics.custom: must have at most 16 entries, got 17") != std::string::npos);
}

TEST_CASE("custom metrics: a pool-level preset wakes a scale-to-zero policy, a pod-scoped one does not") {
  Policy policy = customOnly();
  policy.spec.minReplicas = 0;
  policy.spec.metrics.custom.resize(1);
  policy.spec.metrics.custom[0].prometheusQuery.clear();
  policy.spec.metrics.custom[0].engine = "vllm";
  policy.spec.metrics.custom[0].signal = "requestsWaiting";
  const auto warning = scaleToZeroWakeWarning(policy);
  REQUIRE(warning.has_value());
  CHECK(warning->message.find("spec.metrics.custom[0]: the vllm preset requestsWaiting") != std::string::npos);

  policy.spec.metrics.custom[0].engine = "llm-d";
  policy.spec.metrics.custom[0].signal = "requestsWaiting";
  REQUIRE(findPreset("llm-d", "requestsWaiting") != nullptr);
  CHECK_FALSE(scaleToZeroWakeWarning(policy).has_value());
}

}  // namespace
}  // namespace kubeai::core
