#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

nlohmann::json evaluateJson(std::vector<std::string> args, int expectedExit = 0) {
  args.insert(args.begin(), "evaluate");
  args.push_back("--output");
  args.push_back("json");
  const CommandResult result = runScaler(args);
  CAPTURE(result.err);
  CHECK(result.exitCode == expectedExit);
  return nlohmann::json::parse(result.out);
}

TEST_CASE("evaluate --output json prints the documented keys") {
  const nlohmann::json decision =
      evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "3", "--metric",
                    "gpuUtilizationPercent=84", "--metric", "latencyP99Ms=400"});
  for (const char* key : {"desiredReplicas", "currentReplicas", "algorithm", "requestedAlgorithm", "algorithmValid",
                          "reason", "ratios", "limitedBy"}) {
    CAPTURE(key);
    CHECK(decision.contains(key));
  }
  CHECK(decision["desiredReplicas"] == 4);  // max(84/70, 400/500) = 1.2 -> ceil(3.6)
  CHECK(decision["currentReplicas"] == 3);
  CHECK(decision["algorithm"] == "MaxRatio");
  CHECK(decision["requestedAlgorithm"] == "MaxRatio");
  CHECK(decision["algorithmValid"] == true);
  CHECK(decision["reason"] == "scaled based on max ratio");
  CHECK(decision["ratios"].size() == 2);  // present slots only
  CHECK(decision["ratios"]["gpuUtilization"].get<double>() == doctest::Approx(1.2));
  CHECK(decision["ratios"]["latencyP99"].get<double>() == doctest::Approx(0.8));
  CHECK(decision["limitedBy"].is_null());
}

TEST_CASE("evaluate --ready-replicas is taken beside --current-replicas") {
  // All 3 ready: the documented decision; 0 ready and more ready than current (a rollout's
  // surge) are accepted too.
  for (const char* ready : {"3", "0", "5"}) {
    CAPTURE(ready);
    const nlohmann::json decision =
        evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "3", "--ready-replicas", ready,
                      "--metric", "gpuUtilizationPercent=84", "--metric", "latencyP99Ms=400"});
    CHECK(decision["currentReplicas"] == 3);
    if (std::string(ready) == "3") {
      CHECK(decision["desiredReplicas"] == 4);  // nothing starting: as without the flag
    }
  }
}

