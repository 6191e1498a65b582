// status.metrics: every metric a policy uses, seed and custom, by name with
// value, target and ratio (policy_status.h: metricStatuses, the merge patch,
// parseApiStatus, compareStatus), and that a value moving alone is not a write
// per cycle. Apart from policy_status_test.cc, which is long enough.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "kube/policy_status.h"
#include "kube/status_writer.h"
#include "policy/policy_parser.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

// 2026-11-28T01:00:00Z
const core::TimePoint kT0 = core::TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}) + 1h;
const std::vector<std::string> kAlgorithms = {"AverageRatio", "MaxRatio", "WeightedRatio"};

// Seed metrics (P99 with a target, P95 without one, GPU, the queue disabled)
// and three custom ones: two engine presets (with their units) and a query of
// the user's (no unit).
constexpr const char* kPolicyYaml = R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: ml, generation: 3, uid: uid-1}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 20
  metrics:
    latency: {targetP99Ms: 500}
    gpuUtilization: {targetPercentage: 80}
    requestQueueDepth: {enabled: false, targetDepth: 10}
    custom:
      - {name: kvCache, engine: vllm, signal: kvCacheUtilization, target: {type: Value, value: 80}}
      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: 5}, weight: 2}
      - name: ttft
        prometheusQuery: 'histogram_quantile(0.95, sum by (le) (rate(ttft_bucket[2m]))) * 1000'
        target: {type: Value, value: 500}
)";

core::Policy makePolicy() {
  const policy::PolicyFile file = policy::parsePolicyYaml(kPolicyYaml);
  REQUIRE(file.policies.size() == 1);
  const policy::PolicyDocument& document = file.policies[0];
  for (const core::FieldError& error : document.errors) {
    FAIL_CHECK(error.toString());
  }
  REQUIRE(document.ok());
  return document.policy;
}

// P99 600 ms, no GPU data, KV 60 %, 40 waiting over 4 replicas, TTFT `ttft` ms.
core::Observation observation(std::optional<double> ttft = 250.0, std::optional<double> kvCache = 60.0) {
  core::Observation seen;
  seen.currentReplicas = 4;
  seen.latencyP99Ms = 600.0;
  seen.custom[0] = kvCache;
  seen.custom[1] = 40.0;
  seen.custom[2] = ttft;
  return seen;
}

core::Decision decideOn(const core::Policy& policy, const core::Observation& seen) {
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  return core::decide(policy, seen, core::History{}, kT0, *registry).decision;
}

PolicyStatus built(const core::Observation& seen = observation()) {
  const core::Policy policy = makePolicy();
  return statusFromDecision(policy, decideOn(policy, seen), seen, std::nullopt, kAlgorithms, {}, kT0);
}

nlohmann::json patchBody(const PolicyStatus& status) {
  return nlohmann::json::parse(statusMergePatch(status)).at("status");
}

std::vector<std::string> namesOf(const std::vector<MetricStatus>& metrics) {
  std::vector<std::string> names;
  for (const MetricStatus& metric : metrics) {
    names.push_back(metric.name);
  }
  return names;
}

TEST_CASE("status.metrics: every metric the policy uses, seed four then custom, in slot order") {
  const PolicyStatus status = built();
  REQUIRE(status.metrics);
  const std::vector<MetricStatus>& metrics = *status.metrics;
  // No P95 (no target), no queue (disabled).
  REQUIRE(namesOf(metrics) == std::vector<std::string>{"latencyP99", "gpuUtilization", "kvCache", "waiting", "ttft"});

  CHECK(metrics[0] == MetricStatus{"latencyP99", 600.0, 500.0, "Value", "ms", 1.2});
  // Enabled but no data: listed, value and ratio absent ("no data is not zero").
  CHECK(metrics[1] == MetricStatus{"gpuUtilization", std::nullopt, 80.0, "Utilization", "percent", std::nullopt});
  CHECK(metrics[2] == MetricStatus{"kvCache", 60.0, 80.0, "Value", "percent", 0.75});
  // AverageValue: 40 / (5 x 4).
  CHECK(metrics[3] == MetricStatus{"waiting", 40.0, 5.0, "AverageValue", "requests", 2.0});
  CHECK(metrics[4] == MetricStatus{"ttft", 250.0, 500.0, "Value", "", 0.5});

  // The seed's currentMetrics keeps its four fields.
  REQUIRE(status.currentMetrics);
  CHECK(*status.currentMetrics == CurrentMetrics{600.0, std::nullopt, std::nullopt, std::nullopt});
}

