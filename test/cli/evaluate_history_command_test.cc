// `evaluate --history FILE`: one decision per row, the history carried from
// row to row as serve carries it; the stabilization window checked row by
// row against the HPA's rule, the output forms, and every bad input named
// with its file, row and field.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

// MaxRatio on GPU (target 50 %), a 50 s scale-down window, no cooldown.
constexpr const char* kStabilizedPolicy = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: chat}
  minReplicas: 1
  maxReplicas: 20
  cooldownPeriod: 0
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 50}
    custom:
      - {name: kvCache, prometheusQuery: 'avg(kv)', target: {type: Value, value: 0.8}}
  scaleDown: {stabilizationWindowSeconds: 50}
)";

CommandResult evaluateHistory(const TempDir& dir, const std::string& history, std::vector<std::string> args = {}) {
  const std::string policy = dir.write("policy.yaml", kStabilizedPolicy).string();
  const std::string file = dir.write("history.yaml", history).string();
  args.insert(args.begin(), {"evaluate", "--policy", policy, "--history", file});
  return runScaler(args);
}

TEST_CASE("evaluate --history: a scale-down window holds the most recommended in it, row by row (the HPA's rule)") {
  // Rows every 20 s, the window 50 s: a row's window holds its own
  // recommendation and the two before it (never one on its edge). Each row's
  // current replicas are the previous row's desired: the workload followed.
  // recommendation = ceil(current x gpu / 50) outside the tolerance (0.1).
  struct Row {
    int time;
    int current;
    double gpu;
    int recommended;
    int desired;  // the HPA's rule: max of the recommendations in the window, and the first sight's current
  };
  const Row rows[] = {
      {0, 6, 25, 3, 6},      // window {3} and first sight's 6 (serve's initial recommendation): 6 holds
      {20, 6, 100, 12, 12},  // up: 6 x 2; the up window is 0 s
      {40, 12, 25, 6, 12},   // window {6, 3, 12, 6}: 12
      {60, 12, 12.5, 3, 12}, // window {12, 6, 3} (t = 0's are out): 12
      {80, 12, 12.5, 3, 6},  // window {6, 3, 3} (t = 20's 12 is out): 6
      {100, 6, 25, 3, 3},    // window {3, 3, 3}: 3
      {120, 3, 75, 5, 5},    // up: ceil(3 x 1.5)
      {140, 5, 50, 5, 5},    // within tolerance: holds 5
      {160, 5, 10, 1, 5},    // window {5, 5, 1}: 5
      {180, 5, 10, 1, 5},    // window {5, 1, 1} (t = 140's): 5
      {200, 5, 10, 1, 1},    // window {1, 1, 1}: 1
  };
  std::string history;
  for (const Row& row : rows) {
    history += "- {time: " + std::to_string(row.time) + ", currentReplicas: " + std::to_string(row.current) +
               ", gpuUtilizationPercent: " + std::to_string(row.gpu) + "}\n";
  }
  TempDir dir;
  const CommandResult result = evaluateHistory(dir, history, {"--output", "json"});
  CAPTURE(result.err);
  REQUIRE(result.exitCode == 0);
  const nlohmann::json decisions = nlohmann::json::parse(result.out);
  REQUIRE(decisions.is_array());
  REQUIRE(decisions.size() == std::size(rows));
  for (std::size_t i = 0; i < std::size(rows); ++i) {
    CAPTURE(rows[i].time);
    const nlohmann::json& decision = decisions[i];
    CHECK(decision["row"] == i + 1);
    CHECK(decision["time"] == rows[i].time);
    CHECK(decision["policy"] == "llm/chat");
    CHECK(decision["currentReplicas"] == rows[i].current);
    CHECK(decision["recommendedReplicas"] == rows[i].recommended);
    CHECK(decision["desiredReplicas"] == rows[i].desired);
    const bool held = rows[i].desired > rows[i].recommended;
    CHECK(decision["limitedBy"] == (held ? nlohmann::json("stabilization") : nlohmann::json(nullptr)));
  }

  // The same as a table: a header, then one line per row.
  const CommandResult text = evaluateHistory(dir, history);
  CAPTURE(text.out);
  REQUIRE(text.exitCode == 0);
  CHECK(text.out.rfind("policy: llm/chat (MaxRatio)\nROW  TIME  CURRENT  READY  RATIO  RECOMMENDED  DESIRED  "
                       "LIMITED BY     REASON\n",
                       0) == 0);
  CHECK(text.out.find("\n4    60s   12       -      0.250  3            12       stabilization  ") !=
        std::string::npos);
  CHECK(text.out.find("\n11   200s  5        -      0.200  1            1        -              ") !=
        std::string::npos);
}