// The results examples/README.md documents for each example policy.
TEST_CASE("evaluate on the example policies gives the documented results") {
  struct Row {
    const char* what;
    std::vector<std::string> args;
    int desired;
    const char* reason;
    const char* limitedBy;  // nullptr: null
  };
  const std::string plugins = KUBEAI_PLUGIN_BUILD_DIR;
  const Row rows[] = {
      {"MaxRatio scales down when idle, half per minute",
       {"--policy", example("max-ratio.yaml"), "--current-replicas", "8", "--metric", "gpuUtilizationPercent=14",
        "--metric", "latencyP99Ms=100"},
       4, "scaled based on max ratio", "scaleDownPolicy"},
      {"AverageRatio holds within 15 %",
       {"--policy", example("average-ratio.yaml"), "--current-replicas", "4", "--metric", "gpuUtilizationPercent=91",
        "--metric", "latencyP99Ms=450", "--metric", "latencyP95Ms=330"},
       4, "within tolerance", nullptr},
      {"AverageRatio scales up on the mean",
       {"--policy", example("average-ratio.yaml"), "--current-replicas", "4", "--metric",
        "gpuUtilizationPercent=105", "--metric", "latencyP99Ms=600", "--metric", "latencyP95Ms=390"},
       6, "scaled based on average ratio", nullptr},
      {"WeightedRatio weights fixed slots",
       {"--policy", example("weighted-ratio.yaml"), "--current-replicas", "4", "--metric", "latencyP99Ms=750",
        "--metric", "gpuUtilizationPercent=35", "--metric", "requestQueueDepth=40"},
       5, "scaled based on weighted ratio", nullptr},
      {"CappedSmoothRatio caps a doubling at +50 %",
       {"--policy", example("capped-smooth-ratio.yaml"), "--current-replicas", "4", "--metric",
        "gpuUtilizationPercent=140", "--plugin-dir", plugins},
       6, nullptr, nullptr},
      {"CappedSmoothRatio scales down at most 25 %",
       {"--policy", example("capped-smooth-ratio.yaml"), "--current-replicas", "8", "--metric",
        "gpuUtilizationPercent=14", "--plugin-dir", plugins},
       6, nullptr, nullptr},
      {"a waiting queue wakes a workload scaled to zero",
       {"--policy", example("queue-scale-to-zero.yaml"), "--current-replicas", "0", "--metric",
        "requestQueueDepth=3"},
       1, "scaled based on max ratio", nullptr},
      {"an empty queue lets it sleep",
       {"--policy", example("queue-scale-to-zero.yaml"), "--current-replicas", "2", "--metric",
        "requestQueueDepth=0"},
       0, "scaled based on max ratio", nullptr},
      // Named metrics, each value under its name.
      {"vLLM: the waiting queue, weighed twice, outweighs the rest",
       {"--policy", example("vllm.yaml"), "--current-replicas", "2", "--metric", "gpuUtilizationPercent=72",
        "--metric", "kvCache=88", "--metric", "waiting=16", "--metric", "ttft=450"},
       3, "scaled based on weighted ratio", nullptr},
      {"vLLM: idle, an empty queue is data",
       {"--policy", example("vllm.yaml"), "--current-replicas", "4", "--metric", "gpuUtilizationPercent=30",
        "--metric", "kvCache=20", "--metric", "waiting=0", "--metric", "ttft=120"},
       1, "scaled based on weighted ratio", nullptr},
      {"SGLang: its queue per replica decides",
       {"--policy", example("sglang.yaml"), "--current-replicas", "3", "--metric", "latencyP95Ms=6000", "--metric",
        "kvCache=70", "--metric", "waiting=18", "--metric", "itl=45"},
       5, "scaled based on max ratio", nullptr},
      {"Triton: its mean queue time decides",
       {"--policy", example("triton.yaml"), "--current-replicas", "2", "--metric", "pending=10", "--metric",
        "queueTime=180", "--metric", "gpu=90"},
       4, "scaled based on max ratio", nullptr},
      {"llm-d: the pool's queue wakes a workload at zero",
       {"--policy", example("llm-d-scale-from-zero.yaml"), "--current-replicas", "0", "--metric", "queue=3"},
       1, "scaled based on max ratio", nullptr},
      {"llm-d: an empty queue and an idle pool, back to zero",
       {"--policy", example("llm-d-scale-from-zero.yaml"), "--current-replicas", "2", "--metric", "queue=0",
        "--metric", "kvCache=0"},
       0, "scaled based on max ratio", nullptr},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const nlohmann::json decision = evaluateJson(row.args);
    CHECK(decision["desiredReplicas"] == row.desired);
    if (row.reason != nullptr) {
      CHECK(decision["reason"] == row.reason);
    }
    if (row.limitedBy == nullptr) {
      CHECK(decision["limitedBy"].is_null());
    } else {
      CHECK(decision["limitedBy"] == row.limitedBy);
    }
  }
}

TEST_CASE("evaluate: a metric not given has no data") {
  const nlohmann::json decision =
      evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "3"});
  CHECK(decision["desiredReplicas"] == 3);
  CHECK(decision["reason"] == "no metrics available");
  CHECK(decision["ratios"].empty());
}

