// `evaluate --history` and serve agree (issue 14: Predictive's state lives in
// the core's History, so serve and `evaluate --history` decide alike): the
// same observations go through serve's EvaluationLoop (a scripted metric
// source, a clock set to each row's time) and through runEvaluate with a
// history file; every row's decision is the same, to the last key of the JSON.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/decision_output.h"
#include "cli/evaluate_command.h"
#include "cli/evaluate_history.h"
#include "core/algorithm_registry.h"
#include "kube/policy_status.h"
#include "kube/status_seed.h"
#include "policy/policy_parser.h"
#include "server/decision_store.h"
#include "server/evaluation_loop.h"
#include "support/temp_dir.h"

namespace kubeai::cli {
namespace {

// What serve reads for the policy: the row of the moment.
class RowSource final : public source::MetricSource {
 public:
  source::MetricReading reading;
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    return std::vector<core::Result<source::MetricReading>>(policies.size(), reading);
  }
};

struct RampRow {
  int time = 0;
  int current = 2;
  int ready = 2;
  double gpu = 0;
};

// An evaluated row as serve's decision JSON has it: without the row's
// number, time and the policy's name, which only evaluate --history prints.
nlohmann::json asServed(nlohmann::json row) {
  row.erase("row");
  row.erase("time");
  row.erase("policy");
  return row;
}

std::string policyYaml(const std::string& algorithm) {
  return R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 40
  cooldownPeriod: 0
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 80}
  scaleDown: {stabilizationWindowSeconds: 30}  # the first row's scale-down: first sight's window holds it
  algorithm:
    name: )" + algorithm + "\n" + (algorithm == "Predictive" ? "    parameters: {horizonSeconds: \"60\"}\n" : "");
}

TEST_CASE("evaluate --history decides every row as serve's evaluation loop does (Predictive, Burst, MaxRatio)") {
  for (const char* algorithm : {"Predictive", "Burst", "MaxRatio"}) {
    CAPTURE(algorithm);
    testing::TempDir dir;
    const auto policyFile = dir.write("policy.yaml", policyYaml(algorithm));
    const policy::PolicyFile parsed = policy::loadPolicyFile(policyFile);
    REQUIRE(parsed.policies.size() == 1);
    REQUIRE(parsed.policies.front().ok());
    const core::Policy& policy = parsed.policies.front().policy;

    // serve: one cycle per row, the clock at the row's time.
    server::DecisionStore store;
    const auto registry = core::AlgorithmRegistry::withBuiltins();
    RowSource source;
    core::TimePoint now = historyTime(0);
    server::EvaluationLoop loop{store, *registry, source, server::EvaluationOptions{}, [&now] { return now; }};
    loop.setPolicies(std::vector<core::Policy>{policy});
    // A linear ramp of GPU load, +10 points every 15 s; the workload takes
    // each published value as the next row's current replicas, ready a row
    // after that (a start-up of 15 s).
    std::vector<RampRow> rows(12);
    std::vector<nlohmann::json> served;
    std::string history;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      rows[i].time = 15 * static_cast<int>(i);
      rows[i].gpu = 40.0 + 10.0 * static_cast<double>(i);
      if (i > 0) {
        rows[i].current = served.back()["desiredReplicas"].get<int>();
        rows[i].ready = rows[i - 1].current;
      }
      now = historyTime(rows[i].time);
      source.reading = {};
      source.reading.currentReplicas = rows[i].current;
      source.reading.readyReplicas = rows[i].ready;
      source.reading.gpuUtilizationPercent = rows[i].gpu;
      loop.runOnce();
      const auto entry = store.find("llm", "chat");
      REQUIRE(entry != nullptr);
      REQUIRE(entry->decision.has_value());
      served.push_back(decisionToJson(*entry->decision, policy.spec.metrics));
      history += "- {time: " + std::to_string(rows[i].time) + ", currentReplicas: " + std::to_string(rows[i].current) +
                 ", readyReplicas: " + std::to_string(rows[i].ready) +
                 ", gpuUtilizationPercent: " + std::to_string(rows[i].gpu) + "}\n";
    }

    EvaluateOptions options;
    options.policyFile = policyFile;
    options.historyFile = dir.write("history.yaml", history);
    options.output = "json";
    std::ostringstream out;
    std::ostringstream err;
    REQUIRE(runEvaluate(options, out, err) == 0);
    CAPTURE(err.str());
    const nlohmann::json evaluated = nlohmann::json::parse(out.str());
    REQUIRE(evaluated.size() == rows.size());
    bool forecastDecided = false;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      CAPTURE(i);
      const nlohmann::json row = asServed(evaluated[i]);
      CHECK(row == served[i]);
      forecastDecided = forecastDecided || (row["forecast"].is_object() && row["forecast"]["decided"] == true);
    }
    // The ramp is one history needs: Predictive's trend puts it ahead of MaxRatio.
    if (std::string(algorithm) == "Predictive") {
      CHECK(forecastDecided);
      CHECK(evaluated.back()["forecast"]["observations"].get<int>() > 1);
    }
  }
}

// A status a previous serve published (`kubectl get -o yaml` keeps it in the
// file): each case's seed changes row 1's answer from first sight's.
struct SeededCase {
  const char* name;
  const char* algorithm;
  int cooldown;
  std::string status;  // the policy's .status, as JSON
  int firstSightRow1;  // row 1's desiredReplicas from first sight
};

