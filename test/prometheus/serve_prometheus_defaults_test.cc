// The default queries against a real Prometheus (serve_prometheus_world.h):
// each policy reads its own target's pods, by the names Kubernetes gives
// them, and the replicas from kube-state-metrics run twice (its HA set-up).
//
// Namespace llm, MaxRatio, tolerance 0.1: desired = ceil(current x ratio).
//   llm/llama      Deployment llama, 2 replicas, GPU target 60, queue target 5.
//                  Its pods llama-7d9c5b8f4c-{x2b4q,k8w9p}: GPU 90, queue 4 + 6.
//                  GPU 1.5, queue 10 / (5 x 2) = 1.0 -> ceil(2 x 1.5) = 3.
//   llm/llama-70b  Deployment llama-70b (the decoy, a longer name), 4 replicas,
//                  GPU target 20. Its pods llama-70b-5f6d8c9b47-{q2w4z,h7j8k}:
//                  GPU 10, queue 100 each. GPU 0.5 -> ceil(4 x 0.5) = 2.
//                  Were llama's query `llama-.*`: GPU 50 -> 0.83, queue 210 / 10
//                  -> 21: desired 10 (maxReplicas) instead of 3.
//   llm/vllm       StatefulSet vllm, 3 replicas, GPU target 40. Its pods vllm-0..2
//                  at GPU 80 -> 2 -> 6. Decoys at GPU 0: the StatefulSet
//                  vllm-embed's pods vllm-embed-{0,1} and a Deployment vllm's pod
//                  vllm-6b8d9f7c45-m2n4p; read as well they would average 40:
//                  ratio 1.0, held at 3.
// Every replica series is exported by two exporters (two kube-state-metrics):
// two series per workload in Prometheus, one value through max().
#include "serve_prometheus_world.h"

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

