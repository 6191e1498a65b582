// The engine presets against a real Prometheus (issue 12's acceptance): an
// exporter of ours emits each engine's real metric names, label sets and
// histogram buckets for the target Deployment `llama`'s two pods and for the
// decoy Deployment `llama-70b` (a longer name, same namespace, values far
// off); for every engine x signal of the table the preset, expanded for
// `llama`, returns the expected value in its unit. Renamed metrics: namespace
// `old` exports only the older names, `both` the newer and the older ones (the
// older with other values: the newer must win, nothing counted twice), `mid`
// llm-d's intermediate llm_d_router_epp_* names.
//
// Histograms and Triton's counters need traffic between scrapes (a rate needs
// two samples): a thread observes every 100 ms; each histogram's target pods
// observe one value, so its quantile q is exactly lower + (upper - lower) x q
// of that value's bucket, whatever the rates.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <exception>
#include <functional>
#include <stop_token>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/engine_presets.h"
#include "source/prometheus/engine_queries.h"
#include "source/prometheus/query_template.h"
#include "support/prometheus_server.h"
#include "support/snapshot_exporter.h"
#include "support/wait.h"

namespace kubeai::testing {
namespace {

using Labels = SnapshotExporter::Labels;
using namespace std::chrono_literals;

const std::vector<std::string> kPods = {"llama-7d9c5b8f4c-x2b4q", "llama-7d9c5b8f4c-k8w9p"};
const std::vector<std::string> kDecoys = {"llama-70b-5f6d8c9b47-q2w4z", "llama-70b-5f6d8c9b47-h7j8k"};

Labels with(Labels labels, const std::string& ns, const std::string& pod) {
  labels["namespace"] = ns;
  labels["pod"] = pod;
  return labels;
}

// The engines' own label sets and bucket boundaries (their sources: docs/metrics.md).
const Labels kVllm = {{"model_name", "meta-llama/Llama-3.1-8B-Instruct"}, {"engine", "0"}};
const Labels kSglangTokenizer = {{"model_name", "Qwen/Qwen2.5-7B-Instruct"}};
const Labels kSglangScheduler = {
    {"model_name", "Qwen/Qwen2.5-7B-Instruct"}, {"engine_type", "unified"}, {"tp_rank", "0"}, {"pp_rank", "0"}};
const Labels kTrtllm = {{"model_name", "llama"}, {"engine_type", "trtllm"}};
const Labels kTriton = {{"model", "tensorrt_llm"}, {"version", "1"}};
const Labels kDcgm = {{"gpu", "0"},
                      {"UUID", "GPU-6f1b2c3d-0000-1111-2222-333344445555"},
                      {"device", "nvidia0"},
                      {"modelName", "NVIDIA H100 80GB HBM3"},
                      {"Hostname", "gpu-node-1"},
                      {"container", "server"}};

const std::vector<double> kVllmTtft = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25, 0.5,   0.75,
                                       1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
const std::vector<double> kVllmItl = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                      0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
const std::vector<double> kVllmRequest = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                                          30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
const std::vector<double> kSglangTtft = {0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400};
const std::vector<double> kSglangItl = {0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025,
                                        0.030, 0.035, 0.040, 0.060, 0.080, 0.100, 0.200, 0.400,
                                        0.600, 0.800, 1.000, 2.000, 4.000, 6.000, 8.000};
const std::vector<double> kSglangE2e = {0.1, 0.2, 0.4, 0.6, 0.8, 1,   2,   4,   6,    8,    10,
                                        20,  40,  60,  80,  100, 200, 400, 600, 1200, 1800, 2400};
const std::vector<double> kSglangQueue = {0.0, 0.1, 0.2,  0.5,  1,    2,    3,    4,    5,    10,   15,   20,
                                          30,  40,  50,   60,   70,   80,   90,   100,  200,  300,  400,  500,
                                          600, 700, 800,  900,  1000, 1200, 1400, 1600, 1800, 2000, 2500, 3000};
const std::vector<double> kTritonFirstResponseMs = {100, 500, 2000, 5000};

// TGI: 35 geometric buckets from 0.0001 x 1.5 (router/src/server.rs).
std::vector<double> tgiBuckets() {
  std::vector<double> buckets;
  double value = 0.0001;
  for (int i = 0; i < 35; ++i) {
    value *= 1.5;
    buckets.push_back(value);
  }
  return buckets;
}

// A histogram of an engine: the target's pods observe `value`, the decoys `decoy`.
struct Histogram {
  std::string engine;
  std::string name;
  Labels labels;
  std::vector<double> buckets;
  double value;
  double decoy;
  double toMs;  // 1000 for seconds, 1 for milliseconds
  std::string p95;
  std::string p99;
};

std::vector<Histogram> histograms() {
  const std::vector<double> tgi = tgiBuckets();
  return {
      {"vllm", "vllm:time_to_first_token_seconds", kVllm, kVllmTtft, 0.15, 30, 1000, "timeToFirstTokenP95",
       "timeToFirstTokenP99"},
      {"vllm", "vllm:inter_token_latency_seconds", kVllm, kVllmItl, 0.03, 2, 1000, "interTokenLatencyP95",
       "interTokenLatencyP99"},
      {"vllm", "vllm:e2e_request_latency_seconds", kVllm, kVllmRequest, 1.2, 100, 1000, "e2eLatencyP95",
       "e2eLatencyP99"},
      {"vllm", "vllm:request_queue_time_seconds", kVllm, kVllmRequest, 0.4, 50, 1000, "queueTimeP95", "queueTimeP99"},
      {"sglang", "sglang:time_to_first_token_seconds", kSglangTokenizer, kSglangTtft, 0.3, 50, 1000,
       "timeToFirstTokenP95", "timeToFirstTokenP99"},
      {"sglang", "sglang:inter_token_latency_seconds", kSglangTokenizer, kSglangItl, 0.012, 3, 1000,
       "interTokenLatencyP95", "interTokenLatencyP99"},
      {"sglang", "sglang:e2e_request_latency_seconds", kSglangTokenizer, kSglangE2e, 1.5, 300, 1000, "e2eLatencyP95",
       "e2eLatencyP99"},
      {"sglang", "sglang:queue_time_seconds", kSglangScheduler, kSglangQueue, 0.15, 100, 1000, "queueTimeP95",
       "queueTimeP99"},
      {"trtllm", "trtllm_time_to_first_token_seconds", kTrtllm, kVllmTtft, 0.07, 30, 1000, "timeToFirstTokenP95",
       "timeToFirstTokenP99"},
      {"trtllm", "trtllm_time_per_output_token_seconds", kTrtllm, kVllmItl, 0.012, 2, 1000, "interTokenLatencyP95",
       "interTokenLatencyP99"},
      {"trtllm", "trtllm_e2e_request_latency_seconds", kTrtllm, kVllmRequest, 2.2, 200, 1000, "e2eLatencyP95",
       "e2eLatencyP99"},
      {"trtllm", "trtllm_request_queue_time_seconds", kTrtllm, kVllmRequest, 0.6, 100, 1000, "queueTimeP95",
       "queueTimeP99"},
      {"triton", "nv_inference_first_response_histogram_ms", kTriton, kTritonFirstResponseMs, 300, 4000, 1,
       "timeToFirstTokenP95", "timeToFirstTokenP99"},
      {"tgi", "tgi_request_duration", {}, tgi, 1.3, 60, 1000, "e2eLatencyP95", "e2eLatencyP99"},
      {"tgi", "tgi_request_queue_duration", {}, tgi, 0.05, 20, 1000, "queueTimeP95", "queueTimeP99"},
      {"tgi", "tgi_request_mean_time_per_token_duration", {}, tgi, 0.03, 1.5, 1000, "interTokenLatencyP95",
       "interTokenLatencyP99"},
  };
}

// histogram_quantile of observations all equal to `value`: linear within its bucket.
double quantileOf(const std::vector<double>& buckets, double value, double q) {
  double lower = 0;
  for (const double upper : buckets) {
    if (value <= upper) {
      return lower + (upper - lower) * q;
    }
    lower = upper;
  }
  FAIL("value past the last bucket");
  return 0;
}

// One step of traffic: every histogram observes, Triton's counters advance.
void traffic(SnapshotExporter::Batch& b, const std::vector<Histogram>& all) {
  for (const Histogram& h : all) {
    for (const std::string& pod : kPods) {
      b.observe(h.name, with(h.labels, "llm", pod), h.buckets, h.value, 3);
    }
    for (const std::string& pod : kDecoys) {
      b.observe(h.name, with(h.labels, "llm", pod), h.buckets, h.decoy, 3);
    }
  }
  // vLLM's inter-token histogram under its older name: alone in `old`, beside
  // the newer one (with another value: must be ignored) in `both`.
  for (const std::string& pod : kPods) {
    b.observe("vllm:time_per_output_token_seconds", with(kVllm, "old", pod), kVllmItl, 0.03, 3);
    b.observe("vllm:inter_token_latency_seconds", with(kVllm, "both", pod), kVllmItl, 0.03, 3);
    b.observe("vllm:time_per_output_token_seconds", with(kVllm, "both", pod), kVllmItl, 0.6, 3);
  }
  // Triton: 2 requests a step, 250 ms each, 20 ms of it queued; the decoys 5 s and 1 s.
  for (const auto& [pods, request, queue] : {std::tuple{kPods, 250000.0, 20000.0}, std::tuple{kDecoys, 5e6, 1e6}}) {
    for (const std::string& pod : pods) {
      b.counter("nv_inference_request_success", with(kTriton, "llm", pod), 2);
      b.counter("nv_inference_request_duration_us", with(kTriton, "llm", pod), 2 * request);
      b.counter("nv_inference_queue_duration_us", with(kTriton, "llm", pod), 2 * queue);
    }
  }
}

// The gauges: per pod of the target (two values), the decoys at `decoy`.
void gauges(SnapshotExporter::Batch& b, const std::string& name, const Labels& labels, double first, double second,
            double decoy, const std::string& ns = "llm") {
  b.gauge(name, with(labels, ns, kPods[0]), first);
  b.gauge(name, with(labels, ns, kPods[1]), second);
  if (ns == "llm") {
    for (const std::string& pod : kDecoys) {
      b.gauge(name, with(labels, ns, pod), decoy);
    }
  }
}

Labels pool(const std::string& key, const std::string& name) { return {{key, name}}; }

// llm-d's EPP: series of the InferencePool `poolName`, exported by its EPP pod.
Labels epp(Labels labels, const std::string& ns, const std::string& poolName) {
  return with(std::move(labels), ns, poolName + "-epp-6c9f8d7b5d-w4x2z");
}

void exportGauges(SnapshotExporter::Batch& b) {
  // vLLM: KV 0.6 and 0.8 (70 %), waiting 3 + 4, running 5 + 6.
  gauges(b, "vllm:kv_cache_usage_perc", kVllm, 0.6, 0.8, 0.05);
  gauges(b, "vllm:num_requests_waiting", kVllm, 3, 4, 50);
  gauges(b, "vllm:num_requests_running", kVllm, 5, 6, 40);
  gauges(b, "vllm:gpu_cache_usage_perc", kVllm, 0.4, 0.6, 0, "old");  // 50 % under the older name only
  gauges(b, "vllm:kv_cache_usage_perc", kVllm, 0.2, 0.4, 0, "both");  // 30 %; the older name says 90 %
  gauges(b, "vllm:gpu_cache_usage_perc", kVllm, 0.9, 0.9, 0, "both");
  // SGLang.
  gauges(b, "sglang:token_usage", kSglangScheduler, 0.5, 0.7, 0.05);
  gauges(b, "sglang:num_queue_reqs", kSglangScheduler, 2, 6, 50);
  gauges(b, "sglang:num_running_reqs", kSglangScheduler, 10, 12, 40);
  // trtllm-serve.
  gauges(b, "trtllm_kv_cache_utilization", kTrtllm, 0.25, 0.35, 0.95);
  gauges(b, "trtllm_num_requests_waiting", kTrtllm, 1, 2, 50);
  gauges(b, "trtllm_num_requests_running", kTrtllm, 7, 9, 40);
  // Triton: the TensorRT-LLM backend's gauges by type, the core's pending count, its GPU reading.
  auto kv = [](const std::string& type) {
    Labels labels = kTriton;
    labels["kv_cache_block_type"] = type;
    return labels;
  };
  auto requests = [](const std::string& type) {
    Labels labels = kTriton;
    labels["request_type"] = type;
    return labels;
  };
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("fraction"), 0.6, 0.8, 0.05);
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("used"), 60, 80, 5);
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("max"), 100, 100, 100);
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("free"), 40, 20, 95);
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("tokens_per"), 64, 64, 64);
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("used"), 45, 55, 0, "old");  // no fraction: 50 %
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("max"), 100, 100, 0, "old");
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("fraction"), 0.3, 0.5, 0, "both");  // 40 %, used / max 90 %
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("used"), 90, 90, 0, "both");
  gauges(b, "nv_trt_llm_kv_cache_block_metrics", kv("max"), 100, 100, 0, "both");
  gauges(b, "nv_trt_llm_request_metrics", requests("active"), 3, 3, 40);
  gauges(b, "nv_trt_llm_request_metrics", requests("waiting"), 1, 1, 40);
  gauges(b, "nv_trt_llm_request_metrics", requests("max"), 512, 512, 512);
  gauges(b, "nv_inference_pending_request_count", kTriton, 4, 5, 50);
  gauges(b, "nv_gpu_utilization", pool("gpu_uuid", "GPU-6f1b2c3d-0000-1111-2222-333344445555"), 0.5, 0.7, 0.01);
  // TGI: no labels of its own.
  gauges(b, "tgi_queue_size", {}, 2, 3, 50);
  gauges(b, "tgi_batch_current_size", {}, 8, 16, 40);
  // DCGM.
  gauges(b, "DCGM_FI_DEV_GPU_UTIL", kDcgm, 90, 70, 1);
  gauges(b, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", kDcgm, 0.3, 0.5, 0.99);
  gauges(b, "DCGM_FI_PROF_SM_ACTIVE", kDcgm, 0.2, 0.4, 0.99);
  gauges(b, "DCGM_FI_DEV_FB_USED", kDcgm, 30000, 50000, 80000);  // 37.5 % and 62.5 %
  gauges(b, "DCGM_FI_DEV_FB_FREE", kDcgm, 50000, 30000, 1000);

  // llm-d: pools `llama` and (the decoy) `llama-70b` in llm, `llama` in old,
  // mid and both under the older, intermediate and both names.
  const Labels flow = {{"fairness_id", "tenant-a"}, {"priority", "0"}, {"model_name", "llama"},
                       {"target_model_name", "llama"}};
  auto flowOf = [&](const std::string& poolName, const std::string& fairness) {
    Labels labels = flow;
    labels["inference_pool"] = poolName;
    labels["fairness_id"] = fairness;
    return labels;
  };
  struct Names {
    std::string queue, running, kv, saturation;
    bool byModelOnly;  // the oldest running gauge has model_name only
  };
  const Names newest{"llm_d_epp_flow_control_queue_size", "llm_d_epp_request_running",
                     "llm_d_epp_average_kv_cache_utilization", "llm_d_epp_flow_control_pool_saturation", false};
  const Names middle{"llm_d_router_epp_flow_control_queue_size", "llm_d_router_epp_running_requests",
                     "llm_d_router_epp_average_kv_cache_utilization", "llm_d_router_epp_flow_control_pool_saturation",
                     true};
  const Names oldest{"inference_extension_flow_control_queue_size", "inference_objective_running_requests",
                     "inference_pool_average_kv_cache_utilization", "inference_extension_flow_control_pool_saturation",
                     true};
  auto exportPool = [&](const Names& names, const std::string& ns, const std::string& poolName, double queueA,
                        double queueB, double running, double kvValue, double saturation) {
    b.gauge(names.queue, epp(flowOf(poolName, "tenant-a"), ns, poolName), queueA);
    b.gauge(names.queue, epp(flowOf(poolName, "tenant-b"), ns, poolName), queueB);
    Labels runningLabels = names.byModelOnly ? Labels{{"model_name", poolName}} : flow;
    if (!names.byModelOnly) {
      runningLabels["model_name"] = poolName;
    }
    b.gauge(names.running, epp(runningLabels, ns, poolName), running);
    b.gauge(names.kv, epp(pool("name", poolName), ns, poolName), kvValue);
    b.gauge(names.saturation, epp(pool("inference_pool", poolName), ns, poolName), saturation);
  };
  exportPool(newest, "llm", "llama", 4, 6, 7, 0.55, 0.85);
  exportPool(newest, "llm", "llama-70b", 90, 9, 100, 0.99, 0.1);
  exportPool(oldest, "old", "llama", 1, 2, 9, 0.25, 0.4);
  exportPool(middle, "mid", "llama", 2, 3, 8, 0.65, 0.45);
  exportPool(newest, "both", "llama", 1, 1, 4, 0.35, 0.3);
  exportPool(oldest, "both", "llama", 25, 25, 60, 0.9, 0.9);
}