TEST_CASE("status.metrics: written with two decimals, null when absent, no unit for a query of the user's") {
  const PolicyStatus status = built(observation(123.456789));
  const nlohmann::json body = patchBody(status);
  REQUIRE(body.contains("metrics"));
  const nlohmann::json& metrics = body.at("metrics");
  REQUIRE(metrics.is_array());
  REQUIRE(metrics.size() == 5);
  CHECK(metrics[1] == nlohmann::json::parse(R"({"name":"gpuUtilization","value":null,"target":80.0,
                                               "targetType":"Utilization","unit":"percent","ratio":null})"));
  CHECK(metrics[4].at("name") == "ttft");
  CHECK(metrics[4].at("value").get<double>() == 123.46);
  CHECK(metrics[4].at("ratio").get<double>() == 0.25);  // 0.2469...
  CHECK_FALSE(metrics[4].contains("unit"));
  CHECK(metrics[3].at("unit") == "requests");
  // Beside it, the seed's object as before.
  CHECK(body.at("currentMetrics").at("latencyP99Ms").get<double>() == 600.0);

  // Read back from the API: the same status, no write due.
  const auto readBack = parseApiStatus(body.dump());
  REQUIRE(readBack);
  REQUIRE(readBack->metrics);
  REQUIRE(readBack->metrics->size() == 5);
  CHECK((*readBack->metrics)[4] == MetricStatus{"ttft", 123.46, 500.0, "Value", "", 0.25});
  CHECK_FALSE((*readBack->metrics)[1].value);
  CHECK(compareStatus(*readBack, status) == StatusChange::kNone);
  // Written again, the same text.
  CHECK(patchBody(*readBack).at("metrics") == metrics);
}

TEST_CASE("status.metrics: bounded by kMaxMetricSlots, in the status and in what is read back") {
  core::Policy policy = makePolicy();
  policy.spec.metrics.latency->targetP95Ms = 400.0;
  policy.spec.metrics.requestQueueDepth->enabled = true;
  policy.spec.metrics.custom.resize(core::kMaxCustomMetrics, policy.spec.metrics.custom[2]);
  for (std::size_t i = 3; i < policy.spec.metrics.custom.size(); ++i) {
    policy.spec.metrics.custom[i].name = std::string("extra").append(std::to_string(i));
  }
  const core::Observation seen = observation();
  const PolicyStatus status =
      statusFromDecision(policy, decideOn(policy, seen), seen, std::nullopt, kAlgorithms, {}, kT0);
  REQUIRE(status.metrics);
  CHECK(status.metrics->size() == core::kMaxMetricSlots);
  CHECK(status.metrics->back().name == "extra15");
  CHECK(patchBody(status).at("metrics").size() == core::kMaxMetricSlots);

  // More in the API than this server ever writes: the first kMaxMetricSlots.
  nlohmann::json many = nlohmann::json::array();
  for (int i = 0; i < 30; ++i) {
    many.push_back({{"name", std::string("m").append(std::to_string(i))}, {"target", 1.0}, {"targetType", "Value"}});
  }
  const auto readBack = parseApiStatus(nlohmann::json{{"metrics", many}}.dump());
  REQUIRE(readBack);
  REQUIRE(readBack->metrics);
  CHECK(readBack->metrics->size() == core::kMaxMetricSlots);
}

