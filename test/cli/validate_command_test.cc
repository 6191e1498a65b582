#include <doctest/doctest.h>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

TEST_CASE("validate prints one ok line per valid policy and exits 0") {
  const CommandResult result = runScaler({"validate", example("max-ratio.yaml"), example("weighted-ratio.yaml")});
  CAPTURE(result.err);
  CHECK(result.exitCode == 0);
  CHECK(result.out == example("max-ratio.yaml") + ": default/llm-max-ratio: ok\n" + example("weighted-ratio.yaml") +
                          ": default/llm-weighted-ratio: ok\n");
}

TEST_CASE("validate prints each error with its field path and exits 2") {
  TempDir dir;
  const auto file = dir.write("bad.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: good}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: bad, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  minReplicas: 5
  metrics: {gpuUtilization: {targetPercentage: 170}}
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  CHECK(result.err == "error: 1 of 2 policies invalid\n");
  const std::string prefix = file.string() + ": ";
  CHECK(result.out == prefix + "default/good: ok\n" + prefix + "llm/bad: spec.maxReplicas: must be >= minReplicas (5)\n" +
                          prefix + "llm/bad: spec.metrics.gpuUtilization.targetPercentage: must be between 1 and 100\n");
}

TEST_CASE("validate expands each prometheusQuery as serve --prometheus-url does") {
  TempDir dir;
  const auto file = dir.write("queries.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: scoped}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics:
    gpuUtilization:
      targetPercentage: 70
      prometheusQuery: 'avg(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}", pod=~"${target}-.*"})'
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: typo}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics:
    gpuUtilization:
      targetPercentage: 70
      prometheusQuery: 'avg(DCGM_FI_DEV_GPU_UTIL{model="${model}"})'
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  CHECK(result.err == "error: 1 of 2 policies invalid\n");
  const std::string prefix = file.string() + ": ";
  CHECK(result.out.rfind(prefix + "default/scoped: ok\n" + prefix +
                             "default/typo: spec.metrics.gpuUtilization.prometheusQuery: unknown placeholder ${model}",
                         0) == 0);
}

TEST_CASE("validate warns about a scale-to-zero policy that nothing can wake, and still exits 0") {
  TempDir dir;
  const auto file = dir.write("zero.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: pods-only, namespace: batch}
spec:
  targetRef: {kind: Deployment, name: embedder}
  minReplicas: 0
  maxReplicas: 8
  metrics:
    requestQueueDepth: {enabled: true, targetDepth: 5}
    gpuUtilization:
      targetPercentage: 70
      prometheusQuery: 'avg(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}",pod=~"${target}-.*"})'
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: gateway, namespace: batch}
spec:
  targetRef: {kind: Deployment, name: embedder}
  minReplicas: 0
  maxReplicas: 8
  metrics:
    requestQueueDepth:
      enabled: true
      targetDepth: 5
      prometheusQuery: 'sum(gateway_queue_depth{namespace="${namespace}",backend="${target}"})'
      treatEmptyAsZero: true
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CAPTURE(result.err);
  CHECK(result.exitCode == 0);  // a warning, not an error
  const std::string prefix = file.string() + ": ";
  CHECK(result.out ==
        prefix +
            "batch/pods-only: warning: spec.minReplicas: 0, but every metric in use is read from the target's own "
            "pods (spec.metrics.gpuUtilization.prometheusQuery: a matcher on the target's pods; "
            "spec.metrics.requestQueueDepth: the default query), so at 0 replicas no series exists and nothing can "
            "wake the policy: add a metric read from outside the pods, e.g. a gateway's or broker's queue for the "
            "target (examples/policies/queue-scale-to-zero.yaml)\n" +
            prefix + "batch/pods-only: ok\n" + prefix + "batch/gateway: ok\n");
}

TEST_CASE("validate refuses the HPA's out-of-bounds windows and periods, naming the field") {
  TempDir dir;
  const auto file = dir.write("bounds.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: slow}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
  scaleDown:
    stabilizationWindowSeconds: 7200
    policies: [{type: Percent, value: 50, periodSeconds: 3600}]
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  const std::string prefix = file.string() + ": default/slow: ";
  CHECK(result.out == prefix + "spec.scaleDown.stabilizationWindowSeconds: must be <= 3600\n" + prefix +
                          "spec.scaleDown.policies[0].periodSeconds: must be <= 1800\n");
}

TEST_CASE("validate reports YAML syntax errors, missing files and warnings") {
  TempDir dir;
  const auto broken = dir.write("broken.yaml", "spec: [unclosed\n");
  const CommandResult syntax = runScaler({"validate", broken.string()});
  CHECK(syntax.exitCode == 2);
  CHECK(syntax.out.find("invalid YAML at line") != std::string::npos);

  const CommandResult missing = runScaler({"validate", "/nonexistent/p.yaml"});
  CHECK(missing.exitCode == 2);
  CHECK(missing.out.find("no such file") != std::string::npos);
  CHECK(missing.err.find("1 file(s) unreadable") != std::string::npos);

  std::string typo = readAll(example("max-ratio.yaml"));
  typo.replace(typo.find("cooldownPeriod"), 14, "cooldownPeriods");
  const auto warned = dir.write("typo.yaml", typo);
  const CommandResult warning = runScaler({"validate", warned.string()});
  CHECK(warning.exitCode == 0);
  CHECK(warning.out.find("warning: spec.cooldownPeriods: unknown field, ignored") != std::string::npos);
}

TEST_CASE("validate a directory: every manifest in it") {
  const CommandResult result = runScaler({"validate", std::string(KUBEAI_EXAMPLES_DIR "/policies")});
  CHECK(result.exitCode == 0);
  // CappedSmoothRatio is a plugin: without --plugin-dir it is unknown, which is a warning.
  CHECK(result.out.find("unknown algorithm \"CappedSmoothRatio\"") != std::string::npos);
  CHECK(result.out.find("default/llm-capped-smooth: ok") != std::string::npos);
  CHECK(result.out.find("batch/batch-queue: ok") != std::string::npos);

  const CommandResult withPlugins = runScaler(
      {"validate", "--plugin-dir", KUBEAI_PLUGIN_BUILD_DIR, std::string(KUBEAI_EXAMPLES_DIR "/policies")});
  CHECK(withPlugins.exitCode == 0);
  CHECK(withPlugins.out.find("warning") == std::string::npos);
}

TEST_CASE("validate skips other kinds, and an argument without any policy is an error") {
  TempDir dir;
  const auto file = dir.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  CHECK(result.out == file.string() + ": no AIInferenceAutoscalerPolicy found\n");
  CHECK(result.err == "error: 0 of 0 policies invalid, 1 argument(s) without any policy\n");

  // Beside a policy in the same directory, a ConfigMap is simply skipped.
  std::filesystem::copy_file(example("max-ratio.yaml"), dir.path() / "policy.yaml");
  const CommandResult mixed = runScaler({"validate", dir.path().string()});
  CHECK(mixed.exitCode == 0);

  const TempDir emptyDir;
  CHECK(runScaler({"validate", emptyDir.path().string()}).exitCode == 2);
}

TEST_CASE("validate refuses parameters through the plugin's validate_parameters hook") {
  TempDir dir;
  const auto file = dir.write("step.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: stepper
  namespace: default
spec:
  targetRef:
    kind: Deployment
    name: workload
  maxReplicas: 10
  algorithm:
    name: StepScale
    parameters:
      step: "abc"
  metrics:
    gpuUtilization:
      targetPercentage: 70
)");
  const CommandResult result = runScaler({"validate", file.string(), "--plugin-dir", KUBEAI_PLUGIN_BUILD_DIR});
  CAPTURE(result.out);
  CHECK(result.exitCode == 2);
  CHECK(result.out.find("default/stepper: spec.algorithm.parameters: refused by StepScale: parameter step: invalid "
                        "value \"abc\"") != std::string::npos);
}

TEST_CASE("validate: a plugin's refusal quoting a value with a line end stays on one line") {
  TempDir dir;
  // A block scalar: the value is "abc\n", which StepScale quotes as it is.
  const auto file = dir.write("step.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: stepper, namespace: default}
spec:
  targetRef: {kind: Deployment, name: workload}
  maxReplicas: 10
  algorithm:
    name: StepScale
    parameters:
      step: |
        abc
  metrics: {gpuUtilization: {targetPercentage: 70}}
)");
  const CommandResult result = runScaler({"validate", file.string(), "--plugin-dir", KUBEAI_PLUGIN_BUILD_DIR});
  CHECK(result.exitCode == 2);
  CHECK(result.out.find("default/stepper: spec.algorithm.parameters: refused by StepScale: parameter step: invalid "
                        "value \"abc\\n\"") != std::string::npos);
  // Every line is one of the policy's, none a piece of the plugin's text.
  std::size_t start = 0;
  for (std::size_t end = result.out.find('\n'); end != std::string::npos; end = result.out.find('\n', start)) {
    CHECK(result.out.substr(start, end - start).starts_with(file.string() + ": default/stepper: "));
    start = end + 1;
  }
}

TEST_CASE("validate says every problem of the parameters at once, beside the rest of the policy's") {
  TempDir dir;
  const auto file = dir.write("params.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: mix, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  minReplicas: 5
  maxReplicas: 2
  algorithm: {name: Predictive, parameters: {alpha: "2", beta: "5", horizonSeconds: "-1", foo: x}}
  metrics: {gpuUtilization: {targetPercentage: 60}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: burst, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  cooldownPeriod: 0
  algorithm: {name: Burst, parameters: {panicThreshold: "0", panicWindowSeconds: "90", stableWindowSeconds: "30"}}
  metrics: {gpuUtilization: {targetPercentage: 60}}
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  const std::string mix = file.string() + ": team/mix: ";
  const std::string burst = file.string() + ": team/burst: ";
  CHECK(result.out ==
        mix + "spec.maxReplicas: must be >= minReplicas (5)\n" + mix +
            "spec.algorithm.parameters.foo: unknown parameter of Predictive (known: horizonSeconds, alpha, beta)\n" +
            mix + "spec.algorithm.parameters.horizonSeconds: must be > 0 and <= 3600 (Predictive), got -1\n" + mix +
            "spec.algorithm.parameters.alpha: must be > 0 and <= 1 (Predictive), got 2\n" + mix +
            "spec.algorithm.parameters.beta: must be > 0 and <= 1 (Predictive), got 5\n" + burst +
            "spec.algorithm.parameters.panicThreshold: must be > 1 and <= 100 (Burst), got 0\n" + burst +
            "spec.algorithm.parameters.panicWindowSeconds: must be <= stableWindowSeconds (30) (Burst)\n");
}

TEST_CASE("validate: a parameter's value is quoted and escaped, one line each, with what to write instead") {
  TempDir dir;
  // A block scalar's value ends in a newline; another value holds the very
  // text that separates two problems.
  const auto file = dir.write("values.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: values, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  algorithm:
    name: Predictive
    parameters:
      alpha: |
        0.5x
      beta: 'y"; spec.algorithm.parameters.fake: z'
      horizonSeconds: 2m
  metrics: {gpuUtilization: {targetPercentage: 60}}
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  const std::string prefix = file.string() + ": team/values: ";
  CHECK(result.out ==
        prefix + "spec.algorithm.parameters.horizonSeconds: must be a number > 0 and <= 3600 (Predictive), got "
                 "\"2m\" (seconds, without a unit; leave it out to forecast over the start-up time measured)\n" +
            prefix + "spec.algorithm.parameters.alpha: must be a number > 0 and <= 1 (Predictive), got \"0.5x\\n\"\n" +
            prefix +
            "spec.algorithm.parameters.beta: must be a number > 0 and <= 1 (Predictive), got \"y\\\"; "
            "spec.algorithm.parameters.fake: z\"\n");
}

TEST_CASE("validate checks a SimulationWorkload file too: its fields and its demand file, as simulate reads them") {
  const std::string workload = KUBEAI_EXAMPLES_DIR "/simulate/workload.yaml";
  const CommandResult good = runScaler({"validate", workload, example("max-ratio.yaml")});
  CAPTURE(good.err);
  CHECK(good.exitCode == 0);
  // 3,450 s of the Azure trace at 15 s.
  CHECK(good.out == workload + ": workload code-assistant: ok (230 intervals of demand)\n" + example("max-ratio.yaml") +
                        ": default/llm-max-ratio: ok\n");

  TempDir dir;
  dir.write("rate.csv", "time,rps\n0,1\n15,2\n");
  const auto badColumn = dir.write("column.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: ramp}
spec:
  interval: 15s
  replicas: {initial: 2, startupSeconds: 120}
  capacity: {requestsPerSecond: 3}
  demand: {rate: rate.csv}
)");
  const auto badField = dir.write("field.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: typo}
spec:
  interval: 15s
  replicas: {initial: 2, startupSecond: 120}
  capacity: {requestsPerSecond: 3}
  demand: {rate: rate.csv}
)");
  // What simulate refuses before any policy runs: a time-to-first-token SLO
  // over a rate series, which has no token counts.
  dir.write("good-rate.csv", "time,requestsPerSecond\n0,1\n15,2\n");
  const auto ttft = dir.write("ttft.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: ttft}
spec:
  interval: 15s
  capacity: {requestsPerSecond: 3}
  slo: {timeToFirstTokenP95Ms: 1000}
  demand: {rate: good-rate.csv}
)");
  const CommandResult bad = runScaler({"validate", badColumn.string(), badField.string(), ttft.string()});
  CHECK(bad.exitCode == 2);
  CHECK(bad.err == "error: 3 workload(s) invalid\n");
  CHECK(bad.out.find(ttft.string() + ": workload ttft: spec.slo.timeToFirstTokenP95Ms: the engine model needs "
                                     "token counts") != std::string::npos);
  CHECK(bad.out.find(badColumn.string() + ": workload ramp: spec.demand: ") == 0);
  CHECK(bad.out.find("rate.csv:1: wrong header: must be time,requestsPerSecond, got \"time,rps\"\n") !=
        std::string::npos);
  CHECK(bad.out.find(badField.string() + ": workload typo: spec.replicas.startupSecond: unknown field\n") !=
        std::string::npos);
}

TEST_CASE("validate: a workload is a document of its kind, not a mention, and one beside policies is said unchecked") {
  TempDir dir;
  const auto comment = dir.write("comment.yaml", "# see the SimulationWorkload in ../simulate\n");
  const CommandResult mention = runScaler({"validate", comment.string()});
  CHECK(mention.exitCode == 2);
  CHECK(mention.out == comment.string() + ": no AIInferenceAutoscalerPolicy found\n");
  const auto both = dir.write("both.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: p, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 60}}
---
apiVersion: kubeai.io/v1alpha1
kind: SimulationWorkload
metadata: {name: w}
spec:
  interval: 15s
  demand: {rate: missing.csv}
)");
  const CommandResult beside = runScaler({"validate", both.string()});
  CHECK(beside.exitCode == 0);
  CHECK(beside.out == both.string() + ": warning: document 2: a SimulationWorkload beside policies is not checked "
                                      "(simulate reads a workload file of that document alone)\n" +
                          both.string() + ": team/p: ok\n");
}

TEST_CASE("validate warns of a Burst policy's cooldown, which holds a panic's scale-ups too") {
  TempDir dir;
  const auto file = dir.write("burst.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: default-cooldown, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  algorithm: {name: Burst}
  metrics: {gpuUtilization: {targetPercentage: 60}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: a-minute, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  cooldownPeriod: 60
  algorithm: {name: Burst}
  metrics: {gpuUtilization: {targetPercentage: 60}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: none, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  cooldownPeriod: 0
  algorithm: {name: Burst}
  metrics: {gpuUtilization: {targetPercentage: 60}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: max-ratio, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  metrics: {gpuUtilization: {targetPercentage: 60}}
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 0);  // a warning: serve runs it as it is
  const std::string prefix = file.string() + ": team/";
  const std::string tail =
      " holds every change that long, a panic's scale-ups too; Burst's stable window already keeps it from scaling "
      "down while a burst lasts: 0 lets a panic scale up at each decision\n";
  CHECK(result.out == prefix + "default-cooldown: warning: spec.cooldownPeriod: 300 s (the default)" + tail + prefix +
                          "default-cooldown: ok\n" + prefix + "a-minute: warning: spec.cooldownPeriod: 60 s" + tail +
                          prefix + "a-minute: ok\n" + prefix + "none: ok\n" + prefix + "max-ratio: ok\n");
}

TEST_CASE("validate warns of parameters a ratio built-in ignores, and of an algorithm named in the wrong case") {
  TempDir dir;
  const auto file = dir.write("warn.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: mr, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  algorithm: {name: MaxRatio, parameters: {alpha: "0.5", horizonSeconds: "60"}}
  metrics: {gpuUtilization: {targetPercentage: 60}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: lower, namespace: team}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  algorithm: {name: predictive}
  metrics: {gpuUtilization: {targetPercentage: 60}}
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 0);  // warnings: both run, as serve runs them
  const std::string mr = file.string() + ": team/mr: ";
  const std::string lower = file.string() + ": team/lower: ";
  CHECK(result.out.find(mr + "warning: spec.algorithm.parameters: MaxRatio takes none; ignored: alpha, "
                             "horizonSeconds\n" + mr + "ok\n") != std::string::npos);
  CHECK(result.out.find(lower + "warning: spec.algorithm.name: unknown algorithm \"predictive\"") != std::string::npos);
  CHECK(result.out.find("MaxRatio will be used (names are case-sensitive: did you mean \"Predictive\"?) (no "
                        "--plugin-dir)\n" + lower + "ok\n") != std::string::npos);
}

}  // namespace
}  // namespace kubeai::testing
