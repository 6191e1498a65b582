// `kubeai-scaler simulate` as users run it: the shipped example on real
// traffic, a plugin under simulated time (ABI 1.1, isolated), every output,
// and bad input said with its file and field or line.
#include <doctest/doctest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "command_runner.h"
#include "support/temp_dir.h"

namespace {

using kubeai::testing::CommandResult;
using kubeai::testing::runScaler;
using kubeai::testing::TempDir;

const std::string kExamples = KUBEAI_EXAMPLES_DIR "/simulate/";

std::vector<std::string> exampleArgs() {
  return {"simulate",
          "--workload", kExamples + "workload.yaml",
          "--policy", kExamples + "max-ratio-gpu.yaml",
          "--policy", kExamples + "max-ratio-queue-kv.yaml",
          "--policy", kExamples + "capped-smooth-ratio.yaml",
          "--plugin-dir", KUBEAI_PLUGIN_BUILD_DIR};
}

const char* kRateWorkload = R"(apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: probe}
spec:
  interval: 15s
  replicas: {initial: 1, startupSeconds: 0}
  capacity: {requestsPerSecond: 1}
  demand: {rate: rate.csv}
)";

std::string probePolicy(const std::string& name) {
  return "apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\nmetadata: {name: " + name +
         ", namespace: default}\nspec:\n  targetRef: {kind: Deployment, name: model}\n  maxReplicas: 10\n"
         "  cooldownPeriod: 0\n  algorithm: {name: Abi11Probe}\n  metrics:\n    gpuUtilization: {targetPercentage: 50}\n";
}

}  // namespace

TEST_CASE("simulate runs the shipped example on the Azure trace, three policies side by side") {
  const CommandResult result = runScaler(exampleArgs());
  INFO(result.err);
  REQUIRE(result.exitCode == 0);
  CHECK(result.out.find("workload code-assistant: 3450 s at 15 s steps, 3 policies") != std::string::npos);
  for (const char* policy : {"default/max-ratio-gpu", "default/max-ratio-queue-kv", "default/capped-smooth-ratio"}) {
    CHECK(result.out.find(policy) != std::string::npos);
  }
  CHECK(result.out.find("GPU-hours") != std::string::npos);
  CHECK(result.out.find("CappedSmoothRatio") != std::string::npos);
}

TEST_CASE("simulate runs the shipped Predictive and Burst examples: the table, the JSON and the report say what they saw") {
  const TempDir dir;
  const std::string report = (dir.path() / "look-ahead.html").string();
  const std::vector<std::string> args = {"simulate",
                                         "--workload", kExamples + "workload.yaml",
                                         "--policy", kExamples + "max-ratio-gpu.yaml",
                                         "--policy", kExamples + "predictive-gpu.yaml",
                                         "--policy", kExamples + "burst-gpu.yaml"};
  std::vector<std::string> withReport = args;
  withReport.insert(withReport.end(), {"--report", report});
  const CommandResult text = runScaler(withReport);
  INFO(text.err);
  REQUIRE(text.exitCode == 0);
  CHECK(text.err.find("not loaded") == std::string::npos);  // both are built in
  const auto line = [&text](const std::string& label) {
    const std::size_t at = text.out.find(label);
    return at == std::string::npos ? std::string() : text.out.substr(at, text.out.find('\n', at) - at);
  };
  CHECK(line("algorithm").find("Predictive") != std::string::npos);
  CHECK(line("forecast raised the answer").find(" decisions") != std::string::npos);
  CHECK(line("panics / seconds in panic").find(" / ") != std::string::npos);

  std::vector<std::string> json = args;
  json.insert(json.end(), {"--output", "json", "--summary-only"});
  const CommandResult summaries = runScaler(json);
  REQUIRE(summaries.exitCode == 0);
  const nlohmann::json policies = nlohmann::json::parse(summaries.out)["policies"];
  REQUIRE(policies.size() == 3);
  CHECK(policies[0]["summary"]["forecastRaised"].is_null());
  CHECK(policies[1]["summary"]["forecastRaised"].get<int>() > 0);  // the trace's bursts raise it
  CHECK(policies[1]["summary"]["panics"].is_null());
  CHECK(policies[2]["summary"]["panics"].get<int>() > 0);
  CHECK(policies[2]["summary"]["panicSeconds"].get<double>() >= 15 * policies[2]["summary"]["panics"].get<double>());
  CHECK(line("forecast raised the answer").find(std::to_string(policies[1]["summary"]["forecastRaised"].get<int>()) +
                                                " decisions") != std::string::npos);

  const std::string html = kubeai::testing::readAll(report);
  CHECK(html.find("<svg id=\"chart-forecast\"") != std::string::npos);
  CHECK(html.find("<svg id=\"chart-modes\"") != std::string::npos);
  CHECK(html.find("default/predictive-gpu 60&#8211;120 s (default, then measured)") != std::string::npos);
}

