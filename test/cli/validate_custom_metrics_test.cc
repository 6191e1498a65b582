// `kubeai-scaler validate` on named metrics (spec.metrics.custom[],
// spec.metrics.engine): every problem on its own line with its field path,
// and the engine examples accepted as they are shipped.
#include <doctest/doctest.h>

#include <string>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

const std::string kHead = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: named, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: vllm-llama}
  maxReplicas: 10
  metrics:
)";

// validate on a policy of kHead + `metrics`; its output lines after the file's prefix.
CommandResult validateMetrics(TempDir& dir, const std::string& metrics) {
  const auto file = dir.write("named.yaml", kHead + metrics);
  CommandResult result = runScaler({"validate", file.string()});
  const std::string prefix = file.string() + ": ";
  std::string out;
  for (std::size_t at = 0; at < result.out.size();) {
    const std::size_t end = result.out.find('\n', at);
    std::string line = result.out.substr(at, end - at);
    out += (line.rfind(prefix, 0) == 0 ? line.substr(prefix.size()) : line) + "\n";
    at = end == std::string::npos ? result.out.size() : end + 1;
  }
  result.out = out;
  return result;
}

TEST_CASE("validate accepts the engine examples") {
  const CommandResult result = runScaler({"validate", example("vllm.yaml"), example("sglang.yaml"),
                                          example("triton.yaml"), example("llm-d-scale-from-zero.yaml")});
  CAPTURE(result.err);
  CHECK(result.exitCode == 0);
  // No warning either: the llm-d policy scales from zero on a pool-level signal, which can wake it.
  CHECK(result.out == example("vllm.yaml") + ": default/llm-vllm: ok\n" + example("sglang.yaml") +
                          ": default/llm-sglang: ok\n" + example("triton.yaml") + ": default/llm-triton: ok\n" +
                          example("llm-d-scale-from-zero.yaml") + ": default/llm-d-pool: ok\n");
}

TEST_CASE("validate names the field of each broken named metric") {
  struct Row {
    const char* what;
    const char* metrics;
    const char* out;  // every line validate prints for it
  };
  const Row rows[] = {
      {"a name twice",
       "    custom:\n"
       "      - {name: kvCache, engine: vllm, signal: kvCacheUtilization, target: {type: Value, value: 80}}\n"
       "      - {name: kvCache, engine: sglang, signal: kvCacheUtilization, target: {type: Value, value: 85}}\n",
       "llm/named: spec.metrics.custom[1].name: duplicate name \"kvCache\" (names are unique)\n"},
      {"an unknown engine, on a custom metric and on spec.metrics",
       "    engine: vlm\n"
       "    custom:\n"
       "      - {name: kvCache, engine: vlm, signal: kvCacheUtilization, target: {type: Value, value: 80}}\n",
       "llm/named: spec.metrics.engine: unknown engine \"vlm\" (known: vllm, sglang, trtllm, triton, tgi, dcgm, "
       "llm-d)\n"
       "llm/named: spec.metrics.custom[0].engine: unknown engine \"vlm\" (known: vllm, sglang, trtllm, triton, tgi, "
       "dcgm, llm-d)\n"},
      // TGI has no KV-cache gauge: the error says what TGI offers instead.
      {"a signal the engine lacks",
       "    custom:\n"
       "      - {name: kvCache, engine: tgi, signal: kvCacheUtilization, target: {type: Value, value: 80}}\n",
       "llm/named: spec.metrics.custom[0].signal: engine tgi has no signal \"kvCacheUtilization\"; it offers "
       "requestsWaiting, requestsRunning, interTokenLatencyP95, interTokenLatencyP99, e2eLatencyP95, e2eLatencyP99, "
       "queueTimeP95, queueTimeP99\n"},
      {"both a query and a preset",
       "    custom:\n"
       "      - name: waiting\n"
       "        engine: vllm\n"
       "        signal: requestsWaiting\n"
       "        prometheusQuery: 'sum(vllm:num_requests_waiting)'\n"
       "        target: {type: AverageValue, value: 5}\n",
       "llm/named: spec.metrics.custom[0]: set either prometheusQuery or engine + signal, not both\n"},
      {"a target missing",
       "    custom:\n"
       "      - {name: waiting, engine: vllm, signal: requestsWaiting}\n",
       "llm/named: spec.metrics.custom[0].target: required: {type: Value | AverageValue, value: N}\n"},
      {"a target of 0",
       "    custom:\n"
       "      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: 0}}\n",
       "llm/named: spec.metrics.custom[0].target.value: must be a number greater than 0\n"},
      {"a weight below 0",
       "    custom:\n"
       "      - {name: waiting, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: 5}, "
       "weight: -1}\n",
       "llm/named: spec.metrics.custom[0].weight: must be a finite number >= 0\n"},
      {"a seed name",
       "    custom:\n"
       "      - {name: requestQueueDepth, engine: vllm, signal: requestsWaiting, target: {type: AverageValue, value: "
       "5}}\n",
       "llm/named: spec.metrics.custom[0].name: must not be one of the seed's metric names (latency, latencyP99, "
       "latencyP95, gpuUtilization, requestQueueDepth, latencyP99Ms, latencyP95Ms, gpuUtilizationPercent, "
       "currentReplicas, readyReplicas, engine, custom), got \"requestQueueDepth\"\n"},
      {"a type error and a problem of another metric, both",
       "    custom:\n"
       "      - {name: kvCache, engine: vllm, signal: kvCacheUtilization, target: {type: Value, value: high}}\n"
       "      - {name: ttft, prometheusQuery: 'x', target: {type: Percent, value: 500}}\n",
       "llm/named: spec.metrics.custom[0].target.value: must be a number, got string\n"
       "llm/named: spec.metrics.custom[1].target.type: must be Value or AverageValue, got \"Percent\"\n"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    TempDir dir;
    const CommandResult result = validateMetrics(dir, row.metrics);
    CHECK(result.exitCode == 2);
    CHECK(result.err == "error: 1 of 1 policies invalid\n");
    CHECK(result.out == row.out);
  }
}

TEST_CASE("validate warns about an unknown field of a named metric and still exits 0") {
  TempDir dir;
  const CommandResult result = validateMetrics(dir,
                                               "    custom:\n"
                                               "      - {name: waiting, engine: vllm, signal: requestsWaiting, "
                                               "target: {type: AverageValue, value: 5}, wieght: 2}\n");
  CHECK(result.exitCode == 0);
  CHECK(result.out ==
        "llm/named: warning: spec.metrics.custom[0].wieght: unknown field, ignored\nllm/named: ok\n");
}

}  // namespace
}  // namespace kubeai::testing
