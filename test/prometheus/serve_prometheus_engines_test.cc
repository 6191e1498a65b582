// The engine presets end to end (issue 12's acceptance, its last part: "serve
// answers KEDA the replicas those values imply"): the real serve, a real
// Prometheus scraping a SnapshotExporter of the engines' real metric names
// (serve_prometheus_world.h), GetMetrics and IsActive over gRPC.
//
// Namespace llm. Deployment llama, 2 replicas, pods llama-7d9c5b8f4c-{x2b4q,k8w9p};
// the decoy Deployment llama-70b (a longer name), 4 replicas, pods
// llama-70b-5f6d8c9b47-{q2w4z,h7j8k}, with values far off (a query reading
// them too would give another answer, in brackets below). MaxRatio, tolerance
// 0.1, maxReplicas 10: desired = ceil(current x ratio), where a Value target's
// ratio is value / target and an AverageValue's value / (target x max(current, 1)).
// Every product is chosen off an integer, so no rounding decides a row.
//
//   policy               metric (engine signal, target)          llama's value       ratio           desired
//   vllm-kv              vllm kvCacheUtilization, Value 30       avg(60, 80) = 70 %  2.333           ceil(4.67) = 5   [avg 37.5 %: 3]
//   vllm-waiting         vllm requestsWaiting, AverageValue 3    3 + 4 = 7           7 / 6 = 1.167   ceil(2.33) = 3   [107: 10]
//   sglang-kv            sglang kvCacheUtilization, Value 50     avg(50, 70) = 60 %  1.2             ceil(2.4) = 3    [32.5 %: 2]
//   sglang-waiting       sglang requestsWaiting, AverageValue 1.5  2 + 6 = 8         8 / 3 = 2.667   ceil(5.33) = 6   [10]
//   trtllm-kv            trtllm kvCacheUtilization, Value 14     avg(25, 35) = 30 %  2.143           ceil(4.29) = 5   [62.5 %: 9]
//   trtllm-waiting       trtllm requestsWaiting, AverageValue 0.4  1 + 2 = 3         3 / 0.8 = 3.75  ceil(7.5) = 8    [10]
//   triton-waiting       triton requestsWaiting, AverageValue 2  4 + 5 = 9           9 / 4 = 2.25    ceil(4.5) = 5    [10]
//   triton-e2e           triton e2eLatencyMean, Value 150        250 ms (counters)   1.667           ceil(3.33) = 4   [2625 ms: 10]
//   tgi-waiting          tgi requestsWaiting, AverageValue 2     2 + 3 = 5           5 / 4 = 1.25    ceil(2.5) = 3    [10]
//   tgi-running          tgi requestsRunning, Value 10           8 + 16 = 24         2.4             ceil(4.8) = 5    [10]
//   dcgm-gpu             dcgm gpuUtilization, Value 50           avg(90, 70) = 80 %  1.6             ceil(3.2) = 4    [40.5 %: 2]
//   dcgm-fb              dcgm framebufferUsed, Value 30          avg(37.5, 62.5) = 50 %  1.667       ceil(3.33) = 4   [74.4 %: 5]
//   llmd-kv              llm-d kvCacheUtilization, Value 20      pool llama 55 %     2.75            ceil(5.5) = 6    [max 99 %: 10]
//   llmd-waiting         llm-d requestsWaiting, AverageValue 3   pool llama 4 + 6 = 10  10 / 6 = 1.667  ceil(3.33) = 4 [109: 10]
// spec.metrics.engine, the seed four's defaults from the engine's names (the
// seed's own defaults read inference_request_*, which nothing exports here):
//   vllm-engine-latency  latency targetP99Ms 600                 vLLM e2e p99 1495 ms  2.492         ceil(4.98) = 5
//                        (every request 1.2 s: bucket (1.0, 1.5], p99 = 1.0 + 0.5 x 0.99 s)
//   vllm-engine-queue    requestQueueDepth targetDepth 3         vllm waiting 7      7 / 6 = 1.167   3
//   tgi-engine-latency   latency targetP95Ms 1000                TGI p95 1655.35 ms  1.655           ceil(3.31) = 4
//                        (every request 1.3 s: bucket (0.0001 x 1.5^18, 0.0001 x 1.5^19])
//   triton-engine-queue  requestQueueDepth targetDepth 2         pending 9           9 / 4 = 2.25    5
//   llmd-engine-queue    requestQueueDepth targetDepth 4         pool llama 10       10 / 8 = 1.25   ceil(2.5) = 3
// The decoy's own policy:
//   llama-70b-kv         vllm kvCacheUtilization, Value 10 on llama-70b (4 replicas): 5 % -> 0.5 -> 2
//                        [llama's pods read too: avg 37.5 % -> 3.75 -> 10]
// Scale to zero, pool-level: Deployment mistral at 0 replicas (no pod at all),
// its InferencePool mistral's EPP queue, and the decoy pool mistral-large's:
//   mistral-wake         minReplicas 0, llm-d requestsWaiting, AverageValue 5
//                        queue 0 -> 0 / 5 = 0 -> 0, IsActive false; then 3 + 4 = 7 -> 7 / (5 x max(0, 1))
//                        = 1.4 -> ceil(1 x 1.4) = 2, IsActive true, still at 0 replicas [97: 10]
#include "serve_prometheus_world.h"

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "support/snapshot_exporter.h"

