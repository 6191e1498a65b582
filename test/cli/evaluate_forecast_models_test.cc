// A Predictive hold without metrics makes no forecast but keeps its models:
// evaluate shows the models alone, never a 0 or false that reads as an answer.
#include <doctest/doctest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>

#include "cli/decision_output.h"
#include "cli/evaluate_command.h"
#include "core/builtin_algorithms.h"
#include "kube/policy_status.h"
#include "support/temp_dir.h"

namespace kubeai::cli {
namespace {

std::string predictivePolicy(const std::string& status) {
  std::string yaml = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm, generation: 1}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 40
  cooldownPeriod: 0
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 80}
  algorithm:
    name: Predictive
    parameters: {horizonSeconds: "60"}
)";
  if (!status.empty()) {
    yaml += "status: " + status + "\n";
  }
  return yaml;
}

int run(const EvaluateOptions& options, std::string& out) {
  std::ostringstream output;
  std::ostringstream err;
  const int code = runEvaluate(options, output, err);
  out = output.str();
  return code;
}

TEST_CASE("evaluate --history: a Predictive hold without metrics shows its models alone") {
  testing::TempDir dir;
  EvaluateOptions options;
  options.policyFile = dir.write("policy.yaml", predictivePolicy(""));
  // Row 2's metric is no data: Predictive holds, its model of row 1 kept.
  options.historyFile = dir.write("rows.yaml", R"(- {time: 0, currentReplicas: 2, gpuUtilizationPercent: 120}
- {time: 15, currentReplicas: 3, gpuUtilizationPercent: null}
)");
  options.output = "json";
  std::string out;
  REQUIRE(run(options, out) == 0);
  const nlohmann::json rows = nlohmann::json::parse(out);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["forecast"].contains("reactiveReplicas"));  // a forecast: every field
  const nlohmann::json& held = rows[1]["forecast"];
  CAPTURE(held.dump());
  REQUIRE(held.is_object());
  CHECK(held.size() == 1);  // no reactiveReplicas, forecastDesiredReplicas, decided, ...
  REQUIRE(held.at("models").size() == 1);
  CHECK(held["models"][0]["metric"] == "gpuUtilization");
  CHECK(held["models"][0]["level"].get<double>() == doctest::Approx(3.0));  // 2 x 120 / 80
  CHECK(held["models"][0]["observedAt"] == "2024-01-01T00:00:00Z");
  CHECK(held["models"][0]["observations"] == 1);

  options.output = "text";
  REQUIRE(run(options, out) == 0);
  CAPTURE(out);
  CHECK(out.find("no metrics available; no forecast, the models kept") != std::string::npos);
}

TEST_CASE("evaluate: a Predictive hold without metrics, seeded with models, prints them and no forecast") {
  testing::TempDir dir;
  EvaluateOptions options;
  // The models alone, as a hold without metrics leaves status.forecast.
  options.policyFile = dir.write(
      "policy.yaml",
      predictivePolicy(R"({"observedGeneration": 1, "desiredReplicas": 3, "forecast": {"models": [
          {"metric": "gpuUtilization", "level": 2.5, "trendPerSecond": 0.05, "observedAt": "2025-01-01T00:00:00Z",
           "observations": 7}]}})"));
  options.currentReplicas = 3;
  std::string out;
  REQUIRE(run(options, out) == 0);
  CAPTURE(out);
  CHECK(out.find("forecast:    none (no metrics); models kept: gpuUtilization level 2.50, trend 3.00/min, "
                 "7 observations\n") != std::string::npos);
  CHECK(out.find("reactive:") == std::string::npos);

  options.output = "json";
  REQUIRE(run(options, out) == 0);
  const nlohmann::json decision = nlohmann::json::parse(out);
  CHECK(decision["forecast"] == nlohmann::json::parse(R"({"models": [{"metric": "gpuUtilization", "level": 2.5,
      "trendPerSecond": 0.05, "observedAt": "2025-01-01T00:00:00Z", "observations": 7}]})"));
}

// A Predictive decision without a forecast, with a model of gpuUtilization
// and one of latencyP99 whose level is not finite, for `reason`.
core::Decision modelsOnlyDecision(std::string reason) {
  core::Decision decision;
  decision.algorithm = "Predictive";
  decision.requestedAlgorithm = "Predictive";
  decision.reason = std::move(reason);
  core::HoltState kept;
  kept.slot = core::MetricSlot::kGpuUtilization;
  kept.level = 2.5;
  kept.trendPerSecond = 0.05;
  kept.observations = 7;
  core::HoltState broken = kept;
  broken.slot = core::MetricSlot::kLatencyP99;
  broken.level = std::numeric_limits<double>::quiet_NaN();
  decision.forecastModels = {broken, kept};
  return decision;
}

TEST_CASE("evaluate shows the models status.forecast writes: one whose level is not finite in neither") {
  const core::MetricsSpec metrics;
  const core::Decision decision = modelsOnlyDecision(core::kReasonNoMetrics);
  const std::optional<kube::ForecastStatus> status = kube::forecastStatus(metrics, decision);
  REQUIRE(status);
  REQUIRE(status->models.size() == 1);
  CHECK(status->models[0].metric == "gpuUtilization");
  const nlohmann::json json = decisionToJson(decision, metrics);
  CAPTURE(json.dump());
  REQUIRE(json["forecast"]["models"].size() == 1);
  CHECK(json["forecast"]["models"][0]["metric"] == "gpuUtilization");
  const std::string text = decisionToText("llm/chat", decision, metrics);
  CAPTURE(text);
  CHECK(text.find("models kept: gpuUtilization level 2.50, trend 3.00/min, 7 observations\n") != std::string::npos);
  CHECK(text.find("latencyP99") == std::string::npos);

  // Only the NaN model: none status writes, so none shown.
  core::Decision onlyBroken = decision;
  onlyBroken.forecastModels.pop_back();
  CHECK_FALSE(kube::forecastStatus(metrics, onlyBroken));
  CHECK_FALSE(hasModelsOnly(onlyBroken, metrics));
  CHECK(decisionToJson(onlyBroken, metrics)["forecast"].is_null());
}

TEST_CASE("evaluate says 'no metrics' of a models-only forecast only when that is the decision's reason") {
  const core::MetricsSpec metrics;
  const std::string held = decisionToText("llm/chat", modelsOnlyDecision(core::kReasonNoMetrics), metrics);
  CHECK(held.find("forecast:    none (no metrics); models kept: gpuUtilization") != std::string::npos);
  // Predictive's error keeps the models too: no forecast, but not for want of metrics.
  const std::string failed = decisionToText(
      "llm/chat", modelsOnlyDecision("algorithm Predictive failed, holding current replicas: bad"), metrics);
  CAPTURE(failed);
  CHECK(failed.find("forecast:    none; models kept: gpuUtilization") != std::string::npos);
  CHECK(failed.find("no metrics") == std::string::npos);
}

}  // namespace
}  // namespace kubeai::cli
