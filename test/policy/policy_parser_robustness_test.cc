// Bad input never crashes the parser: every file is either parsed or refused
// with an error. Deterministic (fixed seeds) and bounded.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "policy/policy_parser.h"

namespace kubeai::policy {
namespace {

const char* const kSeed = R"(apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: llm}
spec:
  targetRef: {kind: Deployment, name: chat-server}
  minReplicas: 0
  maxReplicas: 12
  algorithm: {name: WeightedRatio, tolerance: 0.1, weights: [2, 1.5, 1, 0.5], parameters: {a: "1"}}
  metrics:
    latency: {targetP99Ms: 800, targetP95Ms: 400}
    gpuUtilization: {targetPercentage: 70}
    requestQueueDepth: {enabled: true, targetDepth: 8}
  scaleUp: {policies: [{type: Percent, value: 100, periodSeconds: 15}]}
---
apiVersion: v1
kind: ConfigMap
)";

// The parse must finish and say something: a policy, a skip, or an error.
void checkAnswers(const std::string& text) {
  const PolicyFile file = parsePolicyYaml(text);
  for (const auto& document : file.policies) {
    (void)document.displayName();
    for (const auto& error : document.errors) {
      CHECK_FALSE(error.toString().empty());
    }
  }
  const PolicyDocument json = parsePolicyJsonText(text);
  CHECK((json.ok() || !json.errors.empty()));
}

TEST_CASE("mutated policies are parsed or refused, never crash") {
  std::mt19937 random(20261127);
  const std::string seed = kSeed;
  const std::string alphabet = "{}[]:,-'\"&*!|>#%@`\\\n\t 0123456789.eE+-~abcnull\xff\xfe\x80";
  for (int round = 0; round < 3000; ++round) {
    std::string text = seed;
    const int edits = 1 + static_cast<int>(random() % 8);
    for (int edit = 0; edit < edits && !text.empty(); ++edit) {
      const std::size_t at = random() % text.size();
      switch (random() % 4) {
        case 0: text[at] = alphabet[random() % alphabet.size()]; break;       // replace
        case 1: text.erase(at, 1 + random() % 16); break;                      // delete
        case 2: text.insert(at, 1, alphabet[random() % alphabet.size()]); break;  // insert
        default: text.insert(at, text.substr(random() % text.size(), 1 + random() % 32)); break;  // duplicate
      }
    }
    CAPTURE(round);
    checkAnswers(text);
  }
}

TEST_CASE("random bytes are refused, never crash") {
  std::mt19937 random(7);
  for (int round = 0; round < 500; ++round) {
    std::string text(random() % 512, '\0');
    for (char& c : text) {
      c = static_cast<char>(random() % 256);
    }
    CAPTURE(round);
    checkAnswers(text);
  }
}

}  // namespace
}  // namespace kubeai::policy
