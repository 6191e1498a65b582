#include "policy/policy_parser.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace kubeai::policy {
namespace {

const char* const kFullYaml = R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: chat
  namespace: llm
  generation: 4
spec:
  targetRef:
    apiVersion: apps/v1
    kind: StatefulSet
    name: chat-server
  minReplicas: 2
  maxReplicas: 12
  cooldownPeriod: 120
  algorithm:
    name: WeightedRatio
    tolerance: 0.2
    weights: [2.0, 1.5, 1, 0.5]
    parameters:
      smoothingFactor: 0.3
      mode: fast
      steps: 4
  metrics:
    latency:
      targetP99Ms: 800
      targetP95Ms: 400
      prometheusQuery: histogram_quantile(${quantile}, x)
    gpuUtilization:
      enabled: false
      targetPercentage: 70
    requestQueueDepth:
      enabled: true
      targetDepth: 8
      treatEmptyAsZero: true
  scaleUp:
    stabilizationWindowSeconds: 0
    selectPolicy: Max
    policies:
      - type: Percent
        value: 100
        periodSeconds: 15
      - type: Pods
        value: 4
        periodSeconds: 15
  scaleDown:
    stabilizationWindowSeconds: 300
    selectPolicy: Min
    policies:
      - type: Pods
        value: 1
        periodSeconds: 60
)";

PolicyDocument parseOne(const std::string& yaml) {
  PolicyFile file = parsePolicyYaml(yaml);
  REQUIRE_FALSE(file.error.has_value());
  REQUIRE(file.policies.size() == 1);
  return file.policies.front();
}

std::vector<std::string> errorsOf(const PolicyDocument& document) {
  std::vector<std::string> errors;
  for (const auto& error : document.errors) {
    errors.push_back(error.toString());
  }
  return errors;
}

bool hasError(const PolicyDocument& document, const std::string& error) {
  const auto errors = errorsOf(document);
  return std::find(errors.begin(), errors.end(), error) != errors.end();
}

void checkFullPolicy(const core::Policy& policy) {
  CHECK(policy.metadata.name == "chat");
  CHECK(policy.metadata.namespace_ == "llm");
  CHECK(policy.metadata.generation == 4);
  CHECK(policy.spec.targetRef.kind == "StatefulSet");
  CHECK(policy.spec.targetRef.name == "chat-server");
  CHECK(policy.spec.minReplicas == 2);
  CHECK(policy.spec.maxReplicas == 12);
  CHECK(policy.spec.cooldownPeriod == 120);
  CHECK(policy.spec.algorithm.name == "WeightedRatio");
  CHECK(policy.spec.algorithm.tolerance == doctest::Approx(0.2));
  CHECK(policy.spec.algorithm.weights == std::vector<double>{2.0, 1.5, 1.0, 0.5});
  CHECK(policy.spec.algorithm.parameters.at("smoothingFactor") == "0.3");
  CHECK(policy.spec.algorithm.parameters.at("mode") == "fast");
  CHECK(policy.spec.algorithm.parameters.at("steps") == "4");
  REQUIRE(policy.spec.metrics.latency.has_value());
  CHECK(policy.spec.metrics.latency->enabled);  // defaulted
  CHECK(policy.spec.metrics.latency->targetP99Ms == 800.0);
  CHECK(policy.spec.metrics.latency->prometheusQuery == "histogram_quantile(${quantile}, x)");
  REQUIRE(policy.spec.metrics.gpuUtilization.has_value());
  CHECK_FALSE(policy.spec.metrics.gpuUtilization->enabled);
  REQUIRE(policy.spec.metrics.requestQueueDepth.has_value());
  CHECK(policy.spec.metrics.requestQueueDepth->enabled);
  CHECK(policy.spec.metrics.requestQueueDepth->targetDepth == 8.0);
  CHECK(policy.spec.metrics.requestQueueDepth->treatEmptyAsZero);
  CHECK_FALSE(policy.spec.metrics.latency->treatEmptyAsZero);  // defaulted: no data is not zero
  CHECK_FALSE(policy.spec.metrics.gpuUtilization->treatEmptyAsZero);
  REQUIRE(policy.spec.scaleUp.has_value());
  CHECK(policy.spec.scaleUp->policies.size() == 2);
  CHECK(policy.spec.scaleUp->policies[0].type == core::ScalingPolicyType::kPercent);
  CHECK(policy.spec.scaleUp->policies[1].value == 4);
  REQUIRE(policy.spec.scaleDown.has_value());
  CHECK(policy.spec.scaleDown->stabilizationWindowSeconds == 300);
  CHECK(policy.spec.scaleDown->selectPolicy == core::SelectPolicy::kMin);
}

