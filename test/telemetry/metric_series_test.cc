// /metrics per policy and metric name (issue 12 item 4): every metric of a
// policy, seed and custom, as kubeai_scaler_policy_metric_value / _target /
// _ratio{metric, namespace, policy}, bounded, and gone with the metric.

#include <doctest/doctest.h>

#include <cstddef>
#include <limits>
#include <optional>
#include <string>

#include "core/replica_calculator.h"
#include "scrape_text.h"
#include "telemetry/telemetry.h"

namespace kubeai::telemetry {
namespace {

using testing::countSamples;
using testing::sample;
using testing::scrape;

core::CustomMetricSpec customMetric(std::string name, core::MetricTargetType type, double target) {
  core::CustomMetricSpec metric;
  metric.name = std::move(name);
  metric.prometheusQuery = "up";
  metric.targetType = type;
  metric.targetValue = target;
  return metric;
}

// GPU utilization from the seed four, a KV cache (Value, percent) and waiting
// requests (AverageValue, per replica) of its own.
core::Policy vllmPolicy() {
  core::Policy policy;
  policy.metadata.namespace_ = "llm";
  policy.metadata.name = "chat";
  policy.spec.targetRef = {"apps/v1", "Deployment", "chat-server"};
  policy.spec.maxReplicas = 10;
  policy.spec.metrics.gpuUtilization = core::GpuUtilizationMetricSpec{true, 80.0, ""};
  policy.spec.metrics.custom.push_back(customMetric("kvCache", core::MetricTargetType::kValue, 80.0));
  policy.spec.metrics.custom.push_back(customMetric("waiting", core::MetricTargetType::kAverageValue, 5.0));
  return policy;
}

core::Observation seen(std::optional<double> kvCache, std::optional<double> waiting) {
  core::Observation observation;
  observation.currentReplicas = 2;
  observation.gpuUtilizationPercent = 40.0;
  observation.custom[0] = kvCache;
  observation.custom[1] = waiting;
  return observation;
}

// The decision's ratios as decide() works them out (DESIGN §3).
core::Decision decided(const core::Policy& policy, const core::Observation& observation) {
  core::Decision decision;
  decision.currentReplicas = observation.currentReplicas;
  decision.desiredReplicas = observation.currentReplicas;
  decision.recommendedReplicas = observation.currentReplicas;
  decision.ratios = core::computeRatios(policy.spec, observation);
  decision.values = core::observedValues(policy.spec, observation);
  return decision;
}

void record(Telemetry& telemetry, const core::Policy& policy, const core::Observation& observation) {
  telemetry.recordDecision(policy, decided(policy, observation), observation, false, std::nullopt, 1e-5);
}

std::string series(const char* family, const char* metric, const char* policy = "chat") {
  return std::string(family) + "{metric=\"" + metric + "\",namespace=\"llm\",policy=\"" + policy + "\"}";
}

constexpr const char* kValue = "kubeai_scaler_policy_metric_value";
constexpr const char* kTarget = "kubeai_scaler_policy_metric_target";
constexpr const char* kRatio = "kubeai_scaler_policy_metric_ratio";

TEST_CASE("every metric of a policy is exported by its name with value, target and ratio") {
  Telemetry telemetry;
  const core::Policy policy = vllmPolicy();
  record(telemetry, policy, seen(92.0, 12.0));
  const std::string text = scrape(telemetry);

  struct Row {
    std::string series;
    std::optional<double> value;  // nullopt: the series must be absent
  };
  for (const Row& row : {
           // a custom Value metric: ratio = 92 / 80
           Row{series(kValue, "kvCache"), 92.0},
           Row{series(kTarget, "kvCache"), 80.0},
           Row{series(kRatio, "kvCache"), 1.15},
           // a custom AverageValue metric: the target per replica, ratio = 12 / (5 x 2)
           Row{series(kValue, "waiting"), 12.0},
           Row{series(kTarget, "waiting"), 5.0},
           Row{series(kRatio, "waiting"), 1.2},
           // a seed metric under its name, beside its original metric_type series
           Row{series(kValue, "gpuUtilization"), 40.0},
           Row{series(kTarget, "gpuUtilization"), 80.0},
           Row{series(kRatio, "gpuUtilization"), 0.5},
           Row{"kubeai_autoscaler_metric_value{metric_type=\"gpu_utilization\",namespace=\"llm\",policy=\"chat\"}",
               40.0},
           // seed metrics the policy does not configure have no series
           Row{series(kValue, "latencyP99"), std::nullopt},
           Row{series(kTarget, "requestQueueDepth"), std::nullopt},
       }) {
    CAPTURE(row.series);
    const auto got = sample(text, row.series);
    REQUIRE(got.has_value() == row.value.has_value());
    if (row.value) CHECK(*got == doctest::Approx(*row.value));
  }
  // Three metrics, three series each; the original families stay the seed four's.
  CHECK(countSamples(text, kValue) == 3);
  CHECK(countSamples(text, kTarget) == 3);
  CHECK(countSamples(text, kRatio) == 3);
  CHECK(text.find("metric_type=\"kvCache\"") == std::string::npos);
  CHECK(countSamples(text, "kubeai_autoscaler_metric_value") == 1);
  CHECK(text.find("# TYPE kubeai_scaler_policy_metric_ratio gauge") != std::string::npos);
}

TEST_CASE("a metric without data keeps only its target, and one the policy drops loses every series") {
  Telemetry telemetry;
  core::Policy policy = vllmPolicy();
  record(telemetry, policy, seen(92.0, 12.0));

  // No KV-cache data (an empty query, NaN): no value and no ratio, the target stays.
  record(telemetry, policy, seen(std::numeric_limits<double>::quiet_NaN(), 12.0));
  std::string text = scrape(telemetry);
  CHECK_FALSE(sample(text, series(kValue, "kvCache")));
  CHECK_FALSE(sample(text, series(kRatio, "kvCache")));
  CHECK(sample(text, series(kTarget, "kvCache")) == 80.0);
  CHECK(sample(text, series(kRatio, "waiting")) == doctest::Approx(1.2));

  // The policy drops "waiting" and renames kvCache: nothing of either is left.
  policy.spec.metrics.custom = {customMetric("kvCacheUsage", core::MetricTargetType::kValue, 90.0)};
  record(telemetry, policy, seen(45.0, 12.0));
  text = scrape(telemetry);
  CHECK(text.find("metric=\"waiting\"") == std::string::npos);
  CHECK(text.find("metric=\"kvCache\"") == std::string::npos);
  CHECK(sample(text, series(kRatio, "kvCacheUsage")) == doctest::Approx(0.5));
  CHECK(countSamples(text, kTarget) == 2);  // gpuUtilization, kvCacheUsage

  // A disabled seed metric goes too.
  policy.spec.metrics.gpuUtilization->enabled = false;
  record(telemetry, policy, seen(45.0, 12.0));
  text = scrape(telemetry);
  CHECK(text.find("metric=\"gpuUtilization\"") == std::string::npos);
  CHECK(text.find("metric_type=\"gpu_utilization\"") == std::string::npos);
}

TEST_CASE("a removed or refused policy has no metric series, and other policies keep theirs") {
  Telemetry telemetry;
  core::Policy other = vllmPolicy();
  other.metadata.name = "embed";
  record(telemetry, vllmPolicy(), seen(92.0, 12.0));
  record(telemetry, other, seen(40.0, 2.0));
  CHECK(sample(scrape(telemetry), series(kRatio, "kvCache", "embed")) == doctest::Approx(0.5));

  telemetry.removePolicy("llm", "chat");
  std::string text = scrape(telemetry);
  CHECK(text.find("policy=\"chat\"") == std::string::npos);
  CHECK(sample(text, series(kValue, "waiting", "embed")) == 2.0);

  // Refused by validation: its state says so, and nothing is decided on its metrics.
  telemetry.recordError("llm", "embed", "invalid");
  text = scrape(telemetry);
  CHECK(sample(text, "kubeai_scaler_policy_state{namespace=\"llm\",policy=\"embed\",state=\"invalid\"}") == 1.0);
  CHECK(countSamples(text, kValue) == 0);
  CHECK(countSamples(text, kTarget) == 0);
  CHECK(countSamples(text, kRatio) == 0);
  CHECK(text.find("metric_type=") == std::string::npos);
}

TEST_CASE("a policy exports at most kMaxMetricSlots metrics") {
  Telemetry telemetry;
  core::Policy policy = vllmPolicy();
  policy.spec.metrics.latency = core::LatencyMetricSpec{true, 500.0, 300.0, ""};
  policy.spec.metrics.requestQueueDepth = core::RequestQueueDepthMetricSpec{true, 4.0, ""};
  policy.spec.metrics.custom.clear();
  // More than validation allows (it refuses past kMaxCustomMetrics): the bound holds anyway.
  for (std::size_t i = 0; i < core::kMaxCustomMetrics + 4; ++i) {
    policy.spec.metrics.custom.push_back(
        customMetric(std::string("m").append(std::to_string(i)), core::MetricTargetType::kValue, 10.0));
  }
  core::Observation observation = seen(1.0, 1.0);
  for (auto& value : observation.custom) value = 5.0;
  observation.latencyP99Ms = 250.0;
  observation.latencyP95Ms = 150.0;
  observation.requestQueueDepth = 8.0;
  record(telemetry, policy, observation);
  const std::string text = scrape(telemetry);
  CHECK(countSamples(text, kTarget) == core::kMaxMetricSlots);
  CHECK(countSamples(text, kValue) == core::kMaxMetricSlots);
  CHECK(countSamples(text, kRatio) == core::kMaxMetricSlots);
  CHECK(sample(text, series(kRatio, "m15")) == doctest::Approx(0.5));
  CHECK_FALSE(sample(text, series(kTarget, "m16")));
  CHECK(sample(text, series(kRatio, "requestQueueDepth")) == doctest::Approx(1.0));  // 8 / (4 x 2)
  CHECK(sample(text, series(kRatio, "latencyP95")) == doctest::Approx(0.5));
}

}  // namespace
}  // namespace kubeai::telemetry
