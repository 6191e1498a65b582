// validate --policy-selector / --shard-name: per policy, whether this shard
// owns it, from its metadata.labels, as serve --policy-selector selects.
#include <doctest/doctest.h>

#include "command_runner.h"

namespace kubeai::testing {
namespace {

constexpr const char* kPolicies = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: ml, labels: {kubeai.io/shard: shard-a}}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: embed, namespace: ml, labels: {kubeai.io/shard: shard-b}}
spec:
  targetRef: {kind: Deployment, name: embed}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: plain, namespace: ml}
spec:
  targetRef: {kind: Deployment, name: plain}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
)";

TEST_CASE("validate --policy-selector --shard-name says per policy whether this shard owns it") {
  TempDir dir;
  const auto file = dir.write("policies.yaml", kPolicies);
  const CommandResult result = runScaler(
      {"validate", file.string(), "--policy-selector", "kubeai.io/shard=shard-a", "--shard-name", "shard-a"});
  CAPTURE(result.err);
  CHECK(result.exitCode == 0);  // another shard's policy is not an error
  const std::string prefix = file.string() + ": ml/";
  CHECK(result.out == prefix + "chat: owned by shard shard-a\n" + prefix + "chat: ok\n" + prefix +
                          "embed: not selected by --policy-selector \"kubeai.io/shard=shard-a\": another shard owns it\n" +
                          prefix + "embed: ok\n" + prefix +
                          "plain: not selected by --policy-selector \"kubeai.io/shard=shard-a\": another shard owns it\n" +
                          prefix + "plain: ok\n");
}

TEST_CASE("validate --policy-selector alone names the shard by its canonical selector") {
  TempDir dir;
  const auto file = dir.write("policies.yaml", kPolicies);
  // Set based, values out of order: the shard's name is the canonical text, as serve's default.
  const CommandResult result =
      runScaler({"validate", file.string(), "--policy-selector", "kubeai.io/shard notin ( shard-b,shard-a )"});
  CHECK(result.exitCode == 0);
  const std::string prefix = file.string() + ": ml/";
  CHECK(result.out.find(prefix + "plain: owned by shard kubeai.io/shard notin (shard-a,shard-b)\n") !=
        std::string::npos);
  CHECK(result.out.find(prefix + "chat: not selected by --policy-selector \"kubeai.io/shard notin (shard-a,shard-b)\"") !=
        std::string::npos);
}

TEST_CASE("validate refuses a --policy-selector that does not parse, naming the flag and the term") {
  TempDir dir;
  const auto file = dir.write("policies.yaml", kPolicies);
  const CommandResult result = runScaler({"validate", file.string(), "--policy-selector", "tier=gpu,shard in (a"});
  CHECK(result.exitCode == 2);
  CHECK(result.out.empty());
  CHECK(result.err ==
        "error: --policy-selector \"tier=gpu,shard in (a\": term 2 \"shard in (a\": found the end, expected: ',' or ')'\n");
}

TEST_CASE("validate refuses a label that is not a string") {
  TempDir dir;
  const auto file = dir.write("bad.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, labels: {tier: 3}}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
)");
  const CommandResult result = runScaler({"validate", file.string()});
  CHECK(result.exitCode == 2);
  CHECK(result.out == file.string() + ": default/chat: metadata.labels.tier: must be a string, got integer\n");
}

}  // namespace
}  // namespace kubeai::testing
