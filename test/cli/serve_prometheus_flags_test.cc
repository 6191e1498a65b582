// `serve`'s Prometheus flags, through the real binary: usage errors exit 2 with
// a message naming the flag; a running serve logs where its metrics come from
// and never a credential. (Serving metrics from a real Prometheus is tested in
// test/prometheus/.)
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "command_runner.h"
#include "serve/serve_process.h"

namespace kubeai::testing {
namespace {

using namespace std::chrono_literals;

constexpr const char* kGoodPolicy = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: good, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
)";

constexpr const char* kBrokenQueryPolicy = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: broken-query, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics:
    gpuUtilization:
      targetPercentage: 70
      prometheusQuery: 'avg(DCGM_FI_DEV_GPU_UTIL{model="${model}"})'
)";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST_CASE("serve refuses bad Prometheus flags with exit 2 and a message naming the flag") {
  TempDir dir;
  const std::string policies = dir.path().string();
  dir.write("good.yaml", kGoodPolicy);
  const std::string metrics = dir.write("metrics.yaml", "{}\n").string();
  const std::string url = "http://127.0.0.1:1";
  struct Row {
    std::vector<std::string> args;
    const char* expected;
  };
  const Row rows[] = {
      // Two metric sources.
      {{"--prometheus-url", url, "--metrics-file", metrics}, "--prometheus-url and --metrics-file are exclusive"},
      // No metric source.
      {{}, "serve needs --metrics-file or --prometheus-url"},
      // A Prometheus option without Prometheus.
      {{"--metrics-file", metrics, "--prometheus-header", "X-Scope-OrgID=a"}, "requires --prometheus-url"},
      {{"--metrics-file", metrics, "--replicas-query", "up"}, "requires --prometheus-url"},
      {{"--metrics-file", metrics, "--prometheus-insecure-skip-verify"}, "requires --prometheus-url"},
      // Bad values.
      {{"--prometheus-url", url, "--prometheus-header", "X-Scope-OrgID"}, "--prometheus-header: expected NAME=VALUE"},
      {{"--prometheus-url", url, "--prometheus-timeout", "2"}, "--prometheus-timeout: "},
      {{"--prometheus-url", url, "--prometheus-timeout", "0s"}, "--prometheus-timeout must be greater than 0"},
      {{"--prometheus-url", url, "--replicas-query", "max(x{d=\"${deployment}\"})"},
       "--replicas-query: unknown placeholder ${deployment}"},
      {{"--prometheus-url", "ftp://127.0.0.1:1"}, "ftp://127.0.0.1:1"},
      {{"--prometheus-url", url, "--prometheus-bearer-token-file", "/nonexistent/token"}, "/nonexistent/token"},
      // One tenant per policy, or one for all: not both (any letter case of the header).
      {{"--prometheus-url", url, "--prometheus-tenant-from-namespace", "--prometheus-header", "x-scope-orgid=a"},
       "--prometheus-tenant-from-namespace and --prometheus-header x-scope-orgid are exclusive"},
      {{"--metrics-file", metrics, "--prometheus-tenant-from-namespace"}, "requires --prometheus-url"},
      {{"--metrics-file", metrics, "--custom-queries", "maybe"}, "--custom-queries"},
  };
  for (const Row& row : rows) {
    std::vector<std::string> args = {"serve", "--policy-dir", policies, "--grpc-address", "127.0.0.1:0",
                                     "--metrics-address", "127.0.0.1:0"};
    args.insert(args.end(), row.args.begin(), row.args.end());
    const CommandResult result = runScaler(args);
    CAPTURE(result.err);
    CAPTURE(row.expected);
    CHECK(result.exitCode == 2);
    CHECK(contains(result.err, row.expected));
  }
}

TEST_CASE("serve --prometheus-url logs the URL, never a credential, and refuses a policy whose query does not expand") {
  TempDir dir;
  TempDir scratch;
  const auto policies = dir.path() / "policies";
  std::filesystem::create_directories(policies);
  std::ofstream(policies / "good.yaml") << kGoodPolicy;
  std::ofstream(policies / "broken.yaml") << kBrokenQueryPolicy;
  const auto token = dir.write("token", "s3cr3t-token\n");
  // Nothing listens on port 1: every query fails at once, which is what this needs.
  ServeProcess serve(KUBEAI_SCALER_BIN,
                     {"--policy-dir", policies.string(), "--prometheus-url", "http://127.0.0.1:1/prom",
                      "--prometheus-bearer-token-file", token.string(), "--prometheus-header",
                      "X-Scope-OrgID=tenant-secret", "--prometheus-timeout", "500ms"},
                     dir.path() / "serve.log", scratch.path());

  const auto started = serve.findLog([](const nlohmann::json& line) { return line.value("msg", "") == "metrics from Prometheus"; });
  REQUIRE(started);
  CHECK((*started)["url"] == "http://127.0.0.1:1/prom");
  CHECK((*started)["timeout"] == "500ms");
  CHECK((*started)["auth"] == "bearer");
  CHECK((*started)["headers"] == "X-Scope-OrgID");

  // The broken policy is refused when it loads, naming the field.
  const auto refused = serve.waitForLog(
      [](const nlohmann::json& line) {
        return line.value("msg", "") == "policy error" && line.value("policy", "") == "llm/broken-query" &&
               line.value("type", "") == "invalid";
      },
      scaled(5s), "the broken policy refused");
  CHECK(refused["error"] ==
        "spec.metrics.gpuUtilization.prometheusQuery: unknown placeholder ${model} at character 33 (known: "
        "${namespace}, ${target}, ${policy})");
  // The good one is evaluated and fails on its query, which the error names.
  const auto failed = serve.waitForLog(
      [](const nlohmann::json& line) {
        return line.value("msg", "") == "policy error" && line.value("policy", "") == "llm/good" &&
               line.value("type", "") == "metrics";
      },
      scaled(5s), "the good policy's failed read");
  CHECK(contains(failed["error"].get<std::string>(),
                 R"(gpuUtilization: query `avg(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"chat-)"
                 R"([bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}"})`: )"));

  CHECK(serve.terminate(scaled(10s)) == 0);
  const std::string log = serve.logText();
  CHECK_FALSE(contains(log, "s3cr3t"));
  CHECK_FALSE(contains(log, "tenant-secret"));
}

}  // namespace
}  // namespace kubeai::testing