TEST_CASE("evaluate --history takes RFC 3339 times, ready replicas and custom metrics by name") {
  TempDir dir;
  const CommandResult result = evaluateHistory(dir,
                                               "[{\"time\": \"2026-11-28T09:00:00Z\", \"currentReplicas\": 2, "
                                               "\"readyReplicas\": 2, \"kvCache\": 1.6},\n"
                                               " {\"time\": \"2026-11-28T09:00:15+00:00\", \"currentReplicas\": 4, "
                                               "\"readyReplicas\": null, \"gpuUtilizationPercent\": null}]\n",
                                               {"--output", "json"});
  CAPTURE(result.err);
  REQUIRE(result.exitCode == 0);
  const nlohmann::json decisions = nlohmann::json::parse(result.out);
  REQUIRE(decisions.size() == 2);
  CHECK(decisions[0]["time"] == "2026-11-28T09:00:00Z");  // as the file gave it
  CHECK(decisions[0]["readyReplicas"] == 2);
  CHECK(decisions[0]["ratios"]["kvCache"].get<double>() == doctest::Approx(2.0));
  CHECK(decisions[0]["desiredReplicas"] == 4);  // 2 x 1.6 / 0.8
  CHECK(decisions[1]["time"] == "2026-11-28T09:00:15+00:00");
  CHECK(decisions[1]["readyReplicas"].is_null());  // null: unknown
  CHECK(decisions[1]["reason"] == "no metrics available");
  CHECK(decisions[1]["desiredReplicas"] == 4);
}

TEST_CASE("evaluate --history: bad rows are refused with the file, the row and the field") {
  TempDir dir;
  const std::string file = (dir.path() / "history.yaml").string();
  struct Case {
    const char* what;
    const char* history;
    std::vector<std::string> errors;  // every line of stderr, after "error: FILE: "
  };
  const Case cases[] = {
      {"missing currentReplicas", "- {time: 0, currentReplicas: 2}\n- {time: 15, gpuUtilizationPercent: 90}\n",
       {"row 2: currentReplicas: required"}},
      {"time going backwards",
       "- {time: 0, currentReplicas: 2}\n- {time: 30, currentReplicas: 2}\n- {time: 20, currentReplicas: 2}\n",
       {"row 3: time: 20 goes backwards, before row 2's 30: rows must be in time order"}},
      {"the same time twice", "- {time: 5, currentReplicas: 2}\n- {time: 5, currentReplicas: 2}\n",
       {"row 2: time: 5 is row 1's time too: each row must be later than the one before"}},
      {"unknown metric", "- {time: 0, currentReplicas: 2, cpu: 3}\n",
       {"row 1: cpu: unknown metric (one of currentReplicas, readyReplicas, time, latencyP99Ms, latencyP95Ms, "
        "gpuUtilizationPercent, requestQueueDepth, kvCache)"}},
      {"every problem at once",
       "- {currentReplicas: -1, gpuUtilizationPercent: lots}\n- {time: 1, currentReplicas: 2, readyReplicas: 1.5, "
       "latencyP99Ms: -3}\n",
       {"row 1: time: required (seconds from the start, or an RFC 3339 time)",
        "row 1: currentReplicas: must be an integer >= 0", "row 1: gpuUtilizationPercent: must be a number",
        "row 2: readyReplicas: must be an integer >= 0", "row 2: latencyP99Ms: must be >= 0"}},
      {"two forms of time", "- {time: 0, currentReplicas: 2}\n- {time: '2026-11-28T09:00:00Z', currentReplicas: 2}\n",
       {"row 2: time: row 1 gives seconds from the start: use one form in the whole file"}},
      {"two forms of time, the first good row named",
       "- {time: 0, currentReplicas: -1}\n- {time: '2026-11-28T09:00:00Z', currentReplicas: 2}\n"
       "- {time: 20, currentReplicas: 2}\n",
       {"row 1: currentReplicas: must be an integer >= 0",
        "row 3: time: row 2 gives an RFC 3339 time: use one form in the whole file"}},
      {"large times keep their digits", "- {time: 1000002, currentReplicas: 2}\n- {time: 1000001.5, currentReplicas: 2}\n",
       {"row 2: time: 1000001.5 goes backwards, before row 1's 1000002: rows must be in time order"}},
      {"not a time", "- {time: yesterday, currentReplicas: 2}\n",
       {"row 1: time: \"yesterday\" is not an RFC 3339 time (e.g. 2024-01-01T00:00:15Z)"}},
      {"a time past the clock", "- {time: '2300-01-01T00:00:00Z', currentReplicas: 2}\n",
       {"row 1: time: \"2300-01-01T00:00:00Z\" is after 2262-04-11, beyond what the clock holds"}},
      {"not a list", "time: 0\ncurrentReplicas: 2\n",
       {"must be a list of observations ({time, currentReplicas, metrics...}), at least one"}},
      {"empty", "", {"empty: must be a list of observations ({time, currentReplicas, metrics...})"}},
      {"a row not a mapping", "- 3\n", {"row 1: (row): must be a mapping of time, currentReplicas and metrics"}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const CommandResult result = evaluateHistory(dir, c.history);
    CAPTURE(result.err);
    CHECK(result.exitCode == 2);
    CHECK(result.out.empty());
    std::string expected;
    for (const std::string& error : c.errors) {
      expected += "error: " + file + ": " + error + "\n";
    }
    CHECK(result.err == expected);
  }
}

TEST_CASE("evaluate --history: a JSON history is read whole, past the YAML reader's 100,000 values") {
  TempDir dir;
  // 26,000 rows of 4 fields: 104,000 values.
  std::string history = "[";
  for (int i = 0; i < 26000; ++i) {
    history += i == 0 ? "" : ",";
    history += "{\"time\": ";
    history += std::to_string(i * 15);
    history += ", \"currentReplicas\": 2, \"readyReplicas\": 2, \"gpuUtilizationPercent\": 90}";
  }
  history += "]";
  const CommandResult result = evaluateHistory(dir, history, {"--output", "json"});
  CAPTURE(result.err);
  REQUIRE(result.exitCode == 0);
  CHECK(nlohmann::json::parse(result.out).size() == 26000);
}

TEST_CASE("evaluate --history refuses the flags the rows give, and evaluate needs one or the other") {
  TempDir dir;
  const std::string history = "- {time: 0, currentReplicas: 2}\n";
  const std::string refused =
      "error: --history gives the replicas and metrics of every row: --current-replicas, --ready-replicas and "
      "--metric are not taken with it\n";
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"--current-replicas", "3"},
                                                std::vector<std::string>{"--ready-replicas", "1"},
                                                std::vector<std::string>{"--metric", "gpuUtilizationPercent=9"}}) {
    CAPTURE(flags.front());
    const CommandResult result = evaluateHistory(dir, history, flags);
    CHECK(result.exitCode == 2);
    CHECK(result.err == refused);
  }
  const CommandResult badReaction = evaluateHistory(dir, history, {"--reaction-time", "soon"});
  CHECK(badReaction.exitCode == 2);
  CHECK(badReaction.err.rfind("error: --reaction-time: ", 0) == 0);

  const CommandResult neither = runScaler({"evaluate", "--policy", example("max-ratio.yaml")});
  CHECK(neither.exitCode == 2);
  CHECK(neither.err == "error: --current-replicas is required (or --history FILE)\n");

  const CommandResult absent = runScaler({"evaluate", "--policy", example("max-ratio.yaml"), "--history",
                                          (dir.path() / "none.yaml").string()});
  CHECK(absent.exitCode == 2);
  CHECK(absent.err == "error: no such file: " + (dir.path() / "none.yaml").string() + "\n");
}

