#include "core/validation.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

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
      // The HPA's MaxStabilizationWindowSeconds: one hour.
      {"window over an hour", [](Policy& p) { p.spec.scaleUp = ScalingRules{3601, {}, SelectPolicy::kMax}; },
       "spec.scaleUp.stabilizationWindowSeconds: must be <= 3600"},
      // The HPA's MaxPeriodSeconds: half an hour.
      {"rate policy period over half an hour",
       [](Policy& p) {
         p.spec.scaleDown = ScalingRules{0, {{ScalingPolicyType::kPercent, 50, 1801}}, SelectPolicy::kMax};
       },
       "spec.scaleDown.policies[0].periodSeconds: must be <= 1800"},
      // Our own bound: the HPA has none, a decision walks every policy.
      {"eleven rate policies",
       [](Policy& p) {
         p.spec.scaleUp = ScalingRules{0, std::vector<ScalingPolicy>(11, {ScalingPolicyType::kPods, 1, 60}),
                                       SelectPolicy::kMax};
       },
       "spec.scaleUp.policies: must have at most 10 entries, got 11"},
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

TEST_CASE("the HPA's bounds themselves are valid") {
  Policy policy = testing::makePolicy();
  policy.spec.scaleUp = ScalingRules{3600, std::vector<ScalingPolicy>(10, {ScalingPolicyType::kPods, 4, 1800}),
                                     SelectPolicy::kMax};
  policy.spec.scaleDown = ScalingRules{3600, {{ScalingPolicyType::kPercent, 100, 1800}}, SelectPolicy::kMin};
  CHECK(errorsOf(policy).empty());
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

std::vector<std::string> warningsOf(const Policy& policy) {
  std::vector<std::string> warnings;
  for (const auto& warning : validatePolicy(policy).warnings) {
    warnings.push_back(warning.toString());
  }
  return warnings;
}

// A minReplicas: 0 policy with only the queue metric in use, read by `query`.
Policy scaleToZero(const std::string& query) {
  Policy policy = testing::makePolicy();
  policy.spec.minReplicas = 0;
  policy.spec.metrics.gpuUtilization.reset();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth->prometheusQuery = query;
  return policy;
}

TEST_CASE("scale to zero: a policy whose every metric reads the target's own pods can never wake") {
  struct Row {
    const char* what;
    Policy policy;
    bool warns;
  };
  Policy allDefaults = testing::makePolicy();
  allDefaults.spec.minReplicas = 0;
  Policy oneOutside = allDefaults;
  oneOutside.spec.metrics.latency->prometheusQuery =
      R"(histogram_quantile(${quantile}, sum by (le) (rate(gateway_duration_seconds_bucket{backend="${target}"}[1m]))))";
  Policy minOne = allDefaults;
  minOne.spec.minReplicas = 1;
  Policy omittedMin = allDefaults;
  omittedMin.spec.minReplicas.reset();  // 1
  Policy outsideButUnused = allDefaults;
  outsideButUnused.spec.metrics.requestQueueDepth->prometheusQuery = R"(sum(gw_queue{backend="${target}"}))";
  outsideButUnused.spec.metrics.requestQueueDepth->targetDepth = 0.0;  // never queried
  Policy outsideButDisabled = outsideButUnused;
  outsideButDisabled.spec.metrics.requestQueueDepth->targetDepth = 5.0;
  outsideButDisabled.spec.metrics.requestQueueDepth->enabled = false;
  const Row rows[] = {
      // Every default query reads the pods.
      {"all defaults", allDefaults, true},
      {"the queue's default query", scaleToZero(""), true},
      // A pod matcher holding ${target}, in each form a query writes it.
      {"pod=~ the target", scaleToZero(R"(sum(q{namespace="${namespace}",pod=~"${target}-.*"}))"), true},
      {"pod = the target, spaced", scaleToZero(R"(sum(q{pod = "${target}-0"}))"), true},
      {"exported_pod", scaleToZero(R"(sum(q{exported_pod=~'${target}.+'}))"), true},
      {"pod_name", scaleToZero("sum(q{pod_name=~`^${target}-.*`})"), true},
      // A signal from outside the pods wakes it.
      {"a gateway's queue", scaleToZero(R"(sum(gateway_queue_depth{namespace="${namespace}",backend="${target}"}))"),
       false},
      {"a broker's queue", scaleToZero(R"(max(rabbitmq_queue_messages_ready{queue="${policy}"}))"), false},
      {"one metric from outside is enough", oneOutside, false},
      // Excluding the pods, or naming them without the target, is not reading them.
      {"pod!~ the target", scaleToZero(R"(sum(q{pod!~"${target}-.*",backend="${target}"}))"), false},
      {"pod of another workload", scaleToZero(R"(sum(q{pod=~"gateway-.*",backend="${target}"}))"), false},
      {"pod in a comment or a string", scaleToZero("sum(q{backend=\"${target}\", note=\"pod=~${target}\"}) # pod=\"${target}\""),
       false},
      {"by (pod)", scaleToZero(R"(max by (pod) (q{backend="${target}"}))"), false},
      // Only minReplicas 0 needs waking.
      {"minReplicas 1", minOne, false},
      {"minReplicas omitted", omittedMin, false},
      // A metric that is not in use wakes nothing.
      {"the outside metric has no target", outsideButUnused, true},
      {"the outside metric is disabled", outsideButDisabled, true},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const auto warning = scaleToZeroWakeWarning(row.policy);
    CHECK(warning.has_value() == row.warns);
    const auto warnings = warningsOf(row.policy);
    // validatePolicy reports it among its warnings; it is never an error.
    CHECK(std::count_if(warnings.begin(), warnings.end(),
                        [](const std::string& w) { return w.rfind("spec.minReplicas: ", 0) == 0; }) ==
          (row.warns ? 1 : 0));
    CHECK(errorsOf(row.policy).empty());
  }
}

TEST_CASE("the wake warning names every field that reads the pods, and says what to do") {
  Policy policy = testing::makePolicy();
  policy.spec.minReplicas = 0;
  policy.spec.metrics.gpuUtilization->prometheusQuery = R"(avg(util{pod=~"${target}-.*"}))";
  const auto warning = scaleToZeroWakeWarning(policy);
  REQUIRE(warning);
  CHECK(warning->toString() ==
        "spec.minReplicas: 0, but every metric in use is read from the target's own pods (spec.metrics.latency: "
        "the default query; spec.metrics.gpuUtilization.prometheusQuery: a matcher on the target's pods; "
        "spec.metrics.requestQueueDepth: the default query), so at 0 replicas no series exists and nothing can "
        "wake the policy: add a metric read from outside the pods, e.g. a gateway's or broker's queue for the "
        "target (examples/policies/queue-scale-to-zero.yaml)");
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