namespace kubeai::testing {
namespace {

using namespace std::chrono_literals;

const std::string kLlama = policyYaml("llm", "llama", "Deployment", "llama", 1,
                                      "    gpuUtilization:\n      targetPercentage: 60\n"
                                      "    requestQueueDepth:\n      enabled: true\n      targetDepth: 5\n");
const std::string kLlama70b = policyYaml("llm", "llama-70b", "Deployment", "llama-70b", 1,
                                         "    gpuUtilization:\n      targetPercentage: 20\n");
const std::string kVllm = policyYaml("llm", "vllm", "StatefulSet", "vllm", 1,
                                     "    gpuUtilization:\n      targetPercentage: 40\n");

void exportWorkloads(TestExporter& exporter) {
  exporter.setGpuUtilization("llm", "llama-7d9c5b8f4c-x2b4q", "0", 90);
  exporter.setGpuUtilization("llm", "llama-7d9c5b8f4c-k8w9p", "0", 90);
  exporter.setQueueDepth("llm", "llama-7d9c5b8f4c-x2b4q", 4);
  exporter.setQueueDepth("llm", "llama-7d9c5b8f4c-k8w9p", 6);

  exporter.setGpuUtilization("llm", "llama-70b-5f6d8c9b47-q2w4z", "0", 10);
  exporter.setGpuUtilization("llm", "llama-70b-5f6d8c9b47-h7j8k", "0", 10);
  exporter.setQueueDepth("llm", "llama-70b-5f6d8c9b47-q2w4z", 100);
  exporter.setQueueDepth("llm", "llama-70b-5f6d8c9b47-h7j8k", 100);

  for (const char* pod : {"vllm-0", "vllm-1", "vllm-2"}) {
    exporter.setGpuUtilization("llm", pod, "0", 80);
  }
  for (const char* pod : {"vllm-embed-0", "vllm-embed-1", "vllm-6b8d9f7c45-m2n4p"}) {
    exporter.setGpuUtilization("llm", pod, "0", 0);
  }
}

// What kube-state-metrics says; each of its replicas says it.
void exportReplicas(TestExporter& kubeStateMetrics) {
  kubeStateMetrics.setDeploymentReplicas("llm", "llama", 2);
  kubeStateMetrics.setDeploymentReplicas("llm", "llama-70b", 4);
  kubeStateMetrics.setStatefulSetReplicas("llm", "vllm", 3);
}

TEST_CASE("default queries: a policy sees its own pods only, not those of a longer-named Deployment") {
  World world({kLlama, kLlama70b, kVllm}, /*extraExporters=*/1);
  exportWorkloads(world.exporter);
  exportReplicas(world.exporter);
  exportReplicas(*world.more.at(0));

  // The replica series really are there twice (one per kube-state-metrics)...
  world.prometheus->waitForQuery(
      R"(kube_deployment_spec_replicas{namespace="llm",deployment="llama"})",
      [](const nlohmann::json& data) { return PrometheusServer::values(data).size() == 2; }, kFirstDecision);
  world.prometheus->waitForQuery(
      R"(kube_statefulset_replicas{namespace="llm",statefulset="vllm"})",
      [](const nlohmann::json& data) { return PrometheusServer::values(data).size() == 2; }, kFirstDecision);
  // ... and the pods of both Deployments are scraped (so the old `llama-.*` would take four).
  world.prometheus->waitForQuery(
      R"(DCGM_FI_DEV_GPU_UTIL{namespace="llm",pod=~"llama-.*"})",
      [](const nlohmann::json& data) { return PrometheusServer::values(data).size() == 4; }, kFirstDecision);

  // Each policy decides on its own pods, with one replica count each.
  world.waitForDesired("llm", "llama", 3, kFirstDecision);
  world.waitForDesired("llm", "llama-70b", 2, kFollow);
  world.waitForDesired("llm", "vllm", 6, kFollow);

  // KEDA scales llama to 3 and its load spreads over a third pod, at target
  // (GPU 60, queue 5 each: 15 / (5 x 3)); both kube-state-metrics see it.
  const std::string third = "llama-7d9c5b8f4c-p5r6t";
  for (const std::string& pod : {std::string("llama-7d9c5b8f4c-x2b4q"), std::string("llama-7d9c5b8f4c-k8w9p"), third}) {
    world.exporter.setGpuUtilization("llm", pod, "0", 60);
    world.exporter.setQueueDepth("llm", pod, 5);
  }
  world.exporter.setDeploymentReplicas("llm", "llama", 3);
  world.more.at(0)->setDeploymentReplicas("llm", "llama", 3);
  world.prometheus->waitForQuery(
      R"(kube_deployment_spec_replicas{namespace="llm",deployment="llama"})",
      [](const nlohmann::json& data) {
        const auto values = PrometheusServer::values(data);
        return values.size() == 2 && values[0] == 3 && values[1] == 3;
      },
      kFollow);

  // Its pods' GPU doubles: 120 of 60 -> ceil(3 x 2) = 6. The decoy's pods read
  // as well would give GPU 76 and a queue of 215 / 15: 10.
  for (const std::string& pod : {std::string("llama-7d9c5b8f4c-x2b4q"), std::string("llama-7d9c5b8f4c-k8w9p"), third}) {
    world.exporter.setGpuUtilization("llm", pod, "0", 120);
  }
  world.waitForDesired("llm", "llama", 6, kFollow);
  CHECK(world.getMetrics("llm", "llama-70b").is(2));
  CHECK(world.getMetrics("llm", "vllm").is(6));

  // A StatefulSet's new ordinal is one of its pods: vllm-3 at 160 -> avg 100
  // -> 2.5 -> ceil(3 x 2.5) = 8.
  world.exporter.setGpuUtilization("llm", "vllm-3", "0", 160);
  world.waitForDesired("llm", "vllm", 8, kFollow);

  // Nothing failed on the twice-exported replicas ("several series"): /readyz names no policy.
  const auto ready = world.http("/readyz");
  CAPTURE(ready.body);
  CHECK(ready.status == 200);
  CHECK(ready.body.find("llm/") == std::string::npos);
}

TEST_CASE("the replicas from two kube-state-metrics follow a change seen by both, and one of them gone") {
  World world({kLlama}, /*extraExporters=*/1);
  exportWorkloads(world.exporter);
  exportReplicas(world.exporter);
  exportReplicas(*world.more.at(0));
  world.waitForDesired("llm", "llama", 3, kFirstDecision);

  // The Deployment is scaled to 4, and both replicas of kube-state-metrics see
  // it: GPU 1.5 -> ceil(4 x 1.5) = 6.
  world.exporter.setDeploymentReplicas("llm", "llama", 4);
  world.more.at(0)->setDeploymentReplicas("llm", "llama", 4);
  world.waitForDesired("llm", "llama", 6, kFollow);

  // One kube-state-metrics goes away (its series go stale): the other still answers.
  world.more.clear();
  world.prometheus->waitForQuery(
      R"(kube_deployment_spec_replicas{namespace="llm",deployment="llama"})",
      [](const nlohmann::json& data) { return PrometheusServer::values(data).size() == 1; }, kFollow);
  for (int cycle = 0; cycle < 3; ++cycle) {
    CHECK(world.waitFor(
                   "llm", "llama", [](const Answer& a) { return a.code == grpc::StatusCode::OK; }, kFollow, "served")
              .is(6));
  }
}

}  // namespace
}  // namespace kubeai::testing