TEST_CASE("evaluate --history --ignore-status: the file's status (kubectl get -o yaml) seeds row 1 unless ignored") {
  TempDir dir;
  // A scale to 6 published 10 s before row 1, and a 60 s cooldown.
  std::string policy = kStabilizedPolicy;
  policy.replace(policy.find("metadata: {name: chat, namespace: llm}"), 38,
                 "metadata: {name: chat, namespace: llm, generation: 1}");
  policy.replace(policy.find("cooldownPeriod: 0"), 17, "cooldownPeriod: 60");
  policy += "status: {observedGeneration: 1, desiredReplicas: 6, lastScaleTime: '2023-12-31T23:59:50Z'}\n";
  const std::string policyFile = dir.write("seeded.yaml", policy).string();
  const std::string history = dir.write("rows.yaml", "- {time: 0, currentReplicas: 6, gpuUtilizationPercent: 100}\n")
                                  .string();
  const CommandResult seeded = runScaler({"evaluate", "--policy", policyFile, "--history", history, "--output", "json"});
  REQUIRE(seeded.exitCode == 0);
  CHECK(nlohmann::json::parse(seeded.out)[0]["desiredReplicas"] == 6);  // the cooldown holds
  CHECK(seeded.err.rfind("note: seeded from the status in " + policyFile, 0) == 0);
  const CommandResult ignored = runScaler(
      {"evaluate", "--policy", policyFile, "--history", history, "--output", "json", "--ignore-status"});
  REQUIRE(ignored.exitCode == 0);
  CHECK(nlohmann::json::parse(ignored.out)[0]["desiredReplicas"] == 12);  // first sight: 6 x 2
  CHECK(ignored.err.empty());
}

}  // namespace
}  // namespace kubeai::testing
