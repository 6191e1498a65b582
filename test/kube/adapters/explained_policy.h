#pragma once

// The policy the explanation tests of issue 14 share: GPU (slot 2) and a
// custom metric "waiting" (slot 4), so that names in status come from the
// policy and not from slot numbers.

namespace kubeai::testing {

inline constexpr const char* kExplainedPolicyYaml = R"(
apiVersion: kubeai.io/v1alpha1
kind: AIInferenceAutoscalerPolicy
metadata: {name: chat, namespace: ml, generation: 3, uid: uid-1}
spec:
  targetRef: {kind: Deployment, name: chat}
  maxReplicas: 40
  metrics:
    latency: {enabled: false}
    gpuUtilization: {targetPercentage: 80}
    custom:
      - {name: waiting, prometheusQuery: 'sum(waiting)', target: {type: AverageValue, value: 5}}
  algorithm: {name: Predictive}
)";

}  // namespace kubeai::testing
