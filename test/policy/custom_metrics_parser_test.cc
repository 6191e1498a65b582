// spec.metrics.custom[] and spec.metrics.engine from YAML to the model: every
// field, the unit a preset sets, what a wrong type or a missing part says and
// where, and that validation's paths stay the manifest's.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "policy/policy_parser.h"

namespace kubeai::policy {
namespace {

const std::string kHead = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: named, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: vllm-llama}
  maxReplicas: 10
  metrics:
)";

PolicyDocument parseMetrics(const std::string& metrics) {
  PolicyFile file = parsePolicyYaml(kHead + metrics);
  REQUIRE_FALSE(file.error.has_value());
  REQUIRE(file.policies.size() == 1);
  return file.policies.front();
}

std::vector<std::string> errorsOf(const PolicyDocument& document) {
  std::vector<std::string> errors;
  for (const auto& error : document.errors) {
    errors.push_back(error.toString());
  }
  return errors;
}

TEST_CASE("custom metrics: every field reaches the model") {
  const PolicyDocument document = parseMetrics(R"(    engine: vllm
    gpuUtilization: {targetPercentage: 80}
    custom:
      - name: kvCache
        engine: vllm
        signal: kvCacheUtilization
        target: {type: Value, value: 80}
      - name: waiting
        engine: vllm
        signal: requestsWaiting
        target: {type: AverageValue, value: 5}
        weight: 2
        treatEmptyAsZero: true
      - name: ttft
        prometheusQuery: 'histogram_quantile(0.95, sum by (le) (rate(x_bucket{namespace="${namespace}"}[2m]))) * 1000'
        target: {type: Value, value: 500.5}
        weight: 0
)");
  CAPTURE(errorsOf(document).size());
  REQUIRE(document.ok());
  CHECK(document.warnings.empty());
  const core::MetricsSpec& metrics = document.policy.spec.metrics;
  CHECK(metrics.engine == "vllm");
  REQUIRE(metrics.gpuUtilization.has_value());
  CHECK_FALSE(metrics.latency.has_value());  // engine alone configures no seed metric
  REQUIRE(metrics.custom.size() == 3);

  const core::CustomMetricSpec& kv = metrics.custom[0];
  CHECK(kv.name == "kvCache");
  CHECK(kv.engine == "vllm");
  CHECK(kv.signal == "kvCacheUtilization");
  CHECK(kv.prometheusQuery.empty());
  CHECK(kv.targetType == core::MetricTargetType::kValue);
  CHECK(kv.targetValue == 80.0);
  CHECK(kv.unit == core::MetricUnit::kPercent);  // from the preset
  CHECK(kv.weight == 1.0);                       // defaulted
  CHECK_FALSE(kv.treatEmptyAsZero);              // defaulted: no data is not zero

  const core::CustomMetricSpec& waiting = metrics.custom[1];
  CHECK(waiting.targetType == core::MetricTargetType::kAverageValue);
  CHECK(waiting.targetValue == 5.0);
  CHECK(waiting.unit == core::MetricUnit::kRequests);
  CHECK(waiting.weight == 2.0);
  CHECK(waiting.treatEmptyAsZero);

  const core::CustomMetricSpec& ttft = metrics.custom[2];
  CHECK(ttft.prometheusQuery.find("x_bucket{namespace=\"${namespace}\"}") != std::string::npos);
  CHECK(ttft.engine.empty());
  CHECK(ttft.signal.empty());
  CHECK(ttft.targetValue == 500.5);
  CHECK(ttft.unit == core::MetricUnit::kNone);  // a query of the user's has no known unit
  CHECK(ttft.weight == 0.0);                     // 0 is a weight (it takes the metric out of WeightedRatio)
}

TEST_CASE("custom metrics: the unit comes from the preset of each engine and signal") {
  struct Row {
    const char* engine;
    const char* signal;
    core::MetricUnit unit;
  };
  const Row rows[] = {
      {"vllm", "timeToFirstTokenP95", core::MetricUnit::kMilliseconds},  // seconds x 1000
      {"sglang", "kvCacheUtilization", core::MetricUnit::kPercent},      // a fraction x 100
      {"triton", "queueTimeMean", core::MetricUnit::kMilliseconds},      // a mean from counters
      {"tgi", "requestsWaiting", core::MetricUnit::kRequests},
      {"dcgm", "gpuUtilization", core::MetricUnit::kPercent},
      {"llm-d", "requestsWaiting", core::MetricUnit::kRequests},         // pool-level
      // demand over capacity: past 100 it still measures the load
      {"llm-d", "poolSaturation", core::MetricUnit::kPercentOfCapacity},
      {"llm-d", "kvCacheUtilization", core::MetricUnit::kPercent},
  };
  for (const Row& row : rows) {
    CAPTURE(row.engine);
    CAPTURE(row.signal);
    const PolicyDocument document = parseMetrics(std::string("    custom:\n      - name: m\n        engine: ") +
                                                 row.engine + "\n        signal: " + row.signal +
                                                 "\n        target: {type: Value, value: 1}\n");
    CHECK(errorsOf(document).empty());
    REQUIRE(document.policy.spec.metrics.custom.size() == 1);
    CHECK(document.policy.spec.metrics.custom[0].unit == row.unit);
  }
}

TEST_CASE("custom metrics: only custom metrics is a policy (they count as enabled)") {
  const PolicyDocument document = parseMetrics(R"(    custom:
      - {name: waiting, engine: tgi, signal: requestsWaiting, target: {type: AverageValue, value: 4}}
)");
  CHECK(errorsOf(document).empty());
  CHECK_FALSE(document.policy.spec.metrics.gpuUtilization.has_value());
  CHECK(document.policy.spec.metrics.custom.size() == 1);

  const PolicyDocument none = parseMetrics("    custom: []\n");
  CHECK(errorsOf(none) == std::vector<std::string>{"spec.metrics: at least one metric must be enabled"});
}