TEST_CASE("a full policy in YAML") {
  const PolicyDocument document = parseOne(kFullYaml);
  CAPTURE(errorsOf(document).size());
  CHECK(document.ok());
  CHECK(document.warnings.empty());
  checkFullPolicy(document.policy);
}

TEST_CASE("the same policy in JSON, as the Kubernetes API serves it, gives the same model") {
  // Round-trip the YAML through its JSON form, as kubectl get -o json shows it.
  const PolicyFile viaYaml = parsePolicyYaml(kFullYaml);
  REQUIRE(viaYaml.policies.size() == 1);
  const std::string json = R"json({"apiVersion":"kubeai.io/v1alpha1","kind":"AIInferenceAutoscalerPolicy",
    "metadata":{"name":"chat","namespace":"llm","generation":4,"resourceVersion":"812","uid":"u-1",
                "creationTimestamp":"2026-01-01T00:00:00Z","labels":{"a":"b"}},
    "spec":{"targetRef":{"apiVersion":"apps/v1","kind":"StatefulSet","name":"chat-server"},
      "minReplicas":2,"maxReplicas":12,"cooldownPeriod":120,
      "algorithm":{"name":"WeightedRatio","tolerance":0.2,"weights":[2.0,1.5,1,0.5],
                   "parameters":{"smoothingFactor":"0.3","mode":"fast","steps":"4"}},
      "metrics":{"latency":{"targetP99Ms":800,"targetP95Ms":400,"prometheusQuery":"histogram_quantile(${quantile}, x)"},
                 "gpuUtilization":{"enabled":false,"targetPercentage":70},
                 "requestQueueDepth":{"enabled":true,"targetDepth":8,"treatEmptyAsZero":true}},
      "scaleUp":{"stabilizationWindowSeconds":0,"selectPolicy":"Max","policies":[
         {"type":"Percent","value":100,"periodSeconds":15},{"type":"Pods","value":4,"periodSeconds":15}]},
      "scaleDown":{"stabilizationWindowSeconds":300,"selectPolicy":"Min","policies":[
         {"type":"Pods","value":1,"periodSeconds":60}]}},
    "status":{"desiredReplicas":3}})json";
  const PolicyDocument document = parsePolicyJsonText(json);
  CHECK(document.ok());
  CHECK(document.warnings.empty());
  checkFullPolicy(document.policy);
  CHECK(document.policy.metadata.resourceVersion == "812");
  CHECK(document.policy.metadata.uid == "u-1");
}

const char* const kMinimal = R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata:
  name: small
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 5
  metrics:
    gpuUtilization: {targetPercentage: 60}
)";

TEST_CASE("a parameter of YAML's .inf or .nan is read as the word, not JSON's null") {
  const PolicyDocument document = parseOne(R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: p}
spec:
  targetRef: {kind: Deployment, name: x}
  maxReplicas: 20
  algorithm: {name: Predictive, parameters: {alpha: .inf, beta: .nan, horizonSeconds: -.inf, steps: 0.25}}
  metrics: {gpuUtilization: {targetPercentage: 60}}
)");
  const auto& parameters = document.policy.spec.algorithm.parameters;
  CHECK(parameters.at("alpha") == "inf");
  CHECK(parameters.at("beta") == "nan");
  CHECK(parameters.at("horizonSeconds") == "-inf");
  CHECK(parameters.at("steps") == "0.25");
}

