// `kubeai-scaler serve --prometheus-url` end to end (serve_prometheus_world.h):
// the exporter's values change; the desired replicas served follow.
//
// Workloads (the exporter's series; both targets are named "chat", so only
// the namespace tells them apart):
//   team-a/gpu-chat    Deployment chat, GPU target 50 %
//   team-b/queue-chat  StatefulSet chat, queue target 5 per replica, GPU target 50 %
// Decoys that a query not scoped to its target would pick up, each changing a
// decision below:
//   team-a: pod other-7d9c5b8f4c-x2b4q at GPU 0 % (avg 66.7 -> 3), chat-0 (a
//           StatefulSet's pod name) with a queue of 1000 (-> 10)
//   team-b: chat-0 and chat-1 at GPU 40 %, and a Deployment chat of 7 replicas
//           with a pod at GPU 100 % (each changes the decision after the queue
//           empties)
// Decisions (MaxRatio, tolerance 0.1: desired = ceil(current x ratio)):
//   gpu-chat    current 2, GPU (100+100)/2 = 100 of 50 -> ratio 2 -> 4
//   queue-chat  current 3 (the StatefulSet's), queue 30 of 5x3 -> 2, GPU 40 of 50 -> 0.8 -> max 2 -> 6
#include "serve_prometheus_world.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubeai::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Pods of a Deployment chat, named as Kubernetes names them: <name>-<pod-template-hash>-<suffix>.
const std::string kChatPod0 = "chat-7d9c5b8f4c-x2b4q";
const std::string kChatPod1 = "chat-7d9c5b8f4c-k8w9p";

// The two workloads at their starting values (see the top of the file).
void exportTwoWorkloads(TestExporter& exporter) {
  exporter.setDeploymentReplicas("team-a", "chat", 2);
  exporter.setGpuUtilization("team-a", kChatPod0, "0", 100);
  exporter.setGpuUtilization("team-a", kChatPod1, "0", 100);
  exporter.setGpuUtilization("team-a", "other-7d9c5b8f4c-x2b4q", "0", 0);
  exporter.setQueueDepth("team-a", "chat-0", 1000);

  exporter.setStatefulSetReplicas("team-b", "chat", 3);
  exporter.setDeploymentReplicas("team-b", "chat", 7);
  exporter.setGpuUtilization("team-b", "chat-0", "0", 40);
  exporter.setGpuUtilization("team-b", "chat-1", "0", 40);
  exporter.setGpuUtilization("team-b", kChatPod0, "0", 100);  // the Deployment's pod
  exporter.setQueueDepth("team-b", "chat-0", 10);
  exporter.setQueueDepth("team-b", "chat-1", 20);
}

const std::string kGpuChat = policyYaml("team-a", "gpu-chat", "Deployment", "chat", 1,
                                        "    gpuUtilization:\n      targetPercentage: 50\n");
const std::string kQueueChat = policyYaml("team-b", "queue-chat", "StatefulSet", "chat", 1,
                                          "    requestQueueDepth:\n      enabled: true\n      targetDepth: 5\n"
                                          "    gpuUtilization:\n      targetPercentage: 50\n");

// What KEDA and the HPA do with a decision: the workload gets `replicas`,
// and its load spreads (the metric set to its target first, so that no cycle
// sees the new count with the old load).
void applyDeployment(World& world, const std::string& ns, int replicas, double gpuAtTarget) {
  world.exporter.setGpuUtilization(ns, kChatPod0, "0", gpuAtTarget);
  world.exporter.setGpuUtilization(ns, kChatPod1, "0", gpuAtTarget);
  world.exporter.setDeploymentReplicas(ns, "chat", replicas);
  world.prometheus->waitForValue(concat(R"(kube_deployment_spec_replicas{namespace=")", ns, R"(",deployment="chat"})"),
                                 replicas, kFollow);
}

TEST_CASE("serve follows the values exported through Prometheus, and scoping keeps the two workloads apart") {
  World world({kGpuChat, kQueueChat});
  exportTwoWorkloads(world.exporter);
  world.waitForDesired("team-a", "gpu-chat", 4, kFirstDecision);
  world.waitForDesired("team-b", "queue-chat", 6, kFirstDecision);
  // KEDA scales both. team-a's load spreads to its target; team-b's queue of
  // 30 is 30 / (5 x 6) = 1.0 of its target now.
  applyDeployment(world, "team-a", 4, 50);
  world.exporter.setStatefulSetReplicas("team-b", "chat", 6);
  world.prometheus->waitForValue(R"(kube_statefulset_replicas{namespace="team-b",statefulset="chat"})", 6, kFollow);

  // team-a's GPU falls to 25 %: ratio 0.5 -> ceil(4 x 0.5) = 2. team-b holds.
  world.exporter.setGpuUtilization("team-a", kChatPod0, "0", 25);
  world.exporter.setGpuUtilization("team-a", kChatPod1, "0", 25);
  world.waitForDesired("team-a", "gpu-chat", 2, kFollow);
  CHECK(world.getMetrics("team-b", "queue-chat").is(6));
  applyDeployment(world, "team-a", 2, 50);

  // team-b's queue empties: GPU 0.8 remains -> ceil(6 x 0.8) = 5, from the
  // StatefulSet's 6 replicas and its own pods (the Deployment's 7 replicas
  // would give 6, its pod at 100 % 8). team-a holds.
  world.exporter.setQueueDepth("team-b", "chat-0", 0);
  world.exporter.setQueueDepth("team-b", "chat-1", 0);
  world.waitForDesired("team-b", "queue-chat", 5, kFollow);
  CHECK(world.getMetrics("team-a", "gpu-chat").is(2));

  // team-a at 75 %: ratio 1.5 -> ceil(2 x 1.5) = 3.
  world.exporter.setGpuUtilization("team-a", kChatPod0, "0", 75);
  world.exporter.setGpuUtilization("team-a", kChatPod1, "0", 75);
  world.waitForDesired("team-a", "gpu-chat", 3, kFollow);
  CHECK(world.getMetrics("team-b", "queue-chat").is(5));
}