TEST_CASE("custom metrics: an unknown field is a warning naming it, as elsewhere") {
  const PolicyDocument document = parseMetrics(R"(    custom:
      - name: kvCache
        engine: vllm
        signal: kvCacheUtilization
        target: {type: Value, value: 80, averageValue: 3}
        wieght: 2
)");
  CHECK(document.ok());
  std::vector<std::string> warnings;
  for (const auto& warning : document.warnings) {
    warnings.push_back(warning.toString());
  }
  CHECK(warnings == std::vector<std::string>{"spec.metrics.custom[0].target.averageValue: unknown field, ignored",
                                             "spec.metrics.custom[0].wieght: unknown field, ignored"});
  CHECK(document.policy.spec.metrics.custom[0].weight == 1.0);  // the typo did not set it
}

TEST_CASE("custom metrics: wrong types carry their paths, one message per field") {
  const PolicyDocument document = parseMetrics(R"(    engine: 3
    custom:
      - name: 7
        prometheusQuery: [sum]
        target: {type: Value, value: "80"}
        weight: heavy
        treatEmptyAsZero: "true"
      - name: waiting
        engine: vllm
        signal: {name: requestsWaiting}
        target: 5
)");
  CHECK(errorsOf(document) == std::vector<std::string>{
                                  "spec.metrics.engine: must be a string, got integer",
                                  "spec.metrics.custom[0].name: must be a string, got integer",
                                  "spec.metrics.custom[0].prometheusQuery: must be a string, got array",
                                  "spec.metrics.custom[0].target.value: must be a number, got string",
                                  "spec.metrics.custom[0].weight: must be a number, got string",
                                  "spec.metrics.custom[0].treatEmptyAsZero: must be true or false, got string",
                                  "spec.metrics.custom[1].signal: must be a string, got object",
                                  "spec.metrics.custom[1].target: must be an object, got integer",
                              });
}

TEST_CASE("custom metrics: a missing target or value says required, not also greater than 0") {
  const PolicyDocument document = parseMetrics(R"(    custom:
      - {name: kvCache, engine: vllm, signal: kvCacheUtilization}
      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue}}
      - {name: ttft, prometheusQuery: x, target: {value: 500}}
      - {name: zero, prometheusQuery: x, target: {type: Value, value: 0}}
)");
  CHECK(errorsOf(document) ==
        std::vector<std::string>{
            "spec.metrics.custom[0].target: required: {type: Value | AverageValue, value: N}",
            "spec.metrics.custom[1].target.value: required: a number greater than 0",
            "spec.metrics.custom[2].target.type: required: Value (ratio = value / target) or AverageValue (per "
            "replica)",
            "spec.metrics.custom[3].target.value: must be a number greater than 0",
        });
}

TEST_CASE("custom metrics: an item that is not an object keeps the paths of the items after it") {
  // The model holds a placeholder for it, so that validation's custom[1] is the manifest's custom[1].
  const PolicyDocument document = parseMetrics(R"(    custom:
      - kvCache
      - {name: Waiting, prometheusQuery: x, target: {type: Value, value: 1}}
    gpuUtilization: {targetPercentage: 70}
)");
  CHECK(errorsOf(document) ==
        std::vector<std::string>{
            "spec.metrics.custom[0]: must be an object, got string",
            "spec.metrics.custom[1].name: must be a camelCase identifier (a-z first, then letters and digits, at most "
            "63 characters), got \"Waiting\"",
        });
  CHECK(document.policy.spec.metrics.custom.size() == 2);
}

TEST_CASE("custom metrics: validation after decoding, each error with its field path") {
  const PolicyDocument document = parseMetrics(R"(    engine: vlm
    custom:
      - {name: kvCache, engine: vllm, signal: kvCacheUtilization, target: {type: Value, value: 80}}
      - {name: kvCache, engine: tgi, signal: kvCacheUtilization, target: {type: Value, value: 80}}
      - {name: latencyP95, engine: vllm, signal: requestsWaiting, prometheusQuery: 'sum(x)', target: {type: Value, value: 1}}
      - {name: weightless, prometheusQuery: 'sum(x)', target: {type: Value, value: 1}, weight: -0.5}
      - {name: noSource, target: {type: Value, value: 1}}
)");
  CHECK(errorsOf(document) ==
        std::vector<std::string>{
            "spec.metrics.engine: unknown engine \"vlm\" (known: vllm, sglang, trtllm, triton, tgi, dcgm, llm-d)",
            "spec.metrics.custom[1].name: duplicate name \"kvCache\" (names are unique)",
            "spec.metrics.custom[1].signal: engine tgi has no signal \"kvCacheUtilization\"; it offers "
            "requestsWaiting, requestsRunning, interTokenLatencyP95, interTokenLatencyP99, e2eLatencyP95, "
            "e2eLatencyP99, queueTimeP95, queueTimeP99",
            "spec.metrics.custom[2].name: must not be one of the seed's metric names (latency, latencyP99, "
            "latencyP95, gpuUtilization, requestQueueDepth, latencyP99Ms, latencyP95Ms, gpuUtilizationPercent, "
            "currentReplicas, readyReplicas, engine, custom), got \"latencyP95\"",
            "spec.metrics.custom[2]: set either prometheusQuery or engine + signal, not both",
            "spec.metrics.custom[3].weight: must be a finite number >= 0",
            "spec.metrics.custom[4]: needs prometheusQuery, or engine + signal (a preset, docs/metrics.md)",
        });
}

}  // namespace
}  // namespace kubeai::policy