TEST_CASE("evaluate: NaN and Inf are no data, 0 is data") {
  CHECK(evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "3", "--metric",
                      "gpuUtilizationPercent=nan"})["reason"] == "no metrics available");
  CHECK(evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "3", "--metric",
                      "gpuUtilizationPercent=inf"})["reason"] == "no metrics available");
  CHECK(evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "2", "--metric",
                      "gpuUtilizationPercent=0"})["desiredReplicas"] == 1);
  // A subnormal is a (tiny) number, not a parse error.
  CHECK(evaluateJson({"--policy", example("max-ratio.yaml"), "--current-replicas", "2", "--metric",
                      "gpuUtilizationPercent=4.9e-324"})["desiredReplicas"] == 1);
}

TEST_CASE("evaluate: an unknown algorithm falls back to MaxRatio, warns, and succeeds") {
  TempDir dir;
  std::string policy = readAll(example("max-ratio.yaml"));
  policy.replace(policy.find("name: MaxRatio"), 14, "name: Mystery");
  const auto file = dir.write("p.yaml", policy);
  const CommandResult result = runScaler({"evaluate", "--policy", file.string(), "--current-replicas", "3",
                                          "--metric", "gpuUtilizationPercent=140", "--output", "json"});
  CHECK(result.exitCode == 0);
  CHECK(result.err.find("algorithm \"Mystery\" is not registered; using MaxRatio") != std::string::npos);
  const auto decision = nlohmann::json::parse(result.out);
  CHECK(decision["algorithm"] == "MaxRatio");
  CHECK(decision["requestedAlgorithm"] == "Mystery");
  CHECK(decision["algorithmValid"] == false);
  CHECK(decision["desiredReplicas"] == 6);
}

TEST_CASE("evaluate text output says what happened and why") {
  const CommandResult result = runScaler({"evaluate", "--policy", example("max-ratio.yaml"), "--current-replicas",
                                          "8", "--metric", "gpuUtilizationPercent=14"});
  CHECK(result.exitCode == 0);
  CHECK(result.out.find("default/llm-max-ratio") != std::string::npos);
  CHECK(result.out.find("8 -> 4 (scale down)") != std::string::npos);
  CHECK(result.out.find("scaled based on max ratio") != std::string::npos);
  CHECK(result.out.find("gpuUtilization=0.200") != std::string::npos);
  CHECK(result.out.find("limited by:  scaleDownPolicy") != std::string::npos);
}

TEST_CASE("evaluate: bad arguments and invalid policies exit 2 with a message") {
  TempDir dir;
  const auto invalid = dir.write("invalid.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: broken}
spec:
  targetRef: {kind: Deployment, name: web}
  minReplicas: 3
  maxReplicas: 2
  metrics: {gpuUtilization: {targetPercentage: 70}}
)");
  struct Row {
    const char* what;
    std::vector<std::string> args;
    const char* message;
  };
  const Row rows[] = {
      {"unknown metric", {"--policy", example("max-ratio.yaml"), "--current-replicas", "1", "--metric", "cpu=3"},
       "unknown metric \"cpu\""},
      {"not a number", {"--policy", example("max-ratio.yaml"), "--current-replicas", "1", "--metric",
                        "gpuUtilizationPercent=lots"},
       "is not a number"},
      {"no equals", {"--policy", example("max-ratio.yaml"), "--current-replicas", "1", "--metric", "gpu"},
       "expected KEY=VALUE"},
      {"negative replicas", {"--policy", example("max-ratio.yaml"), "--current-replicas", "-1"},
       "--current-replicas must be >= 0"},
      {"negative ready replicas", {"--policy", example("max-ratio.yaml"), "--current-replicas", "3", "--ready-replicas", "-1"},
       "--ready-replicas must be >= 0"},
      {"ready replicas not a number",
       {"--policy", example("max-ratio.yaml"), "--current-replicas", "3", "--ready-replicas", "some"}, "--ready-replicas"},
      {"missing replicas", {"--policy", example("max-ratio.yaml")}, "current-replicas"},
      {"missing file", {"--policy", "/nonexistent.yaml", "--current-replicas", "1"}, "no such file"},
      {"invalid policy", {"--policy", invalid.string(), "--current-replicas", "1"},
       "spec.maxReplicas: must be >= minReplicas (3)"},
      {"bad output", {"--policy", example("max-ratio.yaml"), "--current-replicas", "1", "--output", "xml"},
       "output"},
      {"unknown name", {"--policy", example("max-ratio.yaml"), "--name", "nope", "--current-replicas", "1"},
       "no policy named \"nope\""},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    std::vector<std::string> args = row.args;
    args.insert(args.begin(), "evaluate");
    const CommandResult result = runScaler(args);
    CAPTURE(result.err);
    CHECK(result.exitCode == 2);
    CHECK(result.err.find(row.message) != std::string::npos);
  }
}