TEST_CASE("docs/simulate.md's worked example is what the example prints") {
  const std::string docs = kubeai::testing::readAll(KUBEAI_EXAMPLES_DIR "/../docs/simulate.md");
  const std::size_t start = docs.find("workload code-assistant: 3450 s");
  REQUIRE(start != std::string::npos);
  const std::size_t end = docs.find("```", start);
  REQUIRE(end != std::string::npos);
  const CommandResult result = runScaler(exampleArgs());
  INFO(result.err);
  REQUIRE(result.exitCode == 0);
  CHECK(result.out == docs.substr(start, end - start));
}

TEST_CASE("simulate's JSON is the same bytes on every run, and a timeline covers the whole trace") {
  std::vector<std::string> args = exampleArgs();
  args.insert(args.end(), {"--output", "json"});
  const CommandResult first = runScaler(args);
  const CommandResult second = runScaler(args);
  INFO(first.err);
  REQUIRE(first.exitCode == 0);
  CHECK(first.out == second.out);
  const nlohmann::json json = nlohmann::json::parse(first.out);
  REQUIRE(json["policies"].size() == 3);
  for (const auto& run : json["policies"]) {
    CHECK(run["timeline"].size() == 230);
    CHECK(run["summary"]["gpuHours"].get<double>() > 0);
    // The queue/KV policy's metrics are there by their names.
    if (run["policy"] == "default/max-ratio-queue-kv") {
      CHECK(run["timeline"][0]["metrics"].contains("waiting"));
      CHECK(run["timeline"][0]["metrics"].contains("kvCache"));
    }
  }
}

TEST_CASE("simulate writes the CSV timeline and the HTML report") {
  TempDir dir;
  std::vector<std::string> args = exampleArgs();
  const std::string report = (dir.path() / "report.html").string();
  args.insert(args.end(), {"--output", "csv", "--report", report});
  const CommandResult result = runScaler(args);
  INFO(result.err);
  REQUIRE(result.exitCode == 0);
  std::size_t lines = 0;
  for (const char c : result.out) {
    lines += c == '\n' ? 1 : 0;
  }
  CHECK(lines == 1 + 3 * 230);
  CHECK(result.out.rfind("policy,time,demand,", 0) == 0);
  const std::string html = kubeai::testing::readAll(report);
  CHECK(html.find("<svg") != std::string::npos);
  CHECK(html.find("default/max-ratio-queue-kv") != std::string::npos);
}

TEST_CASE("a plugin under simulate sees simulated time, the simulate reason, and its own state per policy") {
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "plugins");
  std::filesystem::copy_file(ABI_1_1_PROBE_SO, dir.path() / "plugins" / "probe.so");
  std::filesystem::permissions(dir.path() / "plugins" / "probe.so", std::filesystem::perms(0644));
  dir.write("workload.yaml", kRateWorkload);
  dir.write("rate.csv", "time,requestsPerSecond\n0,0.5\n60,0.5\n");
  dir.write("a.yaml", probePolicy("probe-a"));
  dir.write("b.yaml", probePolicy("probe-b"));
  const CommandResult result =
      runScaler({"simulate", "--workload", (dir.path() / "workload.yaml").string(), "--policy",
                 (dir.path() / "a.yaml").string(), "--policy", (dir.path() / "b.yaml").string(), "--plugin-dir",
                 (dir.path() / "plugins").string(), "--output", "json"});
  INFO(result.err);
  REQUIRE(result.exitCode == 0);
  const nlohmann::json json = nlohmann::json::parse(result.out);
  REQUIRE(json["policies"].size() == 2);
  for (const auto& run : json["policies"]) {
    const auto& timeline = run["timeline"];
    REQUIRE(timeline.size() == 5);  // the last row (60 s) holds to the end of its step
    for (std::size_t k = 0; k < timeline.size(); ++k) {
      // Decided at the end of step k: 2024-01-01T00:00:00Z + (k + 1) x 15 s.
      const std::string expected = "calls=" + std::to_string(k + 1) + " reason=simulate cycle=" +
                                   std::to_string(k + 1) +
                                   " now=" + std::to_string(1'704'067'200'000LL + static_cast<long long>(k + 1) * 15'000);
      const std::string reason = timeline[k]["reason"].get<std::string>();
      INFO(reason);
      CHECK(reason.rfind(expected, 0) == 0);
    }
  }
}