struct Row {
  std::string engine;
  std::string signal;
  std::string ns;
  double expected;
};

std::vector<Row> expectations(const std::vector<Histogram>& all) {
  std::vector<Row> rows = {
      {"vllm", "kvCacheUtilization", "llm", 70},
      {"vllm", "requestsWaiting", "llm", 7},
      {"vllm", "requestsRunning", "llm", 11},
      {"sglang", "kvCacheUtilization", "llm", 60},
      {"sglang", "requestsWaiting", "llm", 8},
      {"sglang", "requestsRunning", "llm", 22},
      {"trtllm", "kvCacheUtilization", "llm", 30},
      {"trtllm", "requestsWaiting", "llm", 3},
      {"trtllm", "requestsRunning", "llm", 16},
      {"triton", "kvCacheUtilization", "llm", 70},
      {"triton", "requestsWaiting", "llm", 9},
      {"triton", "requestsRunning", "llm", 6},
      {"triton", "gpuUtilization", "llm", 60},
      {"triton", "e2eLatencyMean", "llm", 250},
      {"triton", "queueTimeMean", "llm", 20},
      {"tgi", "requestsWaiting", "llm", 5},
      {"tgi", "requestsRunning", "llm", 24},
      {"dcgm", "gpuUtilization", "llm", 80},
      {"dcgm", "graphicsEngineActive", "llm", 40},
      {"dcgm", "smActive", "llm", 30},
      {"dcgm", "framebufferUsed", "llm", 50},
      {"llm-d", "requestsWaiting", "llm", 10},
      // Not labelled by pool: the namespace's every EPP, the decoy pool's too (documented).
      {"llm-d", "requestsRunning", "llm", 107},
      {"llm-d", "kvCacheUtilization", "llm", 55},
      {"llm-d", "poolSaturation", "llm", 85},
      // Renamed metrics: the older names alone, and both (the newer wins).
      {"vllm", "kvCacheUtilization", "old", 50},
      {"vllm", "kvCacheUtilization", "both", 30},
      {"triton", "kvCacheUtilization", "old", 50},
      {"triton", "kvCacheUtilization", "both", 40},
      {"llm-d", "requestsWaiting", "old", 3},
      {"llm-d", "requestsRunning", "old", 9},
      {"llm-d", "kvCacheUtilization", "old", 25},
      {"llm-d", "poolSaturation", "old", 40},
      {"llm-d", "requestsWaiting", "mid", 5},
      {"llm-d", "requestsRunning", "mid", 8},
      {"llm-d", "kvCacheUtilization", "mid", 65},
      {"llm-d", "poolSaturation", "mid", 45},
      {"llm-d", "requestsWaiting", "both", 2},
      {"llm-d", "requestsRunning", "both", 4},
      {"llm-d", "kvCacheUtilization", "both", 35},
      {"llm-d", "poolSaturation", "both", 30},
  };
  for (const Histogram& h : all) {
    rows.push_back({h.engine, h.p95, "llm", quantileOf(h.buckets, h.value, 0.95) * h.toMs});
    rows.push_back({h.engine, h.p99, "llm", quantileOf(h.buckets, h.value, 0.99) * h.toMs});
  }
  const double itl95 = quantileOf(kVllmItl, 0.03, 0.95) * 1000;
  const double itl99 = quantileOf(kVllmItl, 0.03, 0.99) * 1000;
  for (const std::string ns : {"old", "both"}) {
    rows.push_back({"vllm", "interTokenLatencyP95", ns, itl95});
    rows.push_back({"vllm", "interTokenLatencyP99", ns, itl99});
  }
  return rows;
}

