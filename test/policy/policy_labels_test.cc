// metadata.labels as the parser keeps them: strings in `labels`, anything
// else in `labelProblems`, and never an error: a policy directory (serve
// --policy-dir) loads a policy whatever its labels, as before labels were read.
#include <doctest/doctest.h>

#include <map>
#include <string>

#include "policy/policy_parser.h"

namespace kubeai::policy {
namespace {

std::string policyWith(const std::string& labels) {
  return "apiVersion: kubeai.io/v1alpha1\n"
         "kind: AIInferenceAutoscalerPolicy\n"
         "metadata: {name: chat, namespace: ml" +
         labels +
         "}\n"
         "spec:\n"
         "  targetRef: {kind: Deployment, name: chat}\n"
         "  maxReplicas: 3\n"
         "  metrics: {gpuUtilization: {targetPercentage: 70}}\n";
}

TEST_CASE("metadata.labels: strings kept, anything else noted, the policy loads either way") {
  struct Row {
    const char* labels;  // after "metadata: {name: chat, namespace: ml"
    std::map<std::string, std::string> kept;
    std::map<std::string, std::string> problems;
  };
  const Row rows[] = {
      // As the API server holds them.
      {", labels: {tier: gpu}", {{"tier", "gpu"}}, {}},
      // An unquoted number: the API server would refuse it; a policy file loaded it before labels were read.
      {", labels: {version: 1, tier: gpu}", {{"tier", "gpu"}}, {{"version", "must be a string, got integer"}}},
      {", labels: {canary: true}", {}, {{"canary", "must be a string, got boolean"}}},
      // Not a map at all.
      {", labels: [a, b]", {}, {{"", "must be a map of strings, got array"}}},
      // None, or null.
      {"", {}, {}},
      {", labels: null", {}, {}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.labels);
    const PolicyFile file = parsePolicyYaml(policyWith(row.labels));
    REQUIRE_FALSE(file.error);
    REQUIRE(file.policies.size() == 1);
    const PolicyDocument& document = file.policies.front();
    CHECK(document.ok());
    CHECK(document.labels == row.kept);
    CHECK(document.labelProblems == row.problems);
  }
}

}  // namespace
}  // namespace kubeai::policy
