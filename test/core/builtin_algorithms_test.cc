#include "core/builtin_algorithms.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace kubeai::core {
namespace {

struct Call {
  std::int32_t current;
  std::vector<MetricRatio> ratios;
  std::vector<double> weights = {};
  double tolerance = 0.1;
};

AlgorithmOutput run(const ScalingAlgorithm& algorithm, const Call& call) {
  const AlgorithmParameters parameters;
  AlgorithmInput input;
  input.currentReplicas = call.current;
  input.minReplicas = 1;
  input.maxReplicas = 100;
  input.ratios = call.ratios;
  input.tolerance = call.tolerance;
  input.weights = call.weights;
  input.policyName = "chat";
  input.policyNamespace = "default";
  input.parameters = &parameters;
  auto output = algorithm.compute(input);
  REQUIRE(output.ok());
  return output.value();
}

constexpr MetricSlot kP99 = MetricSlot::kLatencyP99;
constexpr MetricSlot kP95 = MetricSlot::kLatencyP95;
constexpr MetricSlot kGpu = MetricSlot::kGpuUtilization;
constexpr MetricSlot kQueue = MetricSlot::kRequestQueueDepth;

TEST_CASE("MaxRatio takes the largest present ratio and scales down when all are low") {
  const MaxRatioAlgorithm algorithm;
  struct Row {
    const char* what;
    Call call;
    std::int32_t desired;
    const char* reason;
  };
  const Row rows[] = {
      {"one metric over", {4, {{kP99, 1.5}, {kGpu, 0.5}}}, 6, kReasonMaxRatio},
      // The original started its max at 1.0 and so held here forever.
      {"all under: scale down", {8, {{kP99, 0.25}, {kGpu, 0.5}}}, 4, kReasonMaxRatio},
      {"idle zero is data", {5, {{kGpu, 0.0}}}, 0, kReasonMaxRatio},
      {"max within tolerance", {4, {{kP99, 1.05}, {kGpu, 0.2}}}, 4, kReasonWithinTolerance},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const AlgorithmOutput output = run(algorithm, row.call);
    CHECK(output.desiredReplicas == row.desired);
    CHECK(output.reason == row.reason);
  }
}

TEST_CASE("AverageRatio takes the mean of the present ratios") {
  const AverageRatioAlgorithm algorithm;
  const AlgorithmOutput scaled = run(algorithm, {4, {{kP99, 1.5}, {kP95, 1.2}, {kGpu, 1.5}}});
  CHECK(scaled.desiredReplicas == 6);  // mean 1.4 -> ceil(5.6)
  CHECK(scaled.reason == kReasonAverageRatio);
  REQUIRE(scaled.ratio.has_value());
  CHECK(*scaled.ratio == doctest::Approx(1.4));

  const AlgorithmOutput held = run(algorithm, {4, {{kP99, 1.6}, {kGpu, 0.6}}});  // mean 1.1
  CHECK(held.desiredReplicas == 4);
  CHECK(held.reason == kReasonWithinTolerance);
}

TEST_CASE("WeightedRatio weights index fixed slots, not positions among present ratios") {
  const WeightedRatioAlgorithm algorithm;
  const std::vector<double> weights = {2.0, 1.5, 1.0, 0.5};
  // P95 has no data. Fixed slots: (2*1.5 + 1*0.5 + 0.5*1.0) / 3.5 = 1.142857 -> ceil(4.57) = 5.
  // The original would have used weights 2, 1.5, 1 for P99, GPU, queue: 1.0556, within tolerance.
  const AlgorithmOutput output = run(algorithm, {4, {{kP99, 1.5}, {kGpu, 0.5}, {kQueue, 1.0}}, weights});
  CHECK(output.desiredReplicas == 5);
  CHECK(output.reason == kReasonWeightedRatio);
  REQUIRE(output.ratio.has_value());
  CHECK(*output.ratio == doctest::Approx(4.0 / 3.5));
}

TEST_CASE("WeightedRatio: missing weights weigh 1.0, extra weights are ignored") {
  const WeightedRatioAlgorithm algorithm;
  struct Row {
    const char* what;
    std::vector<double> weights;
    double ratio;
  };
  const Row rows[] = {
      {"no weights: plain mean", {}, (2.0 + 0.5) / 2},
      {"one weight for P99 only", {3.0}, (3 * 2.0 + 0.5) / 4},
      {"five weights, fifth unused", {1.0, 1.0, 1.0, 1.0, 100.0}, (2.0 + 0.5) / 2},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const AlgorithmOutput output = run(algorithm, {2, {{kP99, 2.0}, {kQueue, 0.5}}, row.weights});
    REQUIRE(output.ratio.has_value());
    CHECK(*output.ratio == doctest::Approx(row.ratio));
  }
}

TEST_CASE("WeightedRatio: weights near DBL_MAX do not overflow into Inf or NaN") {
  const WeightedRatioAlgorithm algorithm;
  for (const std::vector<double>& weights :
       {std::vector<double>{1e308, 0, 1e308}, std::vector<double>{1e308, 0, 1}, std::vector<double>{1e-320, 0, 1e-320}}) {
    const AlgorithmOutput output = run(algorithm, {10, {{kP99, 2.0}, {kGpu, 2.0}}, weights});
    CHECK(output.desiredReplicas == 20);
    REQUIRE(output.ratio.has_value());
    CHECK(*output.ratio == doctest::Approx(2.0));
  }
}

TEST_CASE("WeightedRatio holds when the weights of the present slots sum to zero") {
  const WeightedRatioAlgorithm algorithm;
  // GPU weighs 0 and is the only present slot; the others weigh 1 but have no data.
  const AlgorithmOutput output = run(algorithm, {3, {{kGpu, 2.0}}, {1.0, 1.0, 0.0, 1.0}});
  CHECK(output.desiredReplicas == 3);
  CHECK(output.reason == kReasonTotalWeightZero);
  CHECK_FALSE(output.ratio.has_value());
}

TEST_CASE("built-ins report their names as policies spell them") {
  CHECK(MaxRatioAlgorithm().name() == "MaxRatio");
  CHECK(AverageRatioAlgorithm().name() == "AverageRatio");
  CHECK(WeightedRatioAlgorithm().name() == "WeightedRatio");
  CHECK(fallbackAlgorithm().name() == "MaxRatio");
}

}  // namespace
}  // namespace kubeai::core
