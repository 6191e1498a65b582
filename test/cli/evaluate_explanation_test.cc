// `evaluate` says what Predictive and Burst saw (issue 14 item 4): the
// forecast and its horizon, the panic and since when, in text and JSON, and
// the replicas serving while some start. evaluate has no history: Predictive's
// model has seen one observation (no trend), Burst's windows hold the one.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

// GPU (target 80 %) and a custom per-pod metric, `waiting` (5 per replica).
std::string policyYaml(const std::string& algorithm, const std::string& parameters = "") {
  std::string text = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 40
  cooldownPeriod: 0
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 80}
    custom:
      - {name: waiting, prometheusQuery: 'sum(waiting)', target: {type: AverageValue, value: 5}}
  algorithm:
    name: )";
  text += algorithm + "\n";
  if (!parameters.empty()) {
    text += "    parameters: " + parameters + "\n";
  }
  return text;
}

CommandResult evaluate(const std::string& policyFile, std::vector<std::string> args) {
  args.insert(args.begin(), {"evaluate", "--policy", policyFile});
  return runScaler(args);
}

nlohmann::json evaluateJson(const std::string& policyFile, std::vector<std::string> args) {
  args.push_back("--output");
  args.push_back("json");
  const CommandResult result = evaluate(policyFile, args);
  CAPTURE(result.err);
  REQUIRE(result.exitCode == 0);
  return nlohmann::json::parse(result.out);
}