TEST_CASE("status.metrics: malformed in the API's status is read as far as it names something, never thrown on") {
  struct Row {
    const char* text;
    std::optional<std::size_t> count;  // entries read; nullopt: no list
  };
  const Row rows[] = {
      {R"({"metrics":{"name":"kvCache"}})", std::nullopt},  // not a list
      {R"({"metrics":null})", std::nullopt},
      {R"({"metrics":"kvCache"})", std::nullopt},
      {R"({"metrics":[]})", 0},
      {R"({"metrics":[1, "x", null, []]})", 0},                   // entries that are not objects
      {R"({"metrics":[{"target":80}]})", 0},                      // no name
      {R"({"metrics":[{"name":"","target":80}]})", 0},            // an empty name
      {R"({"metrics":[{"name":7,"target":80}]})", 0},             // a name that is not a string
      {R"({"metrics":[{"name":"kvCache"}]})", 0},                 // no target
      {R"({"metrics":[{"name":"kvCache","target":"80"}]})", 0},   // a target that is not a number
      {R"({"metrics":[{"name":"kvCache","target":80},{"name":"x"}]})", 1},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    const auto status = parseApiStatus(row.text);
    REQUIRE(status);
    REQUIRE(status->metrics.has_value() == row.count.has_value());
    if (row.count) {
      CHECK(status->metrics->size() == *row.count);
    }
  }
  // Fields of the wrong type are absent, the entry kept.
  const auto odd = parseApiStatus(
      R"({"metrics":[{"name":"kvCache","target":80,"value":"60","ratio":[1],"targetType":3,"unit":false}]})");
  REQUIRE(odd);
  REQUIRE(odd->metrics);
  REQUIRE(odd->metrics->size() == 1);
  CHECK((*odd->metrics)[0] == MetricStatus{"kvCache", std::nullopt, 80.0, "", "", std::nullopt});
}

TEST_CASE("compareStatus: status.metrics moving is kMetricsOnly, its shape changing significant") {
  const PolicyStatus base = built();
  struct Row {
    const char* what;
    void (*change)(std::vector<MetricStatus>&);
    StatusChange expected;
  };
  const Row rows[] = {
      {"nothing", [](std::vector<MetricStatus>&) {}, StatusChange::kNone},
      {"a value below a cent", [](std::vector<MetricStatus>& m) { *m[2].value += 0.001; }, StatusChange::kNone},
      {"a custom value", [](std::vector<MetricStatus>& m) { *m[2].value = 64.0; }, StatusChange::kMetricsOnly},
      {"a custom ratio", [](std::vector<MetricStatus>& m) { *m[3].ratio = 2.5; }, StatusChange::kMetricsOnly},
      {"a seed value", [](std::vector<MetricStatus>& m) { *m[0].value = 610.0; }, StatusChange::kMetricsOnly},
      {"a value going away", [](std::vector<MetricStatus>& m) { m[4].value.reset(); }, StatusChange::kSignificant},
      {"a ratio going away", [](std::vector<MetricStatus>& m) { m[4].ratio.reset(); }, StatusChange::kSignificant},
      {"a value arriving", [](std::vector<MetricStatus>& m) { m[1].value = 50.0; }, StatusChange::kSignificant},
      {"a metric going away", [](std::vector<MetricStatus>& m) { m.pop_back(); }, StatusChange::kSignificant},
      {"a metric appearing",
       [](std::vector<MetricStatus>& m) { m.push_back(MetricStatus{"itl", 5.0, 10.0, "Value", "ms", 0.5}); },
       StatusChange::kSignificant},
      {"a name changing", [](std::vector<MetricStatus>& m) { m[2].name = "kv"; }, StatusChange::kSignificant},
      {"the order changing", [](std::vector<MetricStatus>& m) { std::swap(m[2], m[3]); },
       StatusChange::kSignificant},
      {"a target changing", [](std::vector<MetricStatus>& m) { m[2].target = 90.0; }, StatusChange::kSignificant},
      {"a target type changing", [](std::vector<MetricStatus>& m) { m[4].targetType = "AverageValue"; },
       StatusChange::kSignificant},
      {"a unit changing", [](std::vector<MetricStatus>& m) { m[4].unit = "ms"; }, StatusChange::kSignificant},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    PolicyStatus changed = base;
    row.change(*changed.metrics);
    CHECK(compareStatus(base, changed) == row.expected);
    CHECK(compareStatus(changed, base) == row.expected);
  }
  // Written by a server without the list (an older version): the first write adds it now.
  PolicyStatus older = base;
  older.metrics.reset();
  CHECK(compareStatus(older, base) == StatusChange::kSignificant);
  // Through the pipeline: a custom metric's data moving, and going away.
  CHECK(compareStatus(base, built(observation(300.0))) == StatusChange::kMetricsOnly);
  CHECK(compareStatus(base, built(observation(std::nullopt))) == StatusChange::kSignificant);
}

