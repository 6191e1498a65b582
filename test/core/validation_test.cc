#include "core/validation.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>

#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

std::vector<std::string> errorsOf(const Policy& policy) {
  std::vector<std::string> errors;
  for (const auto& error : validatePolicy(policy).errors) {
    errors.push_back(error.toString());
  }
  return errors;
}

TEST_CASE("a complete policy is valid") {
  CHECK(errorsOf(testing::makePolicy()).empty());
}

TEST_CASE("each rule reports its field path") {
  struct Row {
    const char* what;
    void (*change)(Policy&);
    const char* error;
  };
  const Row rows[] = {
      {"max below min", [](Policy& p) { p.spec.minReplicas = 2; p.spec.maxReplicas = 1; },
       "spec.maxReplicas: must be >= minReplicas (2)"},
      {"max below default min", [](Policy& p) { p.spec.minReplicas.reset(); p.spec.maxReplicas = 0; },
       "spec.maxReplicas: must be >= 1"},
      {"negative min", [](Policy& p) { p.spec.minReplicas = -1; }, "spec.minReplicas: must be >= 0"},
      {"negative cooldown", [](Policy& p) { p.spec.cooldownPeriod = -5; }, "spec.cooldownPeriod: must be >= 0"},
      {"gpu target 0", [](Policy& p) { p.spec.metrics.gpuUtilization->targetPercentage = 0.0; },
       "spec.metrics.gpuUtilization.targetPercentage: must be between 1 and 100"},
      {"gpu target 101", [](Policy& p) { p.spec.metrics.gpuUtilization->targetPercentage = 101.0; },
       "spec.metrics.gpuUtilization.targetPercentage: must be between 1 and 100"},
      {"gpu target missing", [](Policy& p) { p.spec.metrics.gpuUtilization->targetPercentage.reset(); },
       "spec.metrics.gpuUtilization.targetPercentage: required when gpuUtilization is enabled"},
      {"latency without targets",
       [](Policy& p) {
         p.spec.metrics.latency->targetP99Ms.reset();
         p.spec.metrics.latency->targetP95Ms = 0.0;
       },
       "spec.metrics.latency: enabled latency metric needs targetP99Ms or targetP95Ms greater than 0"},
      {"negative latency target", [](Policy& p) { p.spec.metrics.latency->targetP99Ms = -1.0; },
       "spec.metrics.latency.targetP99Ms: must be >= 0"},
      {"negative queue target", [](Policy& p) { p.spec.metrics.requestQueueDepth->targetDepth = -1.0; },
       "spec.metrics.requestQueueDepth.targetDepth: must be >= 0"},
      {"nothing enabled",
       [](Policy& p) {
         p.spec.metrics.latency->enabled = false;
         p.spec.metrics.gpuUtilization.reset();
         p.spec.metrics.requestQueueDepth->enabled = false;
       },
       "spec.metrics: at least one metric must be enabled"},
      {"tolerance above 1", [](Policy& p) { p.spec.algorithm.tolerance = 1.5; },
       "spec.algorithm.tolerance: must be between 0 and 1"},
      {"tolerance NaN", [](Policy& p) { p.spec.algorithm.tolerance = std::numeric_limits<double>::quiet_NaN(); },
       "spec.algorithm.tolerance: must be between 0 and 1"},
      {"negative weight", [](Policy& p) { p.spec.algorithm.weights = {1.0, -2.0}; },
       "spec.algorithm.weights[1]: must be a finite number >= 0"},
      {"empty algorithm name", [](Policy& p) { p.spec.algorithm.name = ""; },
       "spec.algorithm.name: must not be empty (omit it for MaxRatio)"},
      {"bad kind", [](Policy& p) { p.spec.targetRef.kind = "ReplicaSet"; },
       "spec.targetRef.kind: must be Deployment or StatefulSet, got \"ReplicaSet\""},
      {"no target name", [](Policy& p) { p.spec.targetRef.name = ""; }, "spec.targetRef.name: required"},
      // The apiVersion is part of the /scale path: a path of its own would read another namespace's object.
      {"apiVersion with a path",
       [](Policy& p) { p.spec.targetRef.apiVersion = "apps/v1/namespaces/kube-system/deployments/coredns/scale#"; },
       "spec.targetRef.apiVersion: must be an API group/version such as apps/v1 (lowercase group, version vN, "
       "vNalphaM or vNbetaM), got \"apps/v1/namespaces/kube-system/deployments/coredns/scale#\""},
      {"no name", [](Policy& p) { p.metadata.name = ""; }, "metadata.name: required"},
      {"bad namespace", [](Policy& p) { p.metadata.namespace_ = "Not_Valid"; },
       "metadata.namespace: must be a lowercase RFC 1123 label (a-z, 0-9, '-', at most 63 characters), got "
       "\"Not_Valid\""},
      {"rate policy value 0",
       [](Policy& p) { p.spec.scaleUp = ScalingRules{0, {{ScalingPolicyType::kPods, 0, 60}}, SelectPolicy::kMax}; },
       "spec.scaleUp.policies[0].value: must be greater than 0"},
      {"rate policy period 0",
       [](Policy& p) {
         p.spec.scaleDown = ScalingRules{0, {{ScalingPolicyType::kPods, 1, 0}}, SelectPolicy::kMax};
       },
       "spec.scaleDown.policies[0].periodSeconds: must be greater than 0"},
      {"negative window", [](Policy& p) { p.spec.scaleDown = ScalingRules{-1, {}, SelectPolicy::kMax}; },
       "spec.scaleDown.stabilizationWindowSeconds: must be >= 0"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    Policy policy = testing::makePolicy();
    row.change(policy);
    const auto errors = errorsOf(policy);
    CAPTURE(errors.size());
    CHECK(std::find(errors.begin(), errors.end(), row.error) != errors.end());
  }
}

TEST_CASE("every problem is reported at once") {
  Policy policy = testing::makePolicy();
  policy.spec.maxReplicas = 0;
  policy.spec.algorithm.tolerance = 2;
  policy.spec.metrics.gpuUtilization->targetPercentage = 500.0;
  CHECK(errorsOf(policy).size() == 3);
}

TEST_CASE("explicit zeros are legal where the API allows them") {
  Policy policy = testing::makePolicy();
  policy.spec.minReplicas = 0;         // scale to zero
  policy.spec.cooldownPeriod = 0;      // no cooldown
  policy.spec.algorithm.tolerance = 0;
  policy.spec.metrics.latency->targetP95Ms = 0.0;  // unset, P99 remains
  CHECK(errorsOf(policy).empty());
}

TEST_CASE("warnings: more than four weights, a queue metric without target") {
  Policy policy = testing::makePolicy();
  policy.spec.algorithm.weights = {1, 1, 1, 1, 1};
  policy.spec.metrics.requestQueueDepth->targetDepth.reset();
  const ValidationReport report = validatePolicy(policy);
  CHECK(report.errors.empty());
  CHECK(report.warnings.size() == 2);
}

TEST_CASE("API group/versions") {
  struct Row {
    const char* value;
    bool valid;
  };
  const Row rows[] = {
      {"apps/v1", true},               // the default
      {"v1", true},                    // the core group
      {"apps/v1beta2", true},          // a pre-release version
      {"example.com/v2alpha1", true},  // a dotted group
      {"a/v1", true},                  // a one-letter group
      {"", false},                     // empty
      {"apps/", false},                // no version
      {"/v1", false},                  // empty group
      {"apps/v1/namespaces/kube-system/deployments/coredns/scale#", false},  // a path
      {"apps/v1?x=1", false},          // a query
      {"apps/v1#", false},             // a fragment
      {"apps/../v1", false},           // a dot segment
      {"Apps/v1", false},              // uppercase
      {"-apps/v1", false},             // a group starting with '-'
      {"apps./v1", false},             // a group ending with '.'
      {"apps/v", false},               // no version number
      {"apps/1", false},               // no 'v'
      {"apps/v1gamma1", false},        // neither alpha nor beta
      {"apps/v1beta", false},          // beta without a number
      {"apps/v1%2f", false},           // an encoded slash
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    CHECK(isApiGroupVersion(row.value) == row.valid);
  }
}

TEST_CASE("RFC 1123 names") {
  CHECK(isDns1123Subdomain("llm-chat.v2"));
  CHECK_FALSE(isDns1123Subdomain("LLM"));
  CHECK_FALSE(isDns1123Subdomain("-chat"));
  CHECK_FALSE(isDns1123Subdomain("chat..v2"));
  CHECK_FALSE(isDns1123Subdomain(std::string(254, 'a')));
  CHECK(isDns1123Label("default"));
  CHECK_FALSE(isDns1123Label("a.b"));
  CHECK_FALSE(isDns1123Label(std::string(64, 'a')));
}

}  // namespace
}  // namespace kubeai::core