TEST_CASE("evaluate picks one policy of several with --name") {
  TempDir dir;
  const auto file = dir.write("two.yaml", readAll(example("max-ratio.yaml")) + "\n---\n" +
                                              readAll(example("average-ratio.yaml")));
  const CommandResult ambiguous = runScaler({"evaluate", "--policy", file.string(), "--current-replicas", "1"});
  CHECK(ambiguous.exitCode == 2);
  CHECK(ambiguous.err.find("choose one with --name") != std::string::npos);

  for (const std::string name : {"llm-average-ratio", "default/llm-average-ratio"}) {
    const nlohmann::json decision = evaluateJson({"--policy", file.string(), "--name", name,
                                                  "--current-replicas", "4", "--metric", "gpuUtilizationPercent=70"});
    CHECK(decision["algorithm"] == "AverageRatio");
  }
}

TEST_CASE("evaluate: parameters the plugin refuses (validate_parameters) stop it before any decision, exit 2") {
  TempDir dir;
  std::string policy = readAll(example("capped-smooth-ratio.yaml"));
  policy.replace(policy.find("smoothingFactor: \"0.3\""), 22, "smoothingFactor: \"abc\"");
  const auto file = dir.write("p.yaml", policy);
  const CommandResult result =
      runScaler({"evaluate", "--policy", file.string(), "--current-replicas", "4", "--metric",
                 "gpuUtilizationPercent=140", "--plugin-dir", KUBEAI_PLUGIN_BUILD_DIR, "--output", "json"});
  CAPTURE(result.err);
  CHECK(result.exitCode == 2);
  CHECK(result.out.empty());
  CHECK(result.err.find("spec.algorithm.parameters: refused by CappedSmoothRatio: ") != std::string::npos);
  CHECK(result.err.find("smoothingFactor") != std::string::npos);
}

TEST_CASE("evaluate: a plugin that fails to load is reported and exits 1, the decision still prints") {
  TempDir dir;
  std::filesystem::copy_file(CAPPED_SMOOTH_RATIO_SO, dir.path() / "capped_smooth_ratio.so");
  dir.write("broken.so", "not an ELF file");
  const CommandResult result =
      runScaler({"evaluate", "--policy", example("capped-smooth-ratio.yaml"), "--current-replicas", "4",
                 "--metric", "gpuUtilizationPercent=140", "--plugin-dir", dir.path().string(), "--output", "json"});
  CHECK(result.exitCode == 1);
  CHECK(result.err.find("broken.so") != std::string::npos);
  CHECK(nlohmann::json::parse(result.out)["algorithm"] == "CappedSmoothRatio");
}

TEST_CASE("--help and --version exit 0") {
  CHECK(runScaler({"--help"}).exitCode == 0);
  const CommandResult version = runScaler({"--version"});
  CHECK(version.exitCode == 0);
  CHECK(version.out.find("kubeai-scaler") != std::string::npos);
  CHECK(runScaler({}).exitCode == 2);
  CHECK(runScaler({"frobnicate"}).exitCode == 2);
}

}  // namespace
}  // namespace kubeai::testing
