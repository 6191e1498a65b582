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

TEST_CASE("validate: a label that is not a string refuses nothing unless --policy-selector needs it") {
  TempDir dir;
  // Before sharding, labels were not read: this policy loaded (serve --policy-dir) and validated.
  const auto file = dir.write("labels.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, labels: {version: 1, tier: gpu}}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
)");
  const std::string prefix = file.string() + ": default/chat: ";
  const CommandResult plain = runScaler({"validate", file.string()});
  CAPTURE(plain.err);
  CHECK(plain.exitCode == 0);
  CHECK(plain.out == prefix + "warning: metadata.labels.version: must be a string, got integer (the API server refuses it)\n" +
                         prefix + "ok\n");
  // A selector on another label: still a warning, and the shard is said.
  const CommandResult other = runScaler({"validate", file.string(), "--policy-selector", "tier=gpu"});
  CHECK(other.exitCode == 0);
  CHECK(other.out.find(prefix + "owned by shard tier=gpu\n") != std::string::npos);
  // A selector on that label: which shard owns it cannot be said.
  const CommandResult needed = runScaler({"validate", file.string(), "--policy-selector", "version=1"});
  CHECK(needed.exitCode == 2);
  CHECK(needed.out == prefix + "metadata.labels.version: must be a string, got integer (--policy-selector needs it)\n");
}

TEST_CASE("validate reports label keys and values the API server refuses") {
  TempDir dir;
  const auto file = dir.write("labels.yaml", R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, labels: {"bad key": a, tier: "-gpu"}}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
)");
  const std::string prefix = file.string() + ": default/chat: ";
  const CommandResult plain = runScaler({"validate", file.string()});
  CHECK(plain.exitCode == 0);
  CHECK(plain.out.find(prefix + "warning: metadata.labels.bad key: key: ") != std::string::npos);
  CHECK(plain.out.find(prefix + "warning: metadata.labels.tier: value \"-gpu\": ") != std::string::npos);
  const CommandResult needed = runScaler({"validate", file.string(), "--policy-selector", "tier"});
  CHECK(needed.exitCode == 2);
  CHECK(needed.out.find(prefix + "metadata.labels.tier: value \"-gpu\": ") != std::string::npos);
  CHECK(needed.out.find("owned by shard") == std::string::npos);
}

TEST_CASE("validate --namespace: a policy of another namespace is another shard's, and the shard named as serve does") {
  TempDir dir;
  const auto file = dir.write("policies.yaml", std::string(kPolicies) + R"(---
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: team-b, labels: {kubeai.io/shard: shard-a}}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 3
  metrics: {gpuUtilization: {targetPercentage: 70}}
)");
  const CommandResult result = runScaler(
      {"validate", file.string(), "--policy-selector", "kubeai.io/shard=shard-a", "--namespace", "ml, team-a"});
  CAPTURE(result.err);
  CHECK(result.exitCode == 0);
  // serve's default shard name: the selector, then the sorted namespaces.
  CHECK(result.out.find(file.string() + ": ml/chat: owned by shard kubeai.io/shard=shard-a ns=ml,team-a\n") !=
        std::string::npos);
  CHECK(result.out.find(file.string() + ": team-b/chat: namespace team-b not in --namespace ml, team-a: another shard owns it\n") !=
        std::string::npos);
  // The namespace alone shards too.
  const CommandResult alone = runScaler({"validate", file.string(), "--namespace", "team-b"});
  CHECK(alone.out.find(file.string() + ": team-b/chat: owned by shard ns=team-b\n") != std::string::npos);
}

TEST_CASE("validate checks --shard-name and --namespace as serve does") {
  TempDir dir;
  const auto file = dir.write("policies.yaml", kPolicies);
  const CommandResult name = runScaler({"validate", file.string(), "--shard-name", "Shard A"});
  CHECK(name.exitCode == 2);
  CHECK(name.out.empty());
  CHECK(name.err.starts_with("error: --shard-name \"Shard A\": "));
  const CommandResult namespaces = runScaler({"validate", file.string(), "--namespace", "a,,b"});
  CHECK(namespaces.exitCode == 2);
  CHECK(namespaces.err.starts_with("error: --namespace: "));
}

}  // namespace
}  // namespace kubeai::testing
