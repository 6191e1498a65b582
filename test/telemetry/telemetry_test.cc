#include "telemetry/telemetry.h"

#include <doctest/doctest.h>
#include <prometheus/collectable.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "scrape_text.h"

namespace kubeai::telemetry {
namespace {

using testing::sample;
using testing::scrape;

core::Policy chatPolicy() {
  core::Policy policy;
  policy.metadata.namespace_ = "llm";
  policy.metadata.name = "chat";
  policy.spec.targetRef = {"apps/v1", "Deployment", "chat-server"};
  policy.spec.maxReplicas = 10;
  policy.spec.metrics.latency = core::LatencyMetricSpec{true, 500.0, std::nullopt, ""};
  policy.spec.metrics.gpuUtilization = core::GpuUtilizationMetricSpec{true, 80.0, ""};
  policy.spec.metrics.requestQueueDepth = core::RequestQueueDepthMetricSpec{false, 4.0, ""};  // disabled
  return policy;
}

core::Decision decision(std::int32_t current, std::int32_t desired) {
  core::Decision result;
  result.currentReplicas = current;
  result.desiredReplicas = desired;
  result.recommendedReplicas = desired;
  return result;
}

core::Observation observation() {
  core::Observation seen;
  seen.currentReplicas = 2;
  seen.latencyP99Ms = 600.0;
  seen.latencyP95Ms = 450.0;  // no p95 target, but latency is enabled: a value with data
  seen.gpuUtilizationPercent = 90.0;
  seen.requestQueueDepth = 5.0;  // the queue metric is disabled
  return seen;
}

const std::string kChat = "namespace=\"llm\",policy=\"chat\"";

TEST_CASE("a recorded decision shows up in the original project's families with their labels") {
  Telemetry telemetry;
  const core::TimePoint scaledAt{std::chrono::seconds(1'700'000'000)};
  telemetry.recordDecision(chatPolicy(), decision(2, 3), observation(), true, scaledAt, 0.00025);
  const std::string text = scrape(telemetry);

  struct Row {
    std::string series;
    std::optional<double> value;  // nullopt: the series must be absent
  };
  for (const Row& row : {
           Row{"kubeai_autoscaler_scaling_decisions_total{direction=\"up\"," + kChat + "}", 1.0},
           Row{"kubeai_autoscaler_scaling_decisions_total{direction=\"none\"," + kChat + "}", std::nullopt},  // created on first use
           Row{"kubeai_autoscaler_current_replicas{" + kChat + ",target=\"chat-server\"}", 2.0},
           Row{"kubeai_autoscaler_desired_replicas{" + kChat + ",target=\"chat-server\"}", 3.0},
           Row{"kubeai_autoscaler_metric_value{metric_type=\"latency_p99\"," + kChat + "}", 600.0},
           Row{"kubeai_autoscaler_metric_value{metric_type=\"latency_p95\"," + kChat + "}", 450.0},
           Row{"kubeai_autoscaler_metric_value{metric_type=\"gpu_utilization\"," + kChat + "}", 90.0},
           Row{"kubeai_autoscaler_metric_value{metric_type=\"request_queue_depth\"," + kChat + "}", std::nullopt},  // disabled
           Row{"kubeai_autoscaler_metric_target{metric_type=\"latency_p99\"," + kChat + "}", 500.0},
           Row{"kubeai_autoscaler_metric_target{metric_type=\"latency_p95\"," + kChat + "}", std::nullopt},  // no target
           Row{"kubeai_autoscaler_metric_target{metric_type=\"gpu_utilization\"," + kChat + "}", 80.0},
           Row{"kubeai_autoscaler_metric_target{metric_type=\"request_queue_depth\"," + kChat + "}", std::nullopt},
           Row{"kubeai_autoscaler_cooldown_active{" + kChat + "}", 1.0},
           Row{"kubeai_autoscaler_last_scale_time_seconds{" + kChat + "}", 1.7e9},
           Row{"kubeai_autoscaler_reconcile_duration_seconds_count", 1.0},
           Row{"kubeai_autoscaler_reconcile_duration_seconds_bucket{le=\"0.0001\"}", 0.0},
           Row{"kubeai_autoscaler_reconcile_duration_seconds_bucket{le=\"0.00025\"}", 1.0},
           Row{"kubeai_autoscaler_reconcile_duration_seconds_bucket{le=\"1\"}", 1.0},
       }) {
    CAPTURE(row.series);
    CHECK(sample(text, row.series) == row.value);
  }
}

TEST_CASE("later decisions update the series, and what lost its data or target goes away") {
  Telemetry telemetry;
  core::Policy policy = chatPolicy();
  telemetry.recordDecision(policy, decision(2, 3), observation(), false, std::nullopt, 0.001);
  CHECK_FALSE(sample(scrape(telemetry), "kubeai_autoscaler_last_scale_time_seconds{" + kChat + "}"));  // never scaled

  core::Observation noGpu = observation();
  noGpu.gpuUtilizationPercent = std::numeric_limits<double>::quiet_NaN();  // no data, not a value
  policy.spec.targetRef.name = "chat-server-v2";
  telemetry.recordDecision(policy, decision(3, 3), noGpu, false, std::nullopt, 0.001);
  telemetry.recordDecision(policy, decision(3, 1), noGpu, false, std::nullopt, 0.001);
  const std::string text = scrape(telemetry);

  CHECK(sample(text, "kubeai_autoscaler_scaling_decisions_total{direction=\"up\"," + kChat + "}") == 1.0);
  CHECK(sample(text, "kubeai_autoscaler_scaling_decisions_total{direction=\"none\"," + kChat + "}") == 1.0);
  CHECK(sample(text, "kubeai_autoscaler_scaling_decisions_total{direction=\"down\"," + kChat + "}") == 1.0);
  CHECK_FALSE(sample(text, "kubeai_autoscaler_desired_replicas{" + kChat + ",target=\"chat-server\"}"));
  CHECK(sample(text, "kubeai_autoscaler_desired_replicas{" + kChat + ",target=\"chat-server-v2\"}") == 1.0);
  CHECK_FALSE(sample(text, "kubeai_autoscaler_metric_value{metric_type=\"gpu_utilization\"," + kChat + "}"));
  CHECK(sample(text, "kubeai_autoscaler_metric_target{metric_type=\"gpu_utilization\"," + kChat + "}") == 80.0);
  CHECK(sample(text, "kubeai_autoscaler_cooldown_active{" + kChat + "}") == 0.0);
  CHECK(sample(text, "kubeai_autoscaler_reconcile_duration_seconds_count") == 3.0);
}

TEST_CASE("ready replicas, Predictive's forecast and Burst's panic follow the last decision") {
  Telemetry telemetry;
  core::Policy policy = chatPolicy();
  const std::string ready = "kubeai_autoscaler_ready_replicas{" + kChat + ",target=\"chat-server\"}";
  const std::string forecast = "kubeai_autoscaler_forecast_replicas{" + kChat + "}";
  const std::string horizon = "kubeai_autoscaler_forecast_horizon_seconds{" + kChat + "}";
  const std::string panic = "kubeai_autoscaler_panic_active{" + kChat + "}";

  // MaxRatio, ready replicas unknown: none of the four.
  telemetry.recordDecision(policy, decision(2, 3), observation(), false, std::nullopt, 0.001);
  std::string text = scrape(telemetry);
  for (const std::string* series : {&ready, &forecast, &horizon, &panic}) {
    CAPTURE(*series);
    CHECK_FALSE(sample(text, *series));
  }

  // Predictive while a replica starts: 1 of 3 ready, a forecast of 6.25 replicas' worth 95.5 s ahead.
  core::Decision predictive = decision(3, 7);
  predictive.readyReplicas = 1;
  predictive.forecast = core::ForecastExplanation{};
  predictive.forecast->forecastReplicas = 6.25;
  predictive.forecast->horizonSeconds = 95.5;
  predictive.forecast->horizonSource = core::HorizonSource::kMeasured;
  telemetry.recordDecision(policy, predictive, observation(), false, std::nullopt, 0.001);
  text = scrape(telemetry);
  CHECK(sample(text, ready) == 1.0);
  CHECK(sample(text, forecast) == 6.25);
  CHECK(sample(text, horizon) == 95.5);
  CHECK_FALSE(sample(text, panic));
  CHECK(text.find("# TYPE kubeai_autoscaler_forecast_replicas gauge") != std::string::npos);

  // Ready at 0 is a value (none started yet), not absence; a forecast JSON cannot say is no series.
  predictive.readyReplicas = 0;
  predictive.forecast->forecastReplicas = std::numeric_limits<double>::infinity();
  telemetry.recordDecision(policy, predictive, observation(), false, std::nullopt, 0.001);
  text = scrape(telemetry);
  CHECK(sample(text, ready) == 0.0);
  CHECK_FALSE(sample(text, forecast));
  CHECK(sample(text, horizon) == 95.5);

  // The policy moves to Burst: the forecast's series go, the panic's come, 1 then 0.
  core::Decision burst = decision(3, 10);
  burst.readyReplicas = 3;
  burst.panic = core::PanicExplanation{};
  burst.panic->panicking = true;
  telemetry.recordDecision(policy, burst, observation(), false, std::nullopt, 0.001);
  text = scrape(telemetry);
  CHECK(sample(text, ready) == 3.0);
  CHECK_FALSE(sample(text, forecast));
  CHECK_FALSE(sample(text, horizon));
  CHECK(sample(text, panic) == 1.0);
  burst.panic->panicking = false;
  telemetry.recordDecision(policy, burst, observation(), false, std::nullopt, 0.001);
  CHECK(sample(scrape(telemetry), panic) == 0.0);

  // Refused: nothing is decided on it, so no panic (the replicas stay, as current's do).
  telemetry.recordError("llm", "chat", "invalid");
  text = scrape(telemetry);
  CHECK_FALSE(sample(text, panic));
  CHECK(sample(text, ready) == 3.0);

  // Removed: every series with it.
  telemetry.recordDecision(policy, predictive, observation(), false, std::nullopt, 0.001);
  telemetry.removePolicy("llm", "chat");
  text = scrape(telemetry);
  for (const std::string* series : {&ready, &forecast, &horizon, &panic}) {
    CAPTURE(*series);
    CHECK_FALSE(sample(text, *series));
  }
}

TEST_CASE("a removed policy's series disappear while other policies' stay") {
  Telemetry telemetry;
  core::Policy other = chatPolicy();
  other.metadata.name = "embed";
  telemetry.recordDecision(chatPolicy(), decision(2, 3), observation(), true, core::TimePoint{}, 0.001);
  telemetry.recordDecision(other, decision(2, 2), observation(), false, std::nullopt, 0.001);
  telemetry.recordError("llm", "chat", "metrics");
  telemetry.recordError("llm", "chat", "metrics");
  telemetry.recordError("llm", "embed", "plugin");
  CHECK(sample(scrape(telemetry), "kubeai_autoscaler_reconcile_errors_total{error_type=\"metrics\"," + kChat + "}") == 2.0);

  telemetry.removePolicy("llm", "chat");
  telemetry.removePolicy("llm", "unknown");  // nothing to do
  const std::string text = scrape(telemetry);
  CHECK(text.find("policy=\"chat\"") == std::string::npos);
  CHECK(sample(text, "kubeai_autoscaler_desired_replicas{namespace=\"llm\",policy=\"embed\",target=\"chat-server\"}") ==
        2.0);
  CHECK(sample(text, "kubeai_autoscaler_reconcile_errors_total{error_type=\"plugin\",namespace=\"llm\",policy=\"embed\"}") ==
        1.0);
  // Process-wide families are not the policy's.
  CHECK(sample(text, "kubeai_autoscaler_reconcile_duration_seconds_count") == 2.0);

  // Recorded again, it starts afresh.
  telemetry.recordDecision(chatPolicy(), decision(3, 3), observation(), false, std::nullopt, 0.001);
  const std::string again = scrape(telemetry);
  CHECK(sample(again, "kubeai_autoscaler_scaling_decisions_total{direction=\"none\"," + kChat + "}") == 1.0);
  CHECK_FALSE(sample(again, "kubeai_autoscaler_scaling_decisions_total{direction=\"up\"," + kChat + "}"));
}

TEST_CASE("removing policies stays cheap with many loaded") {
  // prometheus-cpp's Family::Remove searches the whole family: 33 ms per policy
  // with 10,000 loaded, 5 minutes to delete them all. The bound is loose on purpose.
  Telemetry telemetry;
  core::Policy policy = chatPolicy();
  std::vector<std::string> names;
  for (int i = 0; i < 10'000; ++i) names.push_back(std::string("policy-").append(std::to_string(i)));
  for (const std::string& name : names) {
    policy.metadata.name = name;
    telemetry.recordDecision(policy, decision(2, 3), observation(), true, core::TimePoint{}, 1e-5);
    telemetry.recordError(policy.metadata.namespace_, name, "metrics");
  }
  CHECK(sample(scrape(telemetry), "kubeai_autoscaler_desired_replicas{namespace=\"llm\",policy=\"policy-9999\",target=\"chat-server\"}") == 3.0);

  const auto start = std::chrono::steady_clock::now();
  for (const std::string& name : names) telemetry.removePolicy("llm", name);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  CHECK(scrape(telemetry).find("policy=\"") == std::string::npos);
}

TEST_CASE("a policy known only from its errors has no replica series") {
  Telemetry telemetry;
  telemetry.recordError("llm", "broken", "invalid");
  const std::string text = scrape(telemetry);
  CHECK(sample(text, "kubeai_autoscaler_reconcile_errors_total{error_type=\"invalid\",namespace=\"llm\",policy=\"broken\"}") == 1.0);
  CHECK(text.find("kubeai_autoscaler_desired_replicas{") == std::string::npos);
  CHECK(text.find("kubeai_autoscaler_cooldown_active{") == std::string::npos);
}

// One call of the evaluation loop about llm/chat (EvaluationListener's order
// within a cycle: "metrics" before "stale"; a decision before "algorithm").
enum class Call { kDecision, kMetrics, kStale, kAlgorithm, kPluginUnavailable, kInvalid };

void record(Telemetry& telemetry, Call call) {
  switch (call) {
    case Call::kDecision:
      telemetry.recordDecision(chatPolicy(), decision(2, 2), observation(), false, std::nullopt, 1e-5);
      return;
    case Call::kMetrics: telemetry.recordError("llm", "chat", "metrics"); return;
    case Call::kStale: telemetry.recordError("llm", "chat", "stale"); return;
    case Call::kAlgorithm: telemetry.recordError("llm", "chat", "algorithm"); return;
    case Call::kPluginUnavailable: telemetry.recordError("llm", "chat", "plugin_unavailable"); return;
    case Call::kInvalid: telemetry.recordError("llm", "chat", "invalid"); return;
  }
}

// The one kubeai_scaler_policy_state and kubeai_scaler_policy_stale series of
// llm/chat in a scrape ("" when absent), checking there is at most one of each.
struct StateSeries {
  std::string state;
  std::string staleReason;
};

StateSeries stateSeries(const std::string& text) {
  StateSeries found;
  std::istringstream lines(text);
  const std::string statePrefix = "kubeai_scaler_policy_state{" + kChat + ",state=\"";
  const std::string stalePrefix = "kubeai_scaler_policy_stale{" + kChat + ",reason=\"";
  for (std::string line; std::getline(lines, line);) {
    for (const auto& [prefix, into] : {std::pair{&statePrefix, &found.state}, std::pair{&stalePrefix, &found.staleReason}}) {
      if (line.rfind(*prefix, 0) != 0) continue;
      CHECK_MESSAGE(into->empty(), "a second series: " << line);
      const std::size_t end = line.find('"', prefix->size());
      *into = line.substr(prefix->size(), end - prefix->size());
      CHECK(line.substr(end) == "\"} 1");
    }
  }
  return found;
}

TEST_CASE("each policy's state and why it is stale follow the evaluation loop's calls") {
  struct Row {
    const char* what;
    std::vector<Call> calls;
    StateSeries expected;
  };
  using enum Call;
  for (const Row& row : {
           Row{"nothing recorded: no series", {}, {"", ""}},
           Row{"a decision", {kDecision}, {"ready", ""}},
           Row{"no metrics yet", {kMetrics}, {"pending", ""}},
           Row{"a failed read keeps the last decision in force", {kDecision, kMetrics}, {"ready", ""}},
           Row{"stale past the bound, with the failed step as its reason",
               {kDecision, kMetrics, kMetrics, kStale}, {"stale", "metrics"}},
           Row{"stale without ever deciding", {kMetrics, kStale}, {"stale", "metrics"}},
           Row{"still stale: the next cycle's failed read comes before its stale",
               {kMetrics, kStale, kMetrics}, {"stale", "metrics"}},
           Row{"recovered: one good decision clears it", {kMetrics, kStale, kDecision}, {"ready", ""}},
           Row{"a plugin's error holds the decision: still ready", {kDecision, kAlgorithm}, {"ready", ""}},
           Row{"stale with no failed step recorded before it", {kDecision, kStale}, {"stale", "unknown"}},
           Row{"a plugin that keeps failing: stale, the plugin the reason",
               {kDecision, kAlgorithm, kPluginUnavailable}, {"stale", "plugin_unavailable"}},
           Row{"the plugin answers again: ready", {kDecision, kPluginUnavailable, kDecision}, {"ready", ""}},
           Row{"refused", {kDecision, kInvalid}, {"invalid", ""}},
           Row{"refused while stale", {kMetrics, kStale, kInvalid}, {"invalid", ""}},
           Row{"valid again: the loop starts it afresh, pending", {kDecision, kInvalid, kMetrics}, {"pending", ""}},
       }) {
    CAPTURE(row.what);
    Telemetry telemetry;
    for (Call call : row.calls) record(telemetry, call);
    const StateSeries got = stateSeries(scrape(telemetry));
    CHECK(got.state == row.expected.state);
    CHECK(got.staleReason == row.expected.staleReason);
  }
}

TEST_CASE("a stale policy's series go with it, and other policies keep theirs") {
  Telemetry telemetry;
  record(telemetry, Call::kMetrics);
  record(telemetry, Call::kStale);
  telemetry.recordError("llm", "embed", "metrics");
  telemetry.recordError("llm", "embed", "stale");
  const std::string before = scrape(telemetry);
  CHECK(sample(before, "kubeai_scaler_policy_stale{" + kChat + ",reason=\"metrics\"}") == 1.0);
  CHECK(sample(before, "kubeai_scaler_policy_stale{namespace=\"llm\",policy=\"embed\",reason=\"metrics\"}") == 1.0);
  // The error counters stay as they were: the states are counted there too.
  CHECK(sample(before, "kubeai_autoscaler_reconcile_errors_total{error_type=\"stale\"," + kChat + "}") == 1.0);

  telemetry.removePolicy("llm", "chat");
  const std::string after = scrape(telemetry);
  CHECK(after.find("policy=\"chat\"") == std::string::npos);
  CHECK(sample(after, "kubeai_scaler_policy_stale{namespace=\"llm\",policy=\"embed\",reason=\"metrics\"}") == 1.0);
  CHECK(sample(after, "kubeai_scaler_policy_state{namespace=\"llm\",policy=\"embed\",state=\"stale\"}") == 1.0);

  // Back again, it starts with no state until the loop says.
  telemetry.recordError("llm", "chat", "metrics");
  CHECK(stateSeries(scrape(telemetry)).state == "pending");
}

TEST_CASE("gRPC calls are counted by method and code name, and timed by method") {
  struct Row {
    int code;
    const char* name;
  };
  for (const Row& row : {
           Row{0, "OK"},
           Row{1, "CANCELLED"},
           Row{3, "INVALID_ARGUMENT"},
           Row{4, "DEADLINE_EXCEEDED"},
           Row{5, "NOT_FOUND"},
           Row{14, "UNAVAILABLE"},
           Row{16, "UNAUTHENTICATED"},
           Row{17, "UNKNOWN"},  // beyond the known codes: gRPC reads them as UNKNOWN
           Row{-1, "UNKNOWN"},
       }) {
    CAPTURE(row.code);
    CHECK(grpcCodeName(row.code) == row.name);
  }

  Telemetry telemetry;
  telemetry.recordRpc("GetMetrics", 0, 0.00002);
  telemetry.recordRpc("GetMetrics", 0, 0.00002);
  telemetry.recordRpc("GetMetrics", 5, 0.00002);
  telemetry.recordRpc("IsActive", 14, 0.002);
  telemetry.recordRpc("IsActive", 99, 0.002);
  const std::string text = scrape(telemetry);
  CHECK(sample(text, "kubeai_scaler_grpc_requests_total{code=\"OK\",method=\"GetMetrics\"}") == 2.0);
  CHECK(sample(text, "kubeai_scaler_grpc_requests_total{code=\"NOT_FOUND\",method=\"GetMetrics\"}") == 1.0);
  CHECK(sample(text, "kubeai_scaler_grpc_requests_total{code=\"UNAVAILABLE\",method=\"IsActive\"}") == 1.0);
  CHECK(sample(text, "kubeai_scaler_grpc_requests_total{code=\"UNKNOWN\",method=\"IsActive\"}") == 1.0);
  CHECK(sample(text, "kubeai_scaler_grpc_request_duration_seconds_count{method=\"GetMetrics\"}") == 3.0);
  CHECK(sample(text, "kubeai_scaler_grpc_request_duration_seconds_bucket{method=\"GetMetrics\",le=\"2.5e-05\"}") == 3.0);
  CHECK(sample(text, "kubeai_scaler_grpc_request_duration_seconds_bucket{method=\"IsActive\",le=\"0.001\"}") == 0.0);
}

TEST_CASE("policy states, plugins and reload errors") {
  Telemetry telemetry;
  std::string text = scrape(telemetry);
  for (const char* state : {"pending", "ready", "stale", "invalid"}) {  // present from the start
    CAPTURE(state);
    CHECK(sample(text, std::string("kubeai_scaler_policies{state=\"") + state + "\"}") == 0.0);
  }

  telemetry.setPolicyStates({{"ready", 3}, {"stale", 1}, {"pending", 2}});
  telemetry.setPolicyStates({{"ready", 4}, {"stale", 1}});  // pending is now 0, not its last value
  telemetry.setPlugins(2, 1);
  telemetry.recordReloadError("metrics-file");
  telemetry.recordReloadError("metrics-file");
  telemetry.recordReloadError("policy-dir");
  text = scrape(telemetry);
  CHECK(sample(text, "kubeai_scaler_policies{state=\"ready\"}") == 4.0);
  CHECK(sample(text, "kubeai_scaler_policies{state=\"stale\"}") == 1.0);
  CHECK(sample(text, "kubeai_scaler_policies{state=\"pending\"}") == 0.0);
  CHECK(sample(text, "kubeai_scaler_policies{state=\"invalid\"}") == 0.0);
  CHECK(sample(text, "kubeai_scaler_plugins_loaded") == 2.0);
  CHECK(sample(text, "kubeai_scaler_plugin_load_errors") == 1.0);
  CHECK(sample(text, "kubeai_scaler_config_reload_errors_total{source=\"metrics-file\"}") == 2.0);
  CHECK(sample(text, "kubeai_scaler_config_reload_errors_total{source=\"policy-dir\"}") == 1.0);
}

TEST_CASE("evaluation cycles are timed") {
  Telemetry telemetry;
  CHECK(sample(scrape(telemetry), "kubeai_scaler_evaluation_cycle_seconds_count") == 0.0);
  telemetry.recordCycle(0.004);
  telemetry.recordCycle(3.0);
  const std::string text = scrape(telemetry);
  CHECK(sample(text, "kubeai_scaler_evaluation_cycle_seconds_count") == 2.0);
  CHECK(sample(text, "kubeai_scaler_evaluation_cycle_seconds_sum") == doctest::Approx(3.004));
  CHECK(sample(text, "kubeai_scaler_evaluation_cycle_seconds_bucket{le=\"0.005\"}") == 1.0);
  CHECK(sample(text, "kubeai_scaler_evaluation_cycle_seconds_bucket{le=\"2.5\"}") == 1.0);
  CHECK(sample(text, "kubeai_scaler_evaluation_cycle_seconds_bucket{le=\"5\"}") == 2.0);
}

TEST_CASE("families added to registry() are exported with the rest") {
  Telemetry telemetry;
  prometheus::BuildGauge().Name("kubeai_scaler_test_extra").Help("extra").Register(*telemetry.registry()).Add({}).Set(7);
  CHECK(sample(scrape(telemetry), "kubeai_scaler_test_extra") == 7.0);
}

TEST_CASE("recording, removing and scraping from many threads at once") {
  Telemetry telemetry;
  // Appended: GCC 12 at -O3 warns falsely (-Wrestrict) on "p" + std::to_string(i).
  std::vector<std::string> names;
  for (int i = 0; i < 20; ++i) names.push_back(std::string("p").append(std::to_string(i)));
  std::vector<std::thread> threads;
  for (int worker = 0; worker < 4; ++worker) {
    threads.emplace_back([&telemetry, &names, worker] {
      core::Policy policy = chatPolicy();
      for (int round = 0; round < 200; ++round) {
        policy.metadata.name = names[static_cast<std::size_t>(round % 20)];
        telemetry.recordDecision(policy, decision(2, 2 + worker % 3), observation(), round % 2 == 0, std::nullopt, 1e-5);
        telemetry.recordError(policy.metadata.namespace_, policy.metadata.name, "metrics");
        telemetry.recordRpc(worker % 2 == 0 ? "GetMetrics" : "IsActive", round % 3, 1e-5);
        if (round % 7 == worker) telemetry.removePolicy(policy.metadata.namespace_, policy.metadata.name);
        if (round % 50 == 0) CHECK_FALSE(scrape(telemetry).empty());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(sample(scrape(telemetry), "kubeai_autoscaler_reconcile_duration_seconds_count") == 800.0);
}

}  // namespace
}  // namespace kubeai::telemetry
