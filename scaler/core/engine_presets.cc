#include "core/engine_presets.h"

#include <array>

namespace kubeai::core {
namespace {

// The table. Each query is written out whole (it is what docs/metrics.md shows
// and what a user would paste), pod-scoped ones selecting
//   namespace="${namespace}",pod=~"${pods}"
// Rules kept by every row:
// - utilizations are avg(...) over the series of the target's pods (one per
//   pod, engine or GPU), a fraction times 100: the HPA's average over pods;
// - request counts are sum(...) over the target's pods;
// - latencies are histogram_quantile over sum by (le) of the buckets' rates,
//   times 1000 when the histogram is in seconds;
// - a renamed metric is `or`-ed with its older name. Where both names carry
//   the same labels (vLLM), the `or` sits on the series (inside avg/sum, or
//   between the rate vectors inside sum by (le)): rate() drops the name, so a
//   pod exporting both keeps the new series only and a pod exporting only the
//   old name still counts. Where the labels differ between the names (llm-d's
//   EPP exports both while the old ones are deprecated), the `or` is between
//   the aggregates, which have no labels: the new aggregate wins whole.
constexpr MetricUnit kPct = MetricUnit::kPercent;
constexpr MetricUnit kPctOfCapacity = MetricUnit::kPercentOfCapacity;
constexpr MetricUnit kMs = MetricUnit::kMilliseconds;
constexpr MetricUnit kReq = MetricUnit::kRequests;

// vLLM: labels model_name, engine (vllm/v1/metrics/loggers.py).
constexpr std::string_view kVllmWaiting =
    R"(sum(vllm:num_requests_waiting{namespace="${namespace}",pod=~"${pods}"}))";
constexpr std::string_view kVllmE2eSeconds =
    R"(histogram_quantile(${quantile}, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))))";
// SGLang: scheduler gauges labelled model_name, engine_type, tp_rank, pp_rank
// (dp_rank); the tokenizer's histograms model_name (python/sglang/srt/metrics/collector.py).
constexpr std::string_view kSglangWaiting =
    R"(sum(sglang:num_queue_reqs{namespace="${namespace}",pod=~"${pods}"}))";
constexpr std::string_view kSglangE2eSeconds =
    R"(histogram_quantile(${quantile}, sum by (le) (rate(sglang:e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))))";
// trtllm-serve: labels model_name, engine_type (tensorrt_llm/metrics/collector.py).
constexpr std::string_view kTrtllmWaiting =
    R"(sum(trtllm_num_requests_waiting{namespace="${namespace}",pod=~"${pods}"}))";
constexpr std::string_view kTrtllmE2eSeconds =
    R"(histogram_quantile(${quantile}, sum by (le) (rate(trtllm_e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))))";
// Triton: labels model, version (docs/user_guide/metrics.md).
constexpr std::string_view kTritonWaiting =
    R"(sum(nv_inference_pending_request_count{namespace="${namespace}",pod=~"${pods}"}))";
// TGI: no labels of its own (router/src/server.rs, backends/v3/src/queue.rs).
constexpr std::string_view kTgiWaiting = R"(sum(tgi_queue_size{namespace="${namespace}",pod=~"${pods}"}))";
constexpr std::string_view kTgiE2eSeconds =
    R"(histogram_quantile(${quantile}, sum by (le) (rate(tgi_request_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))))";
// llm-d's EPP: the flow-control queue of the InferencePool named as the target.
constexpr std::string_view kLlmdWaiting =
    R"(sum(llm_d_epp_flow_control_queue_size{namespace="${namespace}",inference_pool="${target}"}) or sum(llm_d_router_epp_flow_control_queue_size{namespace="${namespace}",inference_pool="${target}"}) or sum(inference_extension_flow_control_queue_size{namespace="${namespace}",inference_pool="${target}"}))";

constexpr std::string_view kPerRequestTpot =
    "per request: its mean time per output token, not the gap between two tokens";

constexpr std::array kPresets{
    // ---- vllm ----
    EnginePreset{"vllm", "kvCacheUtilization", kPct, true,
                 R"(avg(vllm:kv_cache_usage_perc{namespace="${namespace}",pod=~"${pods}"} or vllm:gpu_cache_usage_perc{namespace="${namespace}",pod=~"${pods}"}) * 100)",
                 "vllm:gpu_cache_usage_perc before vLLM 0.10"},
    EnginePreset{"vllm", "requestsWaiting", kReq, true, kVllmWaiting, ""},
    EnginePreset{"vllm", "requestsRunning", kReq, true,
                 R"(sum(vllm:num_requests_running{namespace="${namespace}",pod=~"${pods}"}))", ""},
    EnginePreset{"vllm", "timeToFirstTokenP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"vllm", "timeToFirstTokenP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"vllm", "interTokenLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]) or rate(vllm:time_per_output_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 "vllm:time_per_output_token_seconds before vLLM 0.11"},
    EnginePreset{"vllm", "interTokenLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(vllm:inter_token_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]) or rate(vllm:time_per_output_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 "vllm:time_per_output_token_seconds before vLLM 0.11"},
    EnginePreset{"vllm", "e2eLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"vllm", "e2eLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"vllm", "queueTimeP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"vllm", "queueTimeP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(vllm:request_queue_time_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},

    // ---- sglang ----
    EnginePreset{"sglang", "kvCacheUtilization", kPct, true,
                 R"(avg(sglang:token_usage{namespace="${namespace}",pod=~"${pods}"}) * 100)",
                 "sglang:token_usage: the share of the KV pool's tokens in use"},
    EnginePreset{"sglang", "requestsWaiting", kReq, true, kSglangWaiting, ""},
    EnginePreset{"sglang", "requestsRunning", kReq, true,
                 R"(sum(sglang:num_running_reqs{namespace="${namespace}",pod=~"${pods}"}))", ""},
    EnginePreset{"sglang", "timeToFirstTokenP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(sglang:time_to_first_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "timeToFirstTokenP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(sglang:time_to_first_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "interTokenLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(sglang:inter_token_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "interTokenLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(sglang:inter_token_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "e2eLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(sglang:e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "e2eLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(sglang:e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "queueTimeP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(sglang:queue_time_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"sglang", "queueTimeP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(sglang:queue_time_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},

    // ---- trtllm (trtllm-serve) ----
    EnginePreset{"trtllm", "kvCacheUtilization", kPct, true,
                 R"(avg(trtllm_kv_cache_utilization{namespace="${namespace}",pod=~"${pods}"}) * 100)",
                 "needs enable_iter_perf_stats"},
    EnginePreset{"trtllm", "requestsWaiting", kReq, true, kTrtllmWaiting, "needs enable_iter_perf_stats"},
    EnginePreset{"trtllm", "requestsRunning", kReq, true,
                 R"(sum(trtllm_num_requests_running{namespace="${namespace}",pod=~"${pods}"}))",
                 "needs enable_iter_perf_stats"},
    EnginePreset{"trtllm", "timeToFirstTokenP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(trtllm_time_to_first_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"trtllm", "timeToFirstTokenP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(trtllm_time_to_first_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"trtllm", "interTokenLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(trtllm_time_per_output_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 kPerRequestTpot},
    EnginePreset{"trtllm", "interTokenLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(trtllm_time_per_output_token_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 kPerRequestTpot},
    EnginePreset{"trtllm", "e2eLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(trtllm_e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"trtllm", "e2eLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(trtllm_e2e_request_latency_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"trtllm", "queueTimeP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(trtllm_request_queue_time_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"trtllm", "queueTimeP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(trtllm_request_queue_time_seconds_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},

    // ---- triton ----
    // The TensorRT-LLM backend's block gauges: "fraction" where the backend
    // exports it, else used / max. The `or` ignores kv_cache_block_type (the
    // division has none), so a pod with both counts once.
    EnginePreset{"triton", "kvCacheUtilization", kPct, true,
                 R"(avg(nv_trt_llm_kv_cache_block_metrics{namespace="${namespace}",pod=~"${pods}",kv_cache_block_type="fraction"} or ignoring(kv_cache_block_type) (nv_trt_llm_kv_cache_block_metrics{namespace="${namespace}",pod=~"${pods}",kv_cache_block_type="used"} / ignoring(kv_cache_block_type) nv_trt_llm_kv_cache_block_metrics{namespace="${namespace}",pod=~"${pods}",kv_cache_block_type="max"})) * 100)",
                 "TensorRT-LLM backend only; kv_cache_block_type fraction, else used / max"},
    EnginePreset{"triton", "requestsWaiting", kReq, true, kTritonWaiting,
                 "requests waiting for the backend, every model of the pod"},
    EnginePreset{"triton", "requestsRunning", kReq, true,
                 R"(sum(nv_trt_llm_request_metrics{namespace="${namespace}",pod=~"${pods}",request_type="active"}))",
                 "TensorRT-LLM backend only"},
    EnginePreset{"triton", "gpuUtilization", kPct, true,
                 R"(avg(nv_gpu_utilization{namespace="${namespace}",pod=~"${pods}"}) * 100)",
                 "Triton's own DCGM reading, 0-1 per GPU"},
    EnginePreset{"triton", "timeToFirstTokenP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(nv_inference_first_response_histogram_ms_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))))",
                 "first response time, needs --metrics-config histogram_latencies=true; coarse default buckets"},
    EnginePreset{"triton", "timeToFirstTokenP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(nv_inference_first_response_histogram_ms_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))))",
                 "first response time, needs --metrics-config histogram_latencies=true; coarse default buckets"},
    // Means from the default counters: the time's rate over the rate of
    // successful requests (each request counts once, a batch too), in us.
    EnginePreset{"triton", "e2eLatencyMean", kMs, true,
                 R"(sum(rate(nv_inference_request_duration_us{namespace="${namespace}",pod=~"${pods}"}[2m])) / sum(rate(nv_inference_request_success{namespace="${namespace}",pod=~"${pods}"}[2m])) / 1000)",
                 "a mean from counters, not a quantile; every model of the pod; NaN (no data) without requests"},
    EnginePreset{"triton", "queueTimeMean", kMs, true,
                 R"(sum(rate(nv_inference_queue_duration_us{namespace="${namespace}",pod=~"${pods}"}[2m])) / sum(rate(nv_inference_request_success{namespace="${namespace}",pod=~"${pods}"}[2m])) / 1000)",
                 "a mean from counters, not a quantile; every model of the pod; NaN (no data) without requests"},

    // ---- tgi ----
    EnginePreset{"tgi", "requestsWaiting", kReq, true, kTgiWaiting, ""},
    EnginePreset{"tgi", "requestsRunning", kReq, true,
                 R"(sum(tgi_batch_current_size{namespace="${namespace}",pod=~"${pods}"}))",
                 "the size of the batch being generated"},
    EnginePreset{"tgi", "interTokenLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(tgi_request_mean_time_per_token_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 kPerRequestTpot},
    EnginePreset{"tgi", "interTokenLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(tgi_request_mean_time_per_token_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 kPerRequestTpot},
    EnginePreset{"tgi", "e2eLatencyP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(tgi_request_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"tgi", "e2eLatencyP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(tgi_request_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"tgi", "queueTimeP95", kMs, true,
                 R"(histogram_quantile(0.95, sum by (le) (rate(tgi_request_queue_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},
    EnginePreset{"tgi", "queueTimeP99", kMs, true,
                 R"(histogram_quantile(0.99, sum by (le) (rate(tgi_request_queue_duration_bucket{namespace="${namespace}",pod=~"${pods}"}[2m]))) * 1000)",
                 ""},

    // ---- dcgm (dcgm-exporter with its pod mapping) ----
    EnginePreset{"dcgm", "gpuUtilization", kPct, true,
                 R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}",pod=~"${pods}"}))",
                 "percent of time a kernel ran: near 100 whenever any kernel runs"},
    EnginePreset{"dcgm", "graphicsEngineActive", kPct, true,
                 R"(avg(DCGM_FI_PROF_GR_ENGINE_ACTIVE{namespace="${namespace}",pod=~"${pods}"}) * 100)",
                 "a profiling metric (0-1)"},
    EnginePreset{"dcgm", "smActive", kPct, true,
                 R"(avg(DCGM_FI_PROF_SM_ACTIVE{namespace="${namespace}",pod=~"${pods}"}) * 100)",
                 "a profiling metric (0-1), not in dcgm-exporter's default counters"},
    EnginePreset{"dcgm", "framebufferUsed", kPct, true,
                 R"(avg(DCGM_FI_DEV_FB_USED{namespace="${namespace}",pod=~"${pods}"} / (DCGM_FI_DEV_FB_USED{namespace="${namespace}",pod=~"${pods}"} + DCGM_FI_DEV_FB_FREE{namespace="${namespace}",pod=~"${pods}"})) * 100)",
                 "used / (used + free) per GPU"},

    // ---- llm-d (its EPP, in front of an InferencePool named as the target) ----
    EnginePreset{"llm-d", "requestsWaiting", kReq, false, kLlmdWaiting,
                 "requests held by the EPP's flow control (flowControl feature gate); pool-level"},
    EnginePreset{"llm-d", "requestsRunning", kReq, false,
                 R"(sum(llm_d_epp_request_running{namespace="${namespace}"}) or sum(llm_d_router_epp_running_requests{namespace="${namespace}"}) or sum(inference_objective_running_requests{namespace="${namespace}"}))",
                 "labelled by model, not by pool: every EPP of the namespace"},
    EnginePreset{"llm-d", "kvCacheUtilization", kPct, false,
                 R"((max(llm_d_epp_average_kv_cache_utilization{namespace="${namespace}",name="${target}"}) or max(llm_d_router_epp_average_kv_cache_utilization{namespace="${namespace}",name="${target}"}) or max(inference_pool_average_kv_cache_utilization{namespace="${namespace}",name="${target}"})) * 100)",
                 "the EPP's average over the pool's ready endpoints"},
    EnginePreset{"llm-d", "poolSaturation", kPctOfCapacity, false,
                 R"((max(llm_d_epp_flow_control_pool_saturation{namespace="${namespace}",inference_pool="${target}"}) or max(llm_d_router_epp_flow_control_pool_saturation{namespace="${namespace}",inference_pool="${target}"}) or max(inference_extension_flow_control_pool_saturation{namespace="${namespace}",inference_pool="${target}"})) * 100)",
                 "100 = saturated; above 100 flow control is throttling"},
};

constexpr std::array<std::string_view, 7> kEngines{"vllm", "sglang", "trtllm", "triton", "tgi", "dcgm", "llm-d"};

}  // namespace

std::span<const EnginePreset> enginePresets() noexcept { return kPresets; }

std::span<const std::string_view> knownEngines() noexcept { return kEngines; }

bool isKnownEngine(std::string_view engine) noexcept {
  for (const std::string_view known : kEngines) {
    if (known == engine) {
      return true;
    }
  }
  return false;
}

const EnginePreset* findPreset(std::string_view engine, std::string_view signal) noexcept {
  for (const EnginePreset& preset : kPresets) {
    if (preset.engine == engine && preset.signal == signal) {
      return &preset;
    }
  }
  return nullptr;
}

std::string engineSignalList(std::string_view engine) {
  std::string list;
  for (const EnginePreset& preset : kPresets) {
    if (preset.engine != engine) {
      continue;
    }
    if (!list.empty()) {
      list += ", ";
    }
    list += preset.signal;
  }
  return list;
}

EngineDefaults engineDefaults(std::string_view engine) noexcept {
  // GPU utilization stays the seed's DCGM query everywhere: it is what DCGM
  // gives and every engine runs beside it. Triton has no latency histogram by
  // default (its means are no quantiles), DCGM no latency or queue, llm-d's
  // EPP no per-pool latency.
  if (engine == "vllm") {
    return {kVllmE2eSeconds, {}, kVllmWaiting};
  }
  if (engine == "sglang") {
    return {kSglangE2eSeconds, {}, kSglangWaiting};
  }
  if (engine == "trtllm") {
    return {kTrtllmE2eSeconds, {}, kTrtllmWaiting};
  }
  if (engine == "triton") {
    return {{}, {}, kTritonWaiting};
  }
  if (engine == "tgi") {
    return {kTgiE2eSeconds, {}, kTgiWaiting};
  }
  if (engine == "llm-d") {
    return {{}, {}, kLlmdWaiting};
  }
  return {};
}

}  // namespace kubeai::core