bool hasLine(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST_CASE("evaluate: Predictive prints its forecast, horizon and which answer won") {
  TempDir dir;
  const std::string file = dir.write("predictive.yaml", policyYaml("Predictive", "{horizonSeconds: \"120\"}")).string();
  // 4 replicas, GPU 100 % (1.25: 5 replicas' worth), waiting 40 (40 / (5 x 4) = 2: 8 replicas' worth):
  // the forecast is of `waiting`, by its name; one observation, so no trend and the forecast is the demand.
  const std::vector<std::string> args = {"--current-replicas", "4", "--metric", "gpuUtilizationPercent=100",
                                         "--metric", "waiting=40"};
  const CommandResult text = evaluate(file, args);
  CAPTURE(text.out);
  CAPTURE(text.err);
  CHECK(text.exitCode == 0);
  CHECK(hasLine(text.out, "replicas:    4 -> 8 (scale up)"));
  CHECK(hasLine(text.out,
                "forecast:    waiting 8.00 -> 8.00 replicas' worth in 120s (horizon: parameter), trend 0.00/min, "
                "1 observation"));
  CHECK(hasLine(text.out, "reactive:    8 (MaxRatio), forecast 8: MaxRatio decided"));
  CHECK(text.out.find("panic:") == std::string::npos);  // not Burst
  CHECK(text.out.find("serving:") == std::string::npos);  // nothing starting

  const nlohmann::json decision = evaluateJson(file, args);
  CHECK(decision.at("panic").is_null());
  CHECK(decision.at("readyReplicas").is_null());  // not given: unknown
  CHECK(decision.at("servingReplicas") == 4);
  const nlohmann::json& forecast = decision.at("forecast");
  CHECK(forecast == nlohmann::json::parse(R"({"metric": "waiting", "horizonSeconds": 120.0,
      "horizonSource": "parameter", "demandReplicas": 8.0, "forecastReplicas": 8.0, "trendPerMinute": 0.0,
      "reactiveReplicas": 8, "forecastDesiredReplicas": 8, "decided": false, "observations": 1})"));

  // Without horizonSeconds and nothing measured (no history): the default horizon, said so.
  const std::string fallback = dir.write("default.yaml", policyYaml("Predictive")).string();
  const nlohmann::json byDefault = evaluateJson(fallback, args);
  CHECK(byDefault.at("forecast").at("horizonSource") == "default");
  CHECK(byDefault.at("forecast").at("horizonSeconds") == 60.0);
  CHECK(hasLine(evaluate(fallback, args).out,
                "forecast:    waiting 8.00 -> 8.00 replicas' worth in 60s (horizon: default), trend 0.00/min, "
                "1 observation"));
}

TEST_CASE("evaluate: Burst prints whether it panics, since when, and the windows' means") {
  TempDir dir;
  const std::string file = dir.write("burst.yaml", policyYaml("Burst")).string();
  // 4 replicas, waiting 50: 50 / (5 x 4) = 2.5, 10 replicas' worth in both windows, 10 / 4 = 2.5 >= 2: panic.
  const std::vector<std::string> burst = {"--current-replicas", "4", "--metric", "gpuUtilizationPercent=40",
                                          "--metric", "waiting=50"};
  const CommandResult text = evaluate(file, burst);
  CAPTURE(text.out);
  CHECK(text.exitCode == 0);
  CHECK(hasLine(text.out, "replicas:    4 -> 10 (scale up)"));
  // Since now: evaluate has no history, so the panic begins with this decision.
  static const std::regex kPanicOn(
      R"((^|\n)panic:       on since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(ratio 2\.50 >= threshold 2\.00\), most asked for 10\n)");
  CHECK(std::regex_search(text.out, kPanicOn));
  CHECK(hasLine(text.out, "windows:     stable 10.00, panic 10.00 replicas' worth"));
  CHECK(text.out.find("forecast:") == std::string::npos);  // not Predictive

  const nlohmann::json decision = evaluateJson(file, burst);
  CHECK(decision.at("forecast").is_null());
  const nlohmann::json& panic = decision.at("panic");
  CHECK(panic.at("panicking") == true);
  CHECK(panic.at("since").is_string());
  CHECK(panic.at("lastOverThreshold") == panic.at("since"));
  CHECK(panic.at("panicRatio") == 2.5);
  CHECK(panic.at("panicThreshold") == 2.0);
  CHECK(panic.at("stableReplicas") == 10.0);
  CHECK(panic.at("panicReplicas") == 10.0);
  CHECK(panic.at("saturated") == false);
  CHECK(panic.at("maxPanicReplicas") == 10);

  // Calm: waiting 10 (0.5), GPU 60 % (0.75, 3 replicas' worth): 0.75 < 2, no since.
  const std::vector<std::string> calm = {"--current-replicas", "4", "--metric", "gpuUtilizationPercent=60",
                                         "--metric", "waiting=10"};
  CHECK(hasLine(evaluate(file, calm).out, "panic:       off (ratio 0.75 < threshold 2.00)"));
  const nlohmann::json calmDecision = evaluateJson(file, calm);
  CHECK(calmDecision.at("panic").at("panicking") == false);
  CHECK(calmDecision.at("panic").at("since").is_null());

  // GPU at 100 % cannot show 2x: saturated, it counts as over the threshold, and the text says why.
  const std::vector<std::string> full = {"--current-replicas", "4", "--metric", "gpuUtilizationPercent=100",
                                         "--metric", "waiting=10"};
  const std::string saturated = evaluate(file, full).out;
  CAPTURE(saturated);
  CHECK(saturated.find("panic:       on since ") != std::string::npos);
  CHECK(saturated.find("(ratio 1.25 < threshold 2.00; a percentage at 100 %: over it)") != std::string::npos);
  CHECK(evaluateJson(file, full).at("panic").at("saturated") == true);
}

TEST_CASE("evaluate: ready and serving replicas, said when they differ from current") {
  TempDir dir;
  const std::string file = dir.write("predictive.yaml", policyYaml("Predictive")).string();
  // 4 requested, 2 ready: waiting 40 is 40 / (5 x 2) = 4 per serving pod, 4 x 2 / 4 = 2 as the algorithm sees it.
  const std::vector<std::string> starting = {"--current-replicas", "4", "--ready-replicas", "2", "--metric",
                                             "waiting=40"};
  const CommandResult text = evaluate(file, starting);
  CAPTURE(text.out);
  CHECK(hasLine(text.out, "ready:       2"));
  CHECK(hasLine(text.out, "serving:     2 (per-pod ratios on the ready replicas)"));
  const nlohmann::json decision = evaluateJson(file, starting);
  CHECK(decision.at("readyReplicas") == 2);
  CHECK(decision.at("servingReplicas") == 2);

  // All ready: ready said, serving is current and not.
  const std::vector<std::string> ready = {"--current-replicas", "4", "--ready-replicas", "4", "--metric",
                                          "waiting=40"};
  const std::string allReady = evaluate(file, ready).out;
  CHECK(hasLine(allReady, "ready:       4"));
  CHECK(allReady.find("serving:") == std::string::npos);
  CHECK(evaluateJson(file, ready).at("servingReplicas") == 4);

  // spec.startupAware: false counts on the current replicas while some start.
  const std::string unaware =
      dir.write("unaware.yaml", policyYaml("Predictive") + "  startupAware: false\n").string();
  const std::string counted = evaluate(unaware, starting).out;
  CAPTURE(counted);
  CHECK(hasLine(counted, "ready:       2"));
  CHECK(counted.find("serving:") == std::string::npos);
  CHECK(evaluateJson(unaware, starting).at("servingReplicas") == 4);
}

}  // namespace
}  // namespace kubeai::testing