TEST_CASE("simulate says what is wrong with a workload, a trace or a policy, with file and field or line") {
  TempDir dir;
  dir.write("policy.yaml", probePolicy("p"));
  SUBCASE("an unknown workload field") {
    dir.write("workload.yaml", std::string(kRateWorkload) + "  slo: {latencyP99: 100}\n");
    dir.write("rate.csv", "time,requestsPerSecond\n0,1\n");
    const CommandResult result = runScaler({"simulate", "--workload", (dir.path() / "workload.yaml").string(),
                                            "--policy", (dir.path() / "policy.yaml").string()});
    CHECK(result.exitCode == 2);
    CHECK(result.err.find("workload.yaml") != std::string::npos);
    CHECK(result.err.find("spec.slo.latencyP99") != std::string::npos);
  }
  SUBCASE("a trace whose times go back") {
    dir.write("workload.yaml", kRateWorkload);
    dir.write("rate.csv", "time,requestsPerSecond\n0,1\n30,2\n15,1\n");
    const CommandResult result = runScaler({"simulate", "--workload", (dir.path() / "workload.yaml").string(),
                                            "--policy", (dir.path() / "policy.yaml").string()});
    CHECK(result.exitCode == 2);
    CHECK(result.err.find("rate.csv:4") != std::string::npos);
  }
  SUBCASE("a policy that does not validate") {
    dir.write("workload.yaml", kRateWorkload);
    dir.write("rate.csv", "time,requestsPerSecond\n0,1\n");
    dir.write("bad.yaml", "apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\nmetadata: {name: bad}\n"
                          "spec:\n  targetRef: {kind: Deployment, name: m}\n  maxReplicas: 0\n");
    const CommandResult result = runScaler({"simulate", "--workload", (dir.path() / "workload.yaml").string(),
                                            "--policy", (dir.path() / "bad.yaml").string()});
    CHECK(result.exitCode == 2);
    CHECK(result.err.find("bad.yaml") != std::string::npos);
    CHECK(result.err.find("spec.maxReplicas") != std::string::npos);
  }
  SUBCASE("--summary-only with the CSV timeline") {
    const CommandResult result = runScaler({"simulate", "--workload", kExamples + "workload.yaml", "--policy",
                                            kExamples + "max-ratio-gpu.yaml", "--summary-only", "--output", "csv"});
    CHECK(result.exitCode == 2);
    CHECK(result.err.find("--summary-only") != std::string::npos);
  }
}

TEST_CASE("simulate says when a policy's algorithm is not loaded and runs it on MaxRatio, as serve would") {
  // Without --plugin-dir, the example's CappedSmoothRatio is not there: its
  // numbers are MaxRatio's, and the summary and stderr say so.
  const CommandResult result = runScaler({"simulate", "--workload", kExamples + "workload.yaml", "--policy",
                                          kExamples + "capped-smooth-ratio.yaml", "--output", "json",
                                          "--summary-only"});
  INFO(result.err);
  REQUIRE(result.exitCode == 0);
  CHECK(result.err.find("warning: " + kExamples + "capped-smooth-ratio.yaml: policy default/capped-smooth-ratio: "
                        "spec.algorithm.name: unknown algorithm \"CappedSmoothRatio\"") != std::string::npos);
  CHECK(result.err.find("MaxRatio will be used (no --plugin-dir)") != std::string::npos);
  const nlohmann::json run = nlohmann::json::parse(result.out)["policies"][0];
  CHECK(run["algorithm"] == "MaxRatio");
  CHECK(run["requestedAlgorithm"] == "CappedSmoothRatio");
  const CommandResult text = runScaler({"simulate", "--workload", kExamples + "workload.yaml", "--policy",
                                        kExamples + "capped-smooth-ratio.yaml"});
  CHECK(text.out.find("MaxRatio (CappedSmoothRatio not loaded)") != std::string::npos);
}

TEST_CASE("simulate says every policy whose algorithm refuses its parameters, with the file") {
  TempDir dir;
  dir.write("workload.yaml", kRateWorkload);
  dir.write("rate.csv", "time,requestsPerSecond\n0,1\n");
  const std::string head = "apiVersion: kubeai.io/v1alpha1\nkind: AIInferenceAutoscalerPolicy\n";
  const std::string spec = "spec:\n  targetRef: {kind: Deployment, name: m}\n  maxReplicas: 10\n"
                           "  metrics: {gpuUtilization: {targetPercentage: 60}}\n";
  dir.write("policies.yaml", head + "metadata: {name: a, namespace: team}\n" + spec +
                                 "  algorithm: {name: Predictive, parameters: {alpha: \"2\"}}\n---\n" + head +
                                 "metadata: {name: b, namespace: team}\n" + spec +
                                 "  algorithm: {name: Burst, parameters: {panicThreshold: \"0\"}}\n");
  const std::string file = (dir.path() / "policies.yaml").string();
  const CommandResult result =
      runScaler({"simulate", "--workload", (dir.path() / "workload.yaml").string(), "--policy", file});
  CHECK(result.exitCode == 2);
  CHECK(result.err.find("error: " + file + ": policy team/a: spec.algorithm.parameters.alpha") != std::string::npos);
  CHECK(result.err.find("error: " + file + ": policy team/b: spec.algorithm.parameters.panicThreshold") !=
        std::string::npos);
  CHECK(result.out.empty());
}