TEST_CASE("defaults of DESIGN §2 apply to omitted fields") {
  const PolicyDocument document = parseOne(kMinimal);
  REQUIRE(document.ok());
  const core::Policy& policy = document.policy;
  CHECK(policy.metadata.namespace_ == "default");
  CHECK(policy.spec.targetRef.apiVersion == "apps/v1");
  CHECK_FALSE(policy.spec.minReplicas.has_value());
  CHECK(policy.spec.effectiveMinReplicas() == 1);
  CHECK_FALSE(policy.spec.cooldownPeriod.has_value());
  CHECK(policy.spec.effectiveCooldownSeconds() == 300);
  CHECK(policy.spec.algorithm.name == "MaxRatio");
  CHECK(policy.spec.algorithm.tolerance == doctest::Approx(0.1));
  CHECK(policy.spec.metrics.gpuUtilization->enabled);
  CHECK_FALSE(policy.spec.metrics.latency.has_value());  // a block left out is not configured
  CHECK_FALSE(policy.spec.scaleUp.has_value());
}

TEST_CASE("an explicit 0 is not an omitted field") {
  std::string yaml = kMinimal;
  yaml += "  minReplicas: 0\n  cooldownPeriod: 0\n";
  const PolicyDocument document = parseOne(yaml);
  REQUIRE(document.ok());
  CHECK(document.policy.spec.minReplicas == 0);
  CHECK(document.policy.spec.effectiveMinReplicas() == 0);
  CHECK(document.policy.spec.cooldownPeriod == 0);
  CHECK(document.policy.spec.effectiveCooldownSeconds() == 0);
}

TEST_CASE("type errors carry their field path, and every one is reported") {
  const PolicyDocument document = parseOne(R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: bad}
spec:
  targetRef: {kind: Deployment, name: web}
  minReplicas: "2"
  maxReplicas: 2.5
  cooldownPeriod: [1]
  algorithm:
    tolerance: high
    weights: [1, two, 3]
    parameters: {nested: {a: b}}
  metrics:
    latency: {enabled: "yes", targetP99Ms: 100}
    gpuUtilization: 70
  scaleUp:
    selectPolicy: Fastest
    policies:
      - {type: Replicas, value: 1, periodSeconds: 60}
      - {type: Pods}
)");
  CHECK_FALSE(document.ok());
  for (const char* error : {
           "spec.minReplicas: must be an integer, got string",
           "spec.maxReplicas: must be an integer, got 2.5",
           "spec.cooldownPeriod: must be an integer, got array",
           "spec.algorithm.tolerance: must be a number, got string",
           "spec.algorithm.weights[1]: must be a number, got string",
           "spec.algorithm.parameters.nested: must be a string, number or boolean, got object",
           "spec.metrics.latency.enabled: must be true or false, got string",
           "spec.metrics.gpuUtilization: must be an object, got integer",
           "spec.scaleUp.selectPolicy: must be Max, Min or Disabled, got \"Fastest\"",
           "spec.scaleUp.policies[0].type: must be Pods or Percent, got \"Replicas\"",
           "spec.scaleUp.policies[1].value: required",
           "spec.scaleUp.policies[1].periodSeconds: required",
       }) {
    CAPTURE(error);
    CHECK(hasError(document, error));
  }
}

TEST_CASE("treatEmptyAsZero on each metric: a boolean, false when omitted") {
  const PolicyDocument document = parseOne(R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: zero}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics:
    latency: {targetP99Ms: 100, treatEmptyAsZero: true}
    gpuUtilization: {targetPercentage: 70, treatEmptyAsZero: false}
    requestQueueDepth: {enabled: true, targetDepth: 2, treatEmptyAsZero: yes}
)");
  CHECK(document.ok());
  CHECK(document.warnings.empty());  // a known field
  CHECK(document.policy.spec.metrics.latency->treatEmptyAsZero);
  CHECK_FALSE(document.policy.spec.metrics.gpuUtilization->treatEmptyAsZero);
  CHECK(document.policy.spec.metrics.requestQueueDepth->treatEmptyAsZero);  // YAML 1.1's yes, as kubectl

  const PolicyDocument wrong = parseOne(R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: zero}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics:
    requestQueueDepth: {enabled: true, targetDepth: 2, treatEmptyAsZero: "true"}
)");
  CHECK(errorsOf(wrong) ==
        std::vector<std::string>{"spec.metrics.requestQueueDepth.treatEmptyAsZero: must be true or false, got string"});
}