TEST_CASE("engine presets: every engine x signal reads the target's value in its unit from a real Prometheus") {
  SnapshotExporter exporter;
  const std::vector<Histogram> all = histograms();
  exporter.batch([](SnapshotExporter::Batch& b) { exportGauges(b); });
  PrometheusServerOptions options;
  options.targets = {exporter.address()};
  PrometheusServer prometheus(options);
  std::jthread load([&](const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      exporter.batch([&](SnapshotExporter::Batch& b) { traffic(b, all); });
      std::this_thread::sleep_for(100ms);  // the traffic's pace, not a synchronisation
    }
  });

  const std::vector<Row> rows = expectations(all);
  // Every row of the table is checked here, at least for `llm`.
  for (const core::EnginePreset& preset : core::enginePresets()) {
    bool covered = false;
    for (const Row& row : rows) {
      covered = covered || (row.engine == preset.engine && row.signal == preset.signal && row.ns == "llm");
    }
    CAPTURE(preset.engine);
    CAPTURE(preset.signal);
    CHECK(covered);
  }

  core::TargetRef target;
  target.kind = "Deployment";
  target.name = "llama";
  const source::prometheus::TargetPods pods = source::prometheus::targetPods(target);
  // The first answers wait for Prometheus' first scrapes and two samples of traffic.
  const auto timeout = stretched(std::chrono::seconds(60));
  for (const Row& row : rows) {
    CAPTURE(row.engine);
    CAPTURE(row.signal);
    CAPTURE(row.ns);
    CAPTURE(row.expected);
    const core::EnginePreset* preset = core::findPreset(row.engine, row.signal);
    REQUIRE(preset != nullptr);
    auto tmpl = source::prometheus::presetTemplate(*preset, pods);
    REQUIRE(tmpl.ok());
    auto query = source::prometheus::expandTemplate(
        tmpl.value(), {row.ns, source::prometheus::presetTargetName(*preset, target, pods), "policy", {}});
    REQUIRE(query.ok());
    CAPTURE(query.value());
    try {
      prometheus.waitForQuery(
          query.value(),
          [&](const nlohmann::json& data) {
            const auto values = PrometheusServer::values(data);
            return values.size() == 1 && std::abs(values.front() - row.expected) <= 1e-6 * std::abs(row.expected);
          },
          timeout);
      CHECK(true);
    } catch (const std::exception& error) {
      FAIL_CHECK(std::string(error.what()));
    }
  }
}

}  // namespace
}  // namespace kubeai::testing