TEST_CASE("status.metrics: deleted for an invalid policy, kept through an error, left out before a decision") {
  const auto pending = statusFromError(std::nullopt, 3, "stale", "metrics stale", kT0);
  REQUIRE(pending);
  CHECK_FALSE(patchBody(*pending).contains("metrics"));

  const PolicyStatus ready = built();
  const auto stale = statusFromError(ready, 3, "stale", "metrics stale", kT0);
  REQUIRE(stale);
  CHECK(patchBody(*stale).at("metrics") == patchBody(ready).at("metrics"));

  const PolicyStatus invalid = statusFromInvalid(ready, 4, "spec.maxReplicas: must be >= minReplicas (2)", kT0);
  const nlohmann::json body = patchBody(invalid);
  REQUIRE(body.contains("metrics"));
  CHECK(body.at("metrics").is_null());
}

StatusWriterOptions fastOptions() {
  StatusWriterOptions options;
  options.availableAlgorithms = kAlgorithms;
  options.retryBackoff = 5ms;
  options.maxRequestsPerSecond = 0;
  options.leaderPollInterval = 10ms;
  return options;
}

TEST_CASE("status writer: a custom metric moving every cycle is not a write per cycle, its data going away is") {
  testing::RecordingKubeClient client;
  StatusWriterOptions options = fastOptions();
  options.metricsRefreshInterval = 3600s;
  StatusWriter writer(client, options, [] { return true; });
  writer.start();
  const core::Policy policy = makePolicy();
  // Only the KV cache moves (0.75 to 0.81, never the max): the decision stays MaxRatio 2.0, desired 8.
  const auto decideAndWrite = [&](std::optional<double> kvCache) {
    const core::Observation seen = observation(250.0, kvCache);
    writer.onDecision(policy, decideOn(policy, seen), seen, std::nullopt);
    REQUIRE(writer.waitIdle(2s));
  };
  decideAndWrite(60.0);
  REQUIRE(client.requests("PATCH").size() == 1);
  const auto first = nlohmann::json::parse(client.requests("PATCH")[0].body).at("status");
  CHECK(first.at("metrics").at(2).at("value").get<double>() == 60.0);
  for (int cycle = 1; cycle <= 5; ++cycle) {
    decideAndWrite(60.0 + cycle);
  }
  CHECK(client.requests("PATCH").size() == 1);

  decideAndWrite(std::nullopt);
  const auto sent = client.requests("PATCH");
  REQUIRE(sent.size() == 2);
  const auto status = nlohmann::json::parse(sent[1].body).at("status");
  CHECK(status.at("metrics").at(2).at("name") == "kvCache");
  CHECK(status.at("metrics").at(2).at("value").is_null());
  CHECK(status.at("metrics").at(2).at("ratio").is_null());
}

}  // namespace
}  // namespace kubeai::kube