TEST_CASE("the HPA's bounds on windows and periods, and at most 10 rate policies, name their fields") {
  std::string yaml = kMinimal;
  yaml += "  scaleUp:\n    stabilizationWindowSeconds: 3601\n    policies:\n";
  for (int i = 0; i < 11; ++i) {
    yaml += "      - {type: Pods, value: 1, periodSeconds: 60}\n";
  }
  yaml += "  scaleDown:\n    policies:\n      - {type: Percent, value: 50, periodSeconds: 1801}\n";
  const PolicyDocument document = parseOne(yaml);
  CHECK(errorsOf(document) == std::vector<std::string>{
                                  "spec.scaleUp.stabilizationWindowSeconds: must be <= 3600",
                                  "spec.scaleUp.policies: must have at most 10 entries, got 11",
                                  "spec.scaleDown.policies[0].periodSeconds: must be <= 1800",
                              });
}

TEST_CASE("a minReplicas: 0 policy reading only its own pods parses with the wake warning") {
  std::string yaml = kMinimal;  // GPU by the default query
  yaml += "  minReplicas: 0\n";
  const PolicyDocument document = parseOne(yaml);
  CHECK(document.ok());
  REQUIRE(document.warnings.size() == 1);
  CHECK(document.warnings[0].field == "spec.minReplicas");
  CHECK(document.warnings[0].message.find("spec.metrics.gpuUtilization: the default query") != std::string::npos);
}

TEST_CASE("validation errors follow decoding, with their paths") {
  std::string yaml = kMinimal;
  yaml += "  minReplicas: 7\n";
  const PolicyDocument document = parseOne(yaml);
  CHECK(hasError(document, "spec.maxReplicas: must be >= minReplicas (7)"));
}

TEST_CASE("required parts missing") {
  const PolicyDocument document = parseOne(R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: empty}
spec: {}
)");
  CHECK(hasError(document, "spec.targetRef: required"));
  CHECK(hasError(document, "spec.maxReplicas: required"));
  CHECK(hasError(document, "spec.metrics: required: at least one metric must be enabled"));
}

TEST_CASE("unknown fields are accepted with a warning naming them") {
  std::string yaml = kMinimal;
  yaml += "  minReplica: 3\n";
  const PolicyDocument document = parseOne(yaml);
  CHECK(document.ok());
  REQUIRE(document.warnings.size() == 1);
  CHECK(document.warnings[0].toString() == "spec.minReplica: unknown field, ignored");
}

TEST_CASE("several documents: each policy in order, other kinds skipped, empty documents ignored") {
  std::string yaml = kMinimal;
  yaml += "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\n";
  std::string second = kMinimal;
  second.replace(second.find("name: small"), 11, "name: other");
  yaml += second + "---\n";
  const PolicyFile file = parsePolicyYaml(yaml);
  REQUIRE_FALSE(file.error.has_value());
  REQUIRE(file.policies.size() == 2);
  CHECK(file.policies[0].policy.metadata.name == "small");
  CHECK(file.policies[1].policy.metadata.name == "other");
  CHECK(file.policies[1].index == 2);
  REQUIRE(file.skipped.size() == 1);
  CHECK(file.skipped[0] == "document 2: kind ConfigMap (not a policy)");
}

TEST_CASE("a List of policies, as kubectl get -o yaml prints it, is unpacked") {
  const PolicyFile file = parsePolicyYaml(std::string("apiVersion: v1\nkind: List\nitems:\n") +
                                          "- apiVersion: kubeai.io/v1alpha1\n  kind: AIInferenceAutoscalerPolicy\n"
                                          "  metadata: {name: a}\n  spec: {targetRef: {kind: Deployment, name: w},"
                                          " maxReplicas: 2, metrics: {gpuUtilization: {targetPercentage: 50}}}\n");
  REQUIRE(file.policies.size() == 1);
  CHECK(file.policies[0].ok());
  CHECK(file.policies[0].policy.metadata.name == "a");
}