namespace kubeai::testing {
namespace {

using Labels = SnapshotExporter::Labels;
using namespace std::chrono_literals;

const std::vector<std::string> kPods = {"llama-7d9c5b8f4c-x2b4q", "llama-7d9c5b8f4c-k8w9p"};
const std::vector<std::string> kDecoys = {"llama-70b-5f6d8c9b47-q2w4z", "llama-70b-5f6d8c9b47-h7j8k"};

Labels with(Labels labels, const std::string& pod) {
  labels["namespace"] = "llm";
  labels["pod"] = pod;
  return labels;
}

// The engines' own label sets (as in engine_presets_prometheus_test.cc).
const Labels kVllm = {{"model_name", "meta-llama/Llama-3.1-8B-Instruct"}, {"engine", "0"}};
const Labels kSglang = {
    {"model_name", "Qwen/Qwen2.5-7B-Instruct"}, {"engine_type", "unified"}, {"tp_rank", "0"}, {"pp_rank", "0"}};
const Labels kTrtllm = {{"model_name", "llama"}, {"engine_type", "trtllm"}};
const Labels kTriton = {{"model", "tensorrt_llm"}, {"version", "1"}};
const Labels kDcgm = {{"gpu", "0"}, {"UUID", "GPU-6f1b2c3d-0000-1111-2222-333344445555"}, {"container", "server"}};

// vLLM's request-latency buckets; TGI's 35 geometric ones (0.0001 x 1.5^k).
const std::vector<double> kVllmRequest = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                                          30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
std::vector<double> tgiBuckets() {
  std::vector<double> buckets;
  double value = 0.0001;
  for (int i = 0; i < 35; ++i) {
    value *= 1.5;
    buckets.push_back(value);
  }
  return buckets;
}

// A gauge for llama's two pods (`first`, `second`) and the decoy's (`decoy` each).
void gauges(SnapshotExporter::Batch& b, const std::string& name, const Labels& labels, double first, double second,
            double decoy) {
  b.gauge(name, with(labels, kPods[0]), first);
  b.gauge(name, with(labels, kPods[1]), second);
  for (const std::string& pod : kDecoys) {
    b.gauge(name, with(labels, pod), decoy);
  }
}

// llm-d's EPP for the InferencePool `pool`: its flow-control queue by fairness
// id (`a` + `b`) and its average KV cache utilization.
void eppPool(SnapshotExporter::Batch& b, const std::string& pool, double a, double bQueue, double kv) {
  const std::string eppPod = pool + "-epp-6c9f8d7b5d-w4x2z";
  for (const auto& [fairness, value] : {std::pair{"tenant-a", a}, std::pair{"tenant-b", bQueue}}) {
    b.gauge("llm_d_epp_flow_control_queue_size",
            with({{"inference_pool", pool}, {"fairness_id", fairness}, {"priority", "0"}, {"model_name", pool}},
                 eppPod),
            value);
  }
  b.gauge("llm_d_epp_average_kv_cache_utilization", with({{"name", pool}}, eppPod), kv);
}

// kube-state-metrics' replicas; mistral's queue starts empty (0 waiting).
void exportWorld(SnapshotExporter::Batch& b) {
  for (const auto& [deployment, replicas] : {std::pair{"llama", 2}, std::pair{"llama-70b", 4}, std::pair{"mistral", 0}}) {
    b.gauge("kube_deployment_spec_replicas", {{"namespace", "llm"}, {"deployment", deployment}}, replicas);
  }
  gauges(b, "vllm:kv_cache_usage_perc", kVllm, 0.6, 0.8, 0.05);
  gauges(b, "vllm:num_requests_waiting", kVllm, 3, 4, 50);
  gauges(b, "sglang:token_usage", kSglang, 0.5, 0.7, 0.05);
  gauges(b, "sglang:num_queue_reqs", kSglang, 2, 6, 50);
  gauges(b, "trtllm_kv_cache_utilization", kTrtllm, 0.25, 0.35, 0.95);
  gauges(b, "trtllm_num_requests_waiting", kTrtllm, 1, 2, 50);
  gauges(b, "nv_inference_pending_request_count", kTriton, 4, 5, 50);
  gauges(b, "tgi_queue_size", {}, 2, 3, 50);
  gauges(b, "tgi_batch_current_size", {}, 8, 16, 40);
  gauges(b, "DCGM_FI_DEV_GPU_UTIL", kDcgm, 90, 70, 1);
  gauges(b, "DCGM_FI_DEV_FB_USED", kDcgm, 30000, 50000, 80000);  // 37.5 % and 62.5 %; the decoys 98.8 %
  gauges(b, "DCGM_FI_DEV_FB_FREE", kDcgm, 50000, 30000, 1000);
  eppPool(b, "llama", 4, 6, 0.55);
  eppPool(b, "llama-70b", 90, 9, 0.99);
  eppPool(b, "mistral", 0, 0, 0.1);
  eppPool(b, "mistral-large", 60, 30, 0.9);
}

// Traffic between scrapes (a rate needs two samples): every request of
// llama's pods takes 1.2 s in vLLM and 1.3 s in TGI, 250 ms in Triton; the
// decoys' 100 s, 60 s and 5 s.
void traffic(SnapshotExporter::Batch& b, const std::vector<double>& tgi) {
  for (const auto& [pods, vllm, tgiSeconds, tritonUs] :
       {std::tuple{kPods, 1.2, 1.3, 250000.0}, std::tuple{kDecoys, 100.0, 60.0, 5e6}}) {
    for (const std::string& pod : pods) {
      b.observe("vllm:e2e_request_latency_seconds", with(kVllm, pod), kVllmRequest, vllm, 3);
      b.observe("tgi_request_duration", with({}, pod), tgi, tgiSeconds, 3);
      b.counter("nv_inference_request_success", with(kTriton, pod), 2);
      b.counter("nv_inference_request_duration_us", with(kTriton, pod), 2 * tritonUs);
    }
  }
}

std::string custom(const std::string& name, const std::string& engine, const std::string& signal,
                   const std::string& type, const std::string& value) {
  return concat("    custom:\n      - name: ", name, "\n        engine: ", engine, "\n        signal: ", signal,
                "\n        target: {type: ", type, ", value: ", value, "}\n");
}

struct Expected {
  std::string policy;
  std::int64_t desired;
};

TEST_CASE("engine presets through serve: KEDA gets the replicas the engines' values imply, each engine") {
  const std::string d = "Deployment";
  const std::vector<std::pair<std::string, std::string>> policies = {
      {"vllm-kv", custom("kvCache", "vllm", "kvCacheUtilization", "Value", "30")},
      {"vllm-waiting", custom("waiting", "vllm", "requestsWaiting", "AverageValue", "3")},
      {"sglang-kv", custom("kvCache", "sglang", "kvCacheUtilization", "Value", "50")},
      {"sglang-waiting", custom("waiting", "sglang", "requestsWaiting", "AverageValue", "1.5")},
      {"trtllm-kv", custom("kvCache", "trtllm", "kvCacheUtilization", "Value", "14")},
      {"trtllm-waiting", custom("waiting", "trtllm", "requestsWaiting", "AverageValue", "0.4")},
      {"triton-waiting", custom("waiting", "triton", "requestsWaiting", "AverageValue", "2")},
      {"triton-e2e", custom("e2eMean", "triton", "e2eLatencyMean", "Value", "150")},
      {"tgi-waiting", custom("waiting", "tgi", "requestsWaiting", "AverageValue", "2")},
      {"tgi-running", custom("running", "tgi", "requestsRunning", "Value", "10")},
      {"dcgm-gpu", custom("gpu", "dcgm", "gpuUtilization", "Value", "50")},
      {"dcgm-fb", custom("framebuffer", "dcgm", "framebufferUsed", "Value", "30")},
      {"llmd-kv", custom("poolKvCache", "llm-d", "kvCacheUtilization", "Value", "20")},
      {"llmd-waiting", custom("poolWaiting", "llm-d", "requestsWaiting", "AverageValue", "3")},
      {"vllm-engine-latency", "    engine: vllm\n    latency:\n      targetP99Ms: 600\n"},
      {"vllm-engine-queue", "    engine: vllm\n    requestQueueDepth:\n      enabled: true\n      targetDepth: 3\n"},
      {"tgi-engine-latency", "    engine: tgi\n    latency:\n      targetP95Ms: 1000\n"},
      {"triton-engine-queue", "    engine: triton\n    requestQueueDepth:\n      enabled: true\n      targetDepth: 2\n"},
      {"llmd-engine-queue", "    engine: llm-d\n    requestQueueDepth:\n      enabled: true\n      targetDepth: 4\n"},
  };
  const std::vector<Expected> expected = {
      {"vllm-kv", 5},         {"vllm-waiting", 3},        {"sglang-kv", 3},           {"sglang-waiting", 6},
      {"trtllm-kv", 5},       {"trtllm-waiting", 8},      {"triton-waiting", 5},      {"triton-e2e", 4},
      {"tgi-waiting", 3},     {"tgi-running", 5},         {"dcgm-gpu", 4},            {"dcgm-fb", 4},
      {"llmd-kv", 6},         {"llmd-waiting", 4},        {"vllm-engine-latency", 5}, {"vllm-engine-queue", 3},
      {"tgi-engine-latency", 4}, {"triton-engine-queue", 5}, {"llmd-engine-queue", 3}, {"llama-70b-kv", 2},
  };
  std::vector<std::string> yaml;
  for (const auto& [name, metrics] : policies) {
    yaml.push_back(policyYaml("llm", name, d, "llama", 1, metrics));
  }
  yaml.push_back(policyYaml("llm", "llama-70b-kv", d, "llama-70b", 1,
                            custom("kvCache", "vllm", "kvCacheUtilization", "Value", "10")));
  yaml.push_back(policyYaml("llm", "mistral-wake", d, "mistral", 0,
                            custom("poolWaiting", "llm-d", "requestsWaiting", "AverageValue", "5")));
  // Every engine has a policy of its own (the test's coverage, not serve's).
  for (const std::string engine : {"vllm", "sglang", "trtllm", "triton", "tgi", "dcgm", "llm-d"}) {
    bool covered = false;
    for (const auto& [name, metrics] : policies) {
      covered = covered || metrics.find(concat("engine: ", engine, "\n")) != std::string::npos;
    }
    CAPTURE(engine);
    CHECK(covered);
  }

  SnapshotExporter exporter;
  exporter.batch(exportWorld);
  World world(yaml, /*extraExporters=*/0, {exporter.address()});
  const std::vector<double> tgi = tgiBuckets();
  std::jthread load([&](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      exporter.batch([&](SnapshotExporter::Batch& b) { traffic(b, tgi); });
      std::this_thread::sleep_for(100ms);  // the traffic's pace, not a synchronisation
    }
  });

