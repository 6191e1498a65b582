// A Predictive hold without metrics makes no forecast but keeps its models:
// evaluate shows the models alone, never a 0 or false that reads as an answer.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/evaluate_command.h"
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

}  // namespace
}  // namespace kubeai::cli