TEST_CASE("a document without kind, or with the wrong apiVersion, is an error") {
  const PolicyFile noKind = parsePolicyYaml("metadata: {name: x}\nspec: {}\n");
  REQUIRE(noKind.policies.size() == 1);
  CHECK(hasError(noKind.policies[0], "kind: required (AIInferenceAutoscalerPolicy)"));

  std::string yaml = kMinimal;
  yaml.replace(yaml.find("kubeai.io/v1alpha1"), 18, "kubeai.io/v2");
  CHECK(hasError(parseOne(yaml), "apiVersion: must be kubeai.io/v1alpha1, got \"kubeai.io/v2\""));
}

TEST_CASE("invalid YAML reports line and column") {
  const PolicyFile file = parsePolicyYaml("a: [1, 2\nb: c\n");
  REQUIRE(file.error.has_value());
  CHECK(file.error->message.rfind("invalid YAML at line ", 0) == 0);
}

TEST_CASE("input on which yaml-cpp would loop forever is refused") {
  for (const char* text : {",", ", x", "---\n,\n"}) {
    CAPTURE(text);
    const PolicyFile file = parsePolicyYaml(text);
    REQUIRE(file.error.has_value());
    CHECK(file.error->message.find("unexpected token") != std::string::npos);
  }
}

TEST_CASE("invalid JSON and non-objects are errors, not crashes") {
  CHECK(errorsOf(parsePolicyJsonText("{not json")) == std::vector<std::string>{"invalid JSON"});
  CHECK_FALSE(parsePolicyJsonText("[1,2]").ok());
  CHECK_FALSE(parsePolicyJsonText("null").ok());
  CHECK_FALSE(parsePolicyJsonText("\"\xff\xfe\"").ok());  // invalid UTF-8
}

TEST_CASE("files that never end, or are too large, are refused before reading") {
  const PolicyFile device = loadPolicyFile("/dev/zero");
  REQUIRE(device.error.has_value());
  CHECK(device.error->message == "/dev/zero: not a regular file");

  // A sparse file: large, but costs no disk.
  const auto big = std::filesystem::temp_directory_path() / "kubeai-policy-parser-big.yaml";
  std::ofstream(big).put('#');
  std::filesystem::resize_file(big, kMaxPolicyFileBytes + 1);
  const PolicyFile huge = loadPolicyFile(big);
  std::filesystem::remove(big);
  REQUIRE(huge.error.has_value());
  CHECK(huge.error->message.find("larger than the 16777216 a manifest file may have") != std::string::npos);
}

TEST_CASE("nesting beyond yaml-cpp's depth guard is reported as such") {
  const PolicyFile file = parsePolicyYaml(std::string(100000, '['));
  REQUIRE(file.error.has_value());
  CHECK(file.error->message.find("nested too deeply") != std::string::npos);
}

TEST_CASE("a field that fails to decode does not also fail the checks of its object") {
  const PolicyDocument document = parseOne(R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: x}
spec:
  targetRef: {kind: Deployment, name: web}
  maxReplicas: 3
  metrics:
    gpuUtilization: {enabled: maybe, targetPercentage: 70}
)");
  CHECK(errorsOf(document) ==
        std::vector<std::string>{"spec.metrics.gpuUtilization.enabled: must be true or false, got string"});
}

TEST_CASE("a missing file says so") {
  const PolicyFile file = loadPolicyFile("/nonexistent/policy.yaml");
  REQUIRE(file.error.has_value());
  CHECK(file.error->message == "no such file: /nonexistent/policy.yaml");
}

TEST_CASE("every example policy validates") {
  int policies = 0;
  for (const auto& entry : std::filesystem::directory_iterator(KUBEAI_EXAMPLES_DIR "/policies")) {
    CAPTURE(entry.path().string());
    const PolicyFile file = loadPolicyFile(entry.path());
    REQUIRE_FALSE(file.error.has_value());
    for (const auto& document : file.policies) {
      CAPTURE(document.displayName());
      CHECK(errorsOf(document).empty());
      CHECK(document.warnings.empty());
      ++policies;
    }
  }
  CHECK(policies >= 4);
}

}  // namespace
}  // namespace kubeai::policy