  // mistral asleep with nothing queued at its pool: 0, inactive.
  world.waitForDesired("llm", "mistral-wake", 0, kFirstDecision);
  CHECK(world.isActive("llm", "mistral-wake") == false);

  for (const Expected& row : expected) {
    CAPTURE(row.policy);
    // The first latencies wait for two samples of traffic in Prometheus.
    world.waitForDesired("llm", row.policy, row.desired, kFirstDecision);
  }
  // Held, not passing through: every answer still the same a cycle later.
  const auto ready = world.http("/readyz");
  CAPTURE(ready.body);
  CHECK(ready.status == 200);
  CHECK(ready.body.find("llm/") == std::string::npos);
  for (const Expected& row : expected) {
    CAPTURE(row.policy);
    const Answer answer = world.getMetrics("llm", row.policy);
    CAPTURE(answer.show());
    CHECK(answer.is(row.desired));
  }

  // Requests queue at mistral's pool while it has no pod: the pool-level
  // queue wakes it, 7 / 5 -> 2, IsActive true at 0 replicas.
  exporter.batch([](SnapshotExporter::Batch& b) { eppPool(b, "mistral", 3, 4, 0.1); });
  world.waitForDesired("llm", "mistral-wake", 2, kFollow);
  waitUntil([&] { return world.isActive("llm", "mistral-wake") == true; }, kFollow, "mistral-wake IsActive true");
  CHECK(PrometheusServer::values(world.prometheus->query(
            R"(kube_deployment_spec_replicas{namespace="llm",deployment="mistral"})")) == std::vector<double>{0});

  // The values move and the answers follow: vLLM's KV cache at 90 and 96 %
  // (93 / 30 = 3.1 -> ceil(6.2) = 7), TGI's batch shrinks to 3 + 3 (0.6 ->
  // ceil(1.2) = 2: down, no stabilization window).
  exporter.batch([](SnapshotExporter::Batch& b) {
    gauges(b, "vllm:kv_cache_usage_perc", kVllm, 0.9, 0.96, 0.05);
    gauges(b, "tgi_batch_current_size", {}, 3, 3, 40);
  });
  world.waitForDesired("llm", "vllm-kv", 7, kFollow);
  world.waitForDesired("llm", "tgi-running", 2, kFollow);
  CHECK(world.getMetrics("llm", "llama-70b-kv").is(2));
}

}  // namespace
}  // namespace kubeai::testing
