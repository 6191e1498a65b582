// `evaluate` with a policy file that holds a status (`kubectl get -o yaml`):
// the status seeds the first decision as serve's after a restart, one line
// says so, --ignore-status starts from first sight (--history) or no history,
// and a status serve would not seed from is said and ignored: first sight. evaluate_history_serve_test.cc checks
// the seeded rows against serve's own evaluation loop.
#include <doctest/doctest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli/evaluate_command.h"
#include "kube/client/kube_time.h"
#include "support/temp_dir.h"

namespace kubeai::cli {
namespace {

// `specExtra`: more lines of spec, indented as its fields.
std::string policyWithStatus(const std::string& status, const std::string& specExtra = "") {
  std::string yaml = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm, generation: 2}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 40
  cooldownPeriod: 3600
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 80}
)";
  yaml += specExtra;
  if (!status.empty()) {
    yaml += "status: ";
    yaml += status;
    yaml += "\n";
  }
  return yaml;
}

// A scale to 4 at `lastScaleTime`, written for generation 2.
std::string publishedStatus(const std::string& lastScaleTime, int generation = 2) {
  return R"({"observedGeneration": )" + std::to_string(generation) +
         R"(, "desiredReplicas": 4, "lastScaleTime": ")" + lastScaleTime + R"("})";
}

struct Run {
  int code = 0;
  std::string out;
  std::string err;
};

Run run(EvaluateOptions options) {
  std::ostringstream out;
  std::ostringstream err;
  Run result;
  result.code = runEvaluate(options, out, err);
  result.out = out.str();
  result.err = err.str();
  return result;
}

// Row 1 at twice the target, 4 current: 8 unless the cooldown holds.
constexpr const char* kRows = R"(- {time: "2025-01-01T00:00:20Z", currentReplicas: 4, gpuUtilizationPercent: 160}
- {time: "2025-01-01T01:00:20Z", currentReplicas: 4, gpuUtilizationPercent: 160}
)";

TEST_CASE("evaluate --history: the policy file's status seeds row 1, said in one line") {
  testing::TempDir dir;
  EvaluateOptions options;
  options.policyFile = dir.write("policy.yaml", policyWithStatus(publishedStatus("2025-01-01T00:00:00Z")));
  options.historyFile = dir.write("rows.yaml", kRows);
  options.output = "json";
  const Run seeded = run(options);
  REQUIRE(seeded.code == 0);
  const nlohmann::json rows = nlohmann::json::parse(seeded.out);
  // The change published 20 s before row 1 holds its hour of cooldown, then ends.
  CHECK(rows[0]["desiredReplicas"] == 4);
  CHECK(rows[0]["limitedBy"] == "cooldown");
  CHECK(rows[1]["desiredReplicas"] == 8);
  CHECK(seeded.err == "note: seeded from the status in " + options.policyFile.string() +
                          ", as serve after a restart (published as of 2025-01-01T00:00:00Z, status.lastScaleTime): "
                          "desiredReplicas 4, lastScaleTime 2025-01-01T00:00:00Z; after editing the spec, pass "
                          "--ignore-status or bump metadata.generation, as the API does: serve then starts from first "
                          "sight\n");

  options.ignoreStatus = true;
  const Run ignored = run(options);
  REQUIRE(ignored.code == 0);
  CHECK(nlohmann::json::parse(ignored.out)[0]["desiredReplicas"] == 8);
  CHECK(ignored.err.empty());
}

TEST_CASE("evaluate --history refuses rows that begin before the status's time") {
  testing::TempDir dir;
  EvaluateOptions options;
  options.policyFile = dir.write("policy.yaml", policyWithStatus(publishedStatus("2025-01-01T00:00:30Z")));
  options.historyFile = dir.write("rows.yaml", kRows);
  const Run before = run(options);
  CHECK(before.code == 2);
  CHECK(before.out.empty());
  CHECK(before.err.find("error: " + options.historyFile->string() +
                        ": row 1: time 2025-01-01T00:00:20Z is before the status in " + options.policyFile.string() +
                        " (status.lastScaleTime 2025-01-01T00:00:30Z)") != std::string::npos);
  // Seconds from the start are 2024's: said, so that the cause is plain.
  options.historyFile = dir.write("seconds.yaml", "- {time: 0, currentReplicas: 4, gpuUtilizationPercent: 160}\n");
  const Run seconds = run(options);
  CHECK(seconds.code == 2);
  CHECK(seconds.err.find("row 1: time 2024-01-01T00:00:00Z (seconds from the start count from 2024-01-01T00:00:00Z)") !=
        std::string::npos);
  // --ignore-status: nothing to come after.
  options.ignoreStatus = true;
  CHECK(run(options).code == 0);
}

// The statuses serve would not seed from, each with the warning evaluate
// gives (after "warning: FILE: ").
struct UnseedableStatus {
  const char* name;
  std::string status;
  std::string warning;
};