TEST_CASE("Prometheus gone: the last decision is served, then UNAVAILABLE after the staleness bound, then it resumes") {
  World world({kGpuChat, kQueueChat});
  exportTwoWorkloads(world.exporter);
  world.waitForDesired("team-a", "gpu-chat", 4, kFirstDecision);
  world.waitForDesired("team-b", "queue-chat", 6, kFirstDecision);

  // Killed, so that it is gone at once (a graceful stop may take a while on a loaded machine).
  world.prometheus->kill();
  const auto stopped = Clock::now();
  // The last decision stays in force while the failure is younger than the bound.
  CHECK(world.getMetrics("team-a", "gpu-chat").is(4));
  CHECK(world.getMetrics("team-b", "queue-chat").is(6));

  const Answer stale = world.waitFor(
      "team-a", "gpu-chat", [](const Answer& a) { return a.code != grpc::StatusCode::OK; },
      stretched(kStaleAfter + 10s), "UNAVAILABLE");
  const auto staleAfter = Clock::now() - stopped;
  MESSAGE("UNAVAILABLE ", std::chrono::duration_cast<std::chrono::milliseconds>(staleAfter).count(),
          " ms after Prometheus stopped (--metrics-stale-after 4s, --evaluation-interval 1s)");
  CHECK(stale.code == grpc::StatusCode::UNAVAILABLE);
  CAPTURE(stale.message);
  // Either check may say so first: the RPC path's own, on the clock ("metrics
  // last read 4.0s ago"), or the loop's, once its cycles have failed for the
  // bound (with the read's error), which follows.
  CHECK(stale.message.find("policy team-a/gpu-chat is stale: metrics ") == 0);
  // The last good read was at most one cycle (1 s) before the stop.
  CHECK(staleAfter >= kStaleAfter - 1500ms);
  const auto saysUnavailableFor = [](const Answer& a) {
    return a.code == grpc::StatusCode::UNAVAILABLE && a.message.find(": metrics unavailable for ") != std::string::npos;
  };
  const Answer said = world.waitFor("team-a", "gpu-chat", saysUnavailableFor, kFollow, "the loop's stale message");
  CAPTURE(said.message);
  CHECK(said.message.find("policy team-a/gpu-chat is stale: metrics unavailable for ") == 0);
  CHECK(said.message.find(concat("GET ", world.prometheus->url(), "/api/v1/query: Couldn't connect to server")) !=
        std::string::npos);
  world.waitFor("team-b", "queue-chat", saysUnavailableFor, kFollow, "the loop's stale message");

  // /readyz names each stale policy and why; the process is alive.
  const auto ready = world.http("/readyz");
  CAPTURE(ready.body);
  CHECK(ready.body.find("team-a/gpu-chat: stale: metrics unavailable for ") != std::string::npos);
  CHECK(ready.body.find("team-b/queue-chat: stale: metrics unavailable for ") != std::string::npos);
  CHECK(ready.body.find("Couldn't connect to server") != std::string::npos);
  CHECK(world.http("/healthz").status == 200);

  // Prometheus returns (same port, same data); meanwhile team-a's GPU fell to 25 %.
  world.exporter.setGpuUtilization("team-a", kChatPod0, "0", 25);
  world.exporter.setGpuUtilization("team-a", kChatPod1, "0", 25);
  world.prometheus->restart();
  const auto restarted = Clock::now();
  // Served again within a cycle of Prometheus answering (from what it has
  // stored, or holding while it has nothing yet)...
  const Answer resumed = world.waitFor(
      "team-a", "gpu-chat", [](const Answer& a) { return a.code == grpc::StatusCode::OK; }, kFollow, "OK again");
  const auto resumedAfter = Clock::now() - restarted;
  MESSAGE("served again ", std::chrono::duration_cast<std::chrono::milliseconds>(resumedAfter).count(),
          " ms after Prometheus was ready again (", resumed.show(), ")");
  CHECK(resumedAfter < stretched(3s));
  // ... and on the new value once Prometheus has scraped it.
  world.waitForDesired("team-a", "gpu-chat", 1, kFirstDecision);
  MESSAGE("the new decision ", std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted).count(),
          " ms after Prometheus was ready again (its first scrape comes ~5 s after start)");
  world.waitForDesired("team-b", "queue-chat", 6, kFollow);
  waitUntil([&] { return world.http("/readyz").body.find("stale") == std::string::npos; }, kFollow,
            "/readyz without stale policies", [&] { return world.http("/readyz").body; });
}

