#pragma once

#include <span>
#include <string>
#include <string_view>

namespace kubeai::core {

// The serving engines' own metrics as named signals (spec.metrics.custom[].engine
// + signal, and spec.metrics.engine for the seed four): one table, which
// validation, the Prometheus source and docs/metrics.md all read.

// The unit a preset's query returns, after normalisation: utilizations in
// percent (vLLM's 0.8 is 80), latencies in milliseconds, request counts.
// Two kinds of percent: kPercent is a share of something that is full at 100
// (a GPU's time, a KV cache), so 100 shows that the pods are full and never by
// how much the load is over them; kPercentOfCapacity is the load over the
// capacity, which passes 100 with the load (llm-d's pool saturation: the
// waiting queue over its threshold), so above 100 it still measures it.
enum class MetricUnit { kNone, kPercent, kPercentOfCapacity, kMilliseconds, kRequests };

// "percent" (both kinds), "ms", "requests"; "" for kNone (a query the user wrote).
inline std::string_view metricUnitName(MetricUnit unit) noexcept {
  switch (unit) {
    case MetricUnit::kPercent:
    case MetricUnit::kPercentOfCapacity: return "percent";
    case MetricUnit::kMilliseconds: return "ms";
    case MetricUnit::kRequests: return "requests";
    case MetricUnit::kNone: break;
  }
  return "";
}

struct EnginePreset {
  std::string_view engine;  // "vllm"
  std::string_view signal;  // "kvCacheUtilization"
  MetricUnit unit = MetricUnit::kNone;
  // False for pool-level signals (llm-d's gateway): not scoped to the target's
  // pods, so they also see demand while the workload is at zero.
  bool podScoped = true;
  // A PromQL template. ${namespace} and ${target} as in a policy's own
  // prometheusQuery; ${pods} stands for the regex of the target's pods
  // (source/prometheus targetPods()), substituted before expansion.
  std::string_view query;
  // For docs/metrics.md and validate: what the number is when it is not
  // what the signal's name suggests ("a mean from counters, not a quantile").
  std::string_view note;
};

// Every preset, grouped by engine in kEngines' order.
std::span<const EnginePreset> enginePresets() noexcept;

// "vllm", "sglang", "trtllm", "triton", "tgi", "dcgm", "llm-d".
std::span<const std::string_view> knownEngines() noexcept;
bool isKnownEngine(std::string_view engine) noexcept;

// The preset of engine x signal; nullptr when the engine lacks the signal.
const EnginePreset* findPreset(std::string_view engine, std::string_view signal) noexcept;

// "kvCacheUtilization, requestsWaiting, ..." (the signals `engine` offers), for
// the error that refuses a signal the engine does not have.
std::string engineSignalList(std::string_view engine);

// The default queries of the seed four under spec.metrics.engine: templates as
// the seed defaults are (latency returns seconds and holds ${quantile}; the
// source turns seconds into ms), each empty where the engine has nothing for
// that metric and the seed's default stays. GPU utilization is empty for every
// engine: the seed's default already reads DCGM. llm-d's requestQueueDepth is
// pool-level (its EPP's flow-control queue of the InferencePool named as the
// target, no ${pods}): expand it with the target's full name, not the cut
// name of its pods (source/prometheus engine_queries.h says how).
struct EngineDefaults {
  std::string_view latency;
  std::string_view gpuUtilization;
  std::string_view requestQueueDepth;
};
EngineDefaults engineDefaults(std::string_view engine) noexcept;

}  // namespace kubeai::core