std::string seededPolicyYaml(const SeededCase& seeded) {
  std::string yaml = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm, generation: 3}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 40
  cooldownPeriod: )";
  yaml += std::to_string(seeded.cooldown);
  yaml += R"(
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 80}
  algorithm:
    name: )";
  yaml += seeded.algorithm;
  yaml += "\n";
  if (std::string(seeded.algorithm) == "Predictive") {
    yaml += "    parameters: {horizonSeconds: \"60\"}\n";
  }
  yaml += "status: ";
  yaml += seeded.status;  // JSON is YAML
  yaml += "\n";
  return yaml;
}

TEST_CASE("evaluate --history seeded from the policy file's status decides every row as serve restarted does") {
  // Row 1 is at 2024-01-01T00:00:00Z (seconds from the start); the status
  // was published before it.
  const std::vector<SeededCase> cases{
      // A scale-up 10 s before row 1 with a 60 s cooldown: row 1 holds 2
      // where first sight scales to 4 at once.
      {"cooldown", "MaxRatio", 60,
       R"({"observedGeneration": 3, "desiredReplicas": 2, "lastScaleTime": "2023-12-31T23:59:50Z"})", 4},
      // Predictive's model of gpuUtilization, 2 replicas' worth rising 3 a
      // minute, observed 15 s before row 1: row 1 scales ahead on the trend
      // where first sight (one observation, no trend) holds 2.
      {"forecast models", "Predictive", 0,
       R"({"observedGeneration": 3, "desiredReplicas": 2, "lastScaleTime": "2023-12-31T23:50:00Z",
           "forecast": {"models": [{"metric": "gpuUtilization", "level": 1.8, "trendPerSecond": 0.05,
                                    "observedAt": "2023-12-31T23:59:45Z", "observations": 12}]}})",
       2},
  };
  for (const SeededCase& seeded : cases) {
    CAPTURE(seeded.name);
    testing::TempDir dir;
    const auto policyFile = dir.write("policy.yaml", seededPolicyYaml(seeded));
    const policy::PolicyFile parsed = policy::loadPolicyFile(policyFile);
    REQUIRE(parsed.policies.size() == 1);
    REQUIRE(parsed.policies.front().ok());
    REQUIRE(parsed.policies.front().status.has_value());
    const core::Policy& policy = parsed.policies.front().policy;

    // serve restarted: its first sight seeded as StatusWriter::seedFor
    // seeds it, from the status the watch handed (parseApiStatus).
    server::DecisionStore store;
    const auto registry = core::AlgorithmRegistry::withBuiltins();
    RowSource source;
    core::TimePoint now = historyTime(0);
    server::EvaluationOptions options;
    const std::string statusJson = *parsed.policies.front().status;
    options.seed = [&statusJson](const core::Policy& seen) {
      return kube::seedFromApiStatus(kube::parseApiStatus(statusJson), seen.metadata.generation,
                                     seen.spec.metrics);
    };
    server::EvaluationLoop loop{store, *registry, source, options, [&now] { return now; }};
    loop.setPolicies(std::vector<core::Policy>{policy});
    std::vector<nlohmann::json> served;
    std::string history;
    for (int i = 0; i < 6; ++i) {
      const int time = 15 * i;
      const double gpu = 80.0 + 20.0 * i + (std::string(seeded.algorithm) == "MaxRatio" ? 80.0 : 0.0);
      const int current = i == 0 ? 2 : served.back()["desiredReplicas"].get<int>();
      now = historyTime(time);
      source.reading = {};
      source.reading.currentReplicas = current;
      source.reading.readyReplicas = current;
      source.reading.gpuUtilizationPercent = gpu;
      loop.runOnce();
      const auto entry = store.find("llm", "chat");
      REQUIRE(entry != nullptr);
      REQUIRE(entry->decision.has_value());
      served.push_back(decisionToJson(*entry->decision, policy.spec.metrics));
      history += "- {time: " + std::to_string(time) + ", currentReplicas: " + std::to_string(current) +
                 ", readyReplicas: " + std::to_string(current) + ", gpuUtilizationPercent: " + std::to_string(gpu) +
                 "}\n";
    }
    const auto historyFile = dir.write("history.yaml", history);

    const auto evaluate = [&](bool ignoreStatus, std::string& err) {
      EvaluateOptions evaluateOptions;
      evaluateOptions.policyFile = policyFile;
      evaluateOptions.historyFile = historyFile;
      evaluateOptions.output = "json";
      evaluateOptions.ignoreStatus = ignoreStatus;
      std::ostringstream out;
      std::ostringstream errors;
      REQUIRE(runEvaluate(evaluateOptions, out, errors) == 0);
      err = errors.str();
      return nlohmann::json::parse(out.str());
    };
    std::string err;
    const nlohmann::json evaluated = evaluate(false, err);
    CAPTURE(err);
    // One line says it was seeded, and from what.
    CHECK(err.find("note: seeded from the status in " + policyFile.string()) != std::string::npos);
    REQUIRE(evaluated.size() == served.size());
    for (std::size_t i = 0; i < served.size(); ++i) {
      CAPTURE(i);
      CHECK(asServed(evaluated[i]) == served[i]);
    }
    // The seed is what made row 1: first sight answers otherwise.
    std::string ignoredErr;
    const nlohmann::json firstSight = evaluate(true, ignoredErr);
    CHECK(ignoredErr.find("seeded") == std::string::npos);
    CHECK(firstSight[0]["desiredReplicas"].get<int>() == seeded.firstSightRow1);
    CHECK(evaluated[0]["desiredReplicas"].get<int>() != seeded.firstSightRow1);
  }
}

}  // namespace
}  // namespace kubeai::cli