TEST_CASE("two series, a syntax error and NaN from a custom or default query each give the documented outcome") {
  // team-c/two-series: a query that is not aggregated, over two pods.
  const std::string twoSeries = policyYaml(
      "team-c", "two-series", "Deployment", "chat", 1,
      "    gpuUtilization:\n      targetPercentage: 50\n"
      "      prometheusQuery: 'DCGM_FI_DEV_GPU_UTIL{namespace=\"${namespace}\",pod=~\"${target}-.*\"}'\n");
  // team-c/syntax-error: a parenthesis left open (the template itself is fine).
  const std::string syntaxError = policyYaml(
      "team-c", "syntax-error", "Deployment", "chat", 1,
      "    gpuUtilization:\n      targetPercentage: 50\n"
      "      prometheusQuery: 'avg(DCGM_FI_DEV_GPU_UTIL{namespace=\"${namespace}\"}'\n");
  // team-c/no-traffic: the default latency query over a histogram without a
  // single request: histogram_quantile gives NaN, which is no data, not 0.
  const std::string noTraffic = policyYaml("team-c", "no-traffic", "Deployment", "idle", 1,
                                           "    latency:\n      targetP99Ms: 500\n");
  World world({kGpuChat, twoSeries, syntaxError, noTraffic});
  exportTwoWorkloads(world.exporter);
  world.exporter.setDeploymentReplicas("team-c", "chat", 2);
  world.exporter.setGpuUtilization("team-c", "chat-0", "0", 50);
  world.exporter.setGpuUtilization("team-c", "chat-1", "0", 50);
  world.exporter.setDeploymentReplicas("team-c", "idle", 3);
  world.exporter.declareLatency("team-c", "idle-7d9c5b8f4c-x2b4q");
  world.waitForDesired("team-a", "gpu-chat", 4, kFirstDecision);

  // Prometheus answers NaN for the default query...
  const std::string p99 = concat(
      "histogram_quantile(0.99, sum by (le) (rate(inference_request_duration_seconds_bucket",
      R"({namespace="team-c",pod=~"idle-[bcdfghjklmnpqrstvwxz2456789]{1,10}-)",
      R"([bcdfghjklmnpqrstvwxz2456789]{5}"}[2m]))))");
  world.prometheus->waitForQuery(
      p99,
      [](const nlohmann::json& data) {
        return data.at("result").size() == 1 && data.at("result")[0].at("value").at(1) == "NaN";
      },
      kFirstDecision);
  // ... and the slot is left out: no metric, so the current 3 replicas hold
  // (NaN read as 0 would scale down to 1).
  world.waitForDesired("team-c", "no-traffic", 3, kFollow);
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(1s);  // a few more cycles on the same data: it holds
    CHECK(world.getMetrics("team-c", "no-traffic").is(3));
  }

  // Two series: an error that says to aggregate; no decision, so UNAVAILABLE.
  const Answer two = world.waitFor(
      "team-c", "two-series",
      [](const Answer& a) {
        return a.code == grpc::StatusCode::UNAVAILABLE && a.message.find("2 series") != std::string::npos;
      },
      kFollow, "UNAVAILABLE naming two series");
  CAPTURE(two.message);
  CHECK(two.message.find("policy team-c/two-series is ") == 0);
  CHECK(two.message.find(R"(query `DCGM_FI_DEV_GPU_UTIL{namespace="team-c",pod=~"chat-.*"}`)") != std::string::npos);
  CHECK(two.message.find("aggregate the query to a single series") != std::string::npos);

  // A syntax error: Prometheus' own message, through HTTP 400.
  const Answer syntax = world.waitFor(
      "team-c", "syntax-error",
      [](const Answer& a) { return a.code == grpc::StatusCode::UNAVAILABLE; }, kFollow, "UNAVAILABLE");
  CAPTURE(syntax.message);
  CHECK(syntax.message.find("policy team-c/syntax-error is ") == 0);
  CHECK(syntax.message.find("HTTP 400") != std::string::npos);
  CHECK(syntax.message.find("bad_data") != std::string::npos);
  CHECK(syntax.message.find("parse error") != std::string::npos);

  // /readyz names both with their reasons; the good policies are not affected.
  const auto ready = world.http("/readyz");
  CAPTURE(ready.body);
  CHECK(ready.body.find("team-c/two-series: ") != std::string::npos);
  CHECK(ready.body.find("team-c/syntax-error: ") != std::string::npos);
  CHECK(ready.body.find("team-a/gpu-chat") == std::string::npos);
  CHECK(ready.body.find("team-c/no-traffic") == std::string::npos);
  CHECK(world.getMetrics("team-a", "gpu-chat").is(4));
  CHECK(world.getMetrics("team-c", "no-traffic").is(3));
}

}  // namespace
}  // namespace kubeai::testing