std::vector<UnseedableStatus> unseedableStatuses() {
  return {
      // Written for generation 1: another spec (a spec edit, the generation bumped).
      {"another generation", publishedStatus("2025-01-01T00:00:00Z", 1),
       "status.observedGeneration 1 is not metadata.generation 2: it was written for another spec"},
      // No decision published.
      {"no desiredReplicas", R"({"observedGeneration": 2})",
       "status.desiredReplicas: missing (no decision was published)"},
      // Not a status at all.
      {"not an object", R"("garbage")", "status: not an object"},
  };
}

TEST_CASE("evaluate: a status serve would not seed from is said and ignored, as serve ignores it") {
  const std::vector<UnseedableStatus> rows = unseedableStatuses();
  for (const UnseedableStatus& row : rows) {
    CAPTURE(row.name);
    testing::TempDir dir;
    EvaluateOptions options;
    options.policyFile = dir.write("policy.yaml", policyWithStatus(row.status));
    options.historyFile = dir.write("rows.yaml", kRows);
    options.output = "json";
    const Run result = run(options);
    REQUIRE(result.code == 0);
    CHECK(result.err == "warning: " + options.policyFile.string() + ": " + row.warning +
                            "; serve would not seed from it: starting from first sight\n");
    CHECK(nlohmann::json::parse(result.out)[0]["desiredReplicas"] == 8);  // first sight: no cooldown
  }
}

TEST_CASE("evaluate without --history: the policy file's status seeds the one decision, at the wall clock") {
  testing::TempDir dir;
  // Published a minute ago; the policy's cooldown is an hour.
  const std::string minuteAgo = kube::formatTime(std::chrono::system_clock::now() - std::chrono::minutes(1));
  EvaluateOptions options;
  options.policyFile = dir.write("policy.yaml", policyWithStatus(publishedStatus(minuteAgo)));
  options.currentReplicas = 4;
  options.metrics = {"gpuUtilizationPercent=160"};
  options.output = "json";
  const Run seeded = run(options);
  REQUIRE(seeded.code == 0);
  const nlohmann::json decision = nlohmann::json::parse(seeded.out);
  CHECK(decision["desiredReplicas"] == 4);
  CHECK(decision["limitedBy"] == "cooldown");
  CHECK(seeded.err.find("note: seeded from the status in ") == 0);
  // Here --ignore-status gives no history, so the note says so.
  CHECK(seeded.err.find("; after editing the spec, bump metadata.generation, as the API does: serve then starts from "
                        "first sight (--ignore-status: no history)\n") != std::string::npos);

  options.ignoreStatus = true;
  const Run ignored = run(options);
  REQUIRE(ignored.code == 0);
  CHECK(nlohmann::json::parse(ignored.out)["desiredReplicas"] == 8);  // no history: no cooldown
  CHECK(ignored.err.empty());

  // A file without a status: no history, no line, as before.
  options.ignoreStatus = false;
  options.policyFile = dir.write("plain.yaml", policyWithStatus(""));
  const Run plain = run(options);
  REQUIRE(plain.code == 0);
  CHECK(nlohmann::json::parse(plain.out)["desiredReplicas"] == 8);
  CHECK(plain.err.empty());
}

TEST_CASE("evaluate without --history: a status serve would not seed from is first sight, as serve's") {
  // 8 current at half the target: 4, unless the scale-down window holds the
  // current 8, as serve's first sight does.
  const std::string scaleDown = "  scaleDown: {stabilizationWindowSeconds: 300}\n";
  const std::vector<UnseedableStatus> rows = unseedableStatuses();
  for (const UnseedableStatus& row : rows) {
    CAPTURE(row.name);
    testing::TempDir dir;
    EvaluateOptions options;
    options.policyFile = dir.write("policy.yaml", policyWithStatus(row.status, scaleDown));
    options.currentReplicas = 8;
    options.metrics = {"gpuUtilizationPercent=40"};
    options.output = "json";
    const Run result = run(options);
    REQUIRE(result.code == 0);
    CHECK(result.err == "warning: " + options.policyFile.string() + ": " + row.warning +
                            "; serve would not seed from it: starting from first sight\n");
    const nlohmann::json decision = nlohmann::json::parse(result.out);
    CHECK(decision["recommendedReplicas"] == 4);
    CHECK(decision["desiredReplicas"] == 8);  // first sight's window holds the current 8
    CHECK(decision["limitedBy"] == "stabilization");

    // --ignore-status: no history, as the note and the README say.
    options.ignoreStatus = true;
    const Run ignored = run(options);
    REQUIRE(ignored.code == 0);
    CHECK(nlohmann::json::parse(ignored.out)["desiredReplicas"] == 4);
    CHECK(ignored.err.empty());
  }

  // Without a status: no history, so no window, and no line.
  testing::TempDir dir;
  EvaluateOptions options;
  options.policyFile = dir.write("plain.yaml", policyWithStatus("", scaleDown));
  options.currentReplicas = 8;
  options.metrics = {"gpuUtilizationPercent=40"};
  options.output = "json";
  const Run plain = run(options);
  REQUIRE(plain.code == 0);
  CHECK(nlohmann::json::parse(plain.out)["desiredReplicas"] == 4);
  CHECK(plain.err.empty());
}

}  // namespace
}  // namespace kubeai::cli
