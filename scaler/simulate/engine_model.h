#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "simulate/workload.h"

namespace kubeai::simulate {

// The engine model of docs/simulate.md (section "The engine model", which has
// every formula and why), one evaluation interval at a time.
// Pure: no I/O, no clock, no randomness, no allocation.
//
// Each ready replica is a processor-sharing server (continuous batching: the
// requests it runs share its throughput mu) that admits at most K requests
// at once (the KV cache); beyond K requests wait. The router spreads demand
// evenly over the c ready replicas, so each is an M/M/1 queue. Demand the
// replicas cannot take at kMaxStableUtilization accumulates as a fluid
// backlog B, which drains at the spare capacity.
//   mu    = requestsPerSecond, at most tokensPerSecond / (Lc + Lg)
//   K     = floor(kvCacheTokens / (Lc + Lg/2)), at least 1; unlimited without
//           kvCacheTokens or token counts
//   S     = kMaxStableUtilization c mu                  the most the pool serves
//   a     = (lambda + B/dt) / (c mu)                    the interval's offered load
//   rho   = min(a, kMaxStableUtilization)
//   served = rho c mu = min(lambda + B/dt, S),  B' = B + (lambda - served) dt
// Closed forms (N, the requests at a replica, is geometric: P(N = n) = (1 - rho) rho^n):
//   running per replica  E[min(N,K)] = rho (1 - rho^K) / (1 - rho)
//   waiting per replica  E[(N-K)+]   = rho^(K+1) / (1 - rho)
//   drain time           D = B' / (c mu)
//   e2e quantile q       -ln(1 - q) / (mu (1 - rho)) + D          (mean 1 / (mu (1 - rho)) + D)
//   queue quantile q     max(0, ln(rho^K / (1 - q))) / (mu (1 - rho)) + D   (mean rho^K / (mu (1 - rho)) + D)
//   batch quantile q     m_q = clamp(ln(1 - q) / ln(rho), 1, K)   (the requests a request shares the replica with)
//   inter-token q        m_q / T,  T = mu (Lc + Lg) (the token rate mu allows), else tokensPerSecond
//   TTFT quantile q      queue quantile q + Lc m_q / T
//   KV cache             100 min(1, running per replica (Lc + Lg/2) / kvCacheTokens)
//   GPU utilization      100 min(1, a); 100 while a backlog is left (B' > 0)
//   pool saturation      100 lambda / (c mu) (llm-d; the backlog left out)
// With no ready replica nothing is served, B grows by lambda dt, and the
// pod-scoped signals have no data (no pod to scrape); pool-level ones (llm-d) do.
// No input gives NaN or infinity: negative or non-finite inputs count as 0,
// huge ones are clamped (kMaxModelValue).
inline constexpr double kMaxStableUtilization = 0.98;
// Inputs above this (rates, tokens, seconds, the backlog) are clamped to it.
inline constexpr double kMaxModelValue = 1e12;

// What the model carries from one interval to the next.
struct EngineState {
  double backlog = 0;  // requests, the fluid backlog B
  // llm-d's EPP refreshes its average KV-cache gauge only while the pool has
  // ready endpoints: with none it keeps the last value, as this does.
  double poolKvCacheUtilizationPercent = 0;
};

// The interval's input.
struct EngineInput {
  double seconds = 15;
  double requestsPerSecond = 0;   // lambda, the demand
  double meanContextTokens = 0;   // Lc; 0 (with Lg 0): unknown
  double meanGeneratedTokens = 0; // Lg
  std::int32_t readyReplicas = 0;  // c
};

// Every signal the model produces, at the end of the interval. Latencies in
// ms, utilizations in percent (0-100), requests as counts. nullopt: no data
// (no ready replica for a pod-scoped signal; no token counts for TTFT; no
// token counts or kvCacheTokens for the KV cache; neither token counts nor
// tokensPerSecond for the inter-token latency).
struct EngineMetrics {
  double offeredRequestsPerSecond = 0;  // lambda
  double servedRequestsPerSecond = 0;   // served, over the interval
  double backlog = 0;                   // B' (requests)
  double serviceRate = 0;               // mu, requests per second of one ready replica
  std::optional<double> admissionLimit; // K; nullopt: unlimited
  std::optional<double> utilization;    // rho, 0-kMaxStableUtilization, of the ready replicas

  std::optional<double> e2eLatencyMeanMs, e2eLatencyP95Ms, e2eLatencyP99Ms;
  std::optional<double> queueTimeMeanMs, queueTimeP95Ms, queueTimeP99Ms;
  std::optional<double> timeToFirstTokenP95Ms, timeToFirstTokenP99Ms;
  std::optional<double> interTokenLatencyP95Ms, interTokenLatencyP99Ms;
  std::optional<double> requestsWaiting;  // total, backlog included
  std::optional<double> requestsRunning;  // total
  std::optional<double> kvCacheUtilizationPercent;
  std::optional<double> gpuUtilizationPercent;
  // Pool-level (llm-d's EPP): present with no ready replica too. The model
  // does not split where a request waits (EPP or engine): waiting is the total.
  std::optional<double> poolRequestsWaiting;
  std::optional<double> poolRequestsRunning;
  std::optional<double> poolKvCacheUtilizationPercent;  // the last value with no ready replica
  std::optional<double> poolSaturationPercent;  // 100 lambda / (c mu); 100 with demand and no replica, 0 idle
};

// Advances `state` by one interval and returns the metrics seen at its end.
EngineMetrics advanceEngine(const Capacity& capacity, EngineState& state, const EngineInput& input);

// A signal of the model, resolved from its name once (engineSignalId) and read
// every interval (engineSignalValue) without comparing strings.
enum class EngineSignal : std::uint8_t {
  kE2eLatencyMean,
  kE2eLatencyP95,
  kE2eLatencyP99,
  kQueueTimeMean,
  kQueueTimeP95,
  kQueueTimeP99,
  kTimeToFirstTokenP95,
  kTimeToFirstTokenP99,
  kInterTokenLatencyP95,
  kInterTokenLatencyP99,
  kRequestsWaiting,
  kRequestsRunning,
  kKvCacheUtilization,
  kGpuUtilization,
  kFramebufferUsed,
  kPoolRequestsWaiting,
  kPoolRequestsRunning,
  kPoolKvCacheUtilization,
  kPoolSaturation,
};

// The signal a policy's name means: the seed four (latencyP99 -> e2e p99,
// latencyP95 -> e2e p95, gpuUtilization, requestQueueDepth -> requests
// waiting) and every preset signal of core/engine_presets (requestsWaiting,
// kvCacheUtilization, smActive, ...). `podScoped` = false picks the pool-level
// form (llm-d's presets); a signal with no pool-level form (a latency, the GPU)
// is then unknown, as is a name the model does not produce.
std::optional<EngineSignal> engineSignalId(std::string_view signal, bool podScoped = true) noexcept;
std::optional<double> engineSignalValue(const EngineMetrics& metrics, EngineSignal signal) noexcept;

// What the model cannot produce `signal` without, for an error before a run
// ("capacity.kvCacheTokens"); empty when the workload has all it needs.
// `tokenCountsKnown`: the demand has token counts (an arrivals trace).
std::string_view engineSignalMissingInput(EngineSignal signal, const Capacity& capacity,
                                          bool tokenCountsKnown) noexcept;

// Both at once. known == false: the model cannot produce that signal.
struct SignalValue {
  bool known = false;
  std::optional<double> value;
};
SignalValue engineSignal(const EngineMetrics& metrics, std::string_view signal, bool podScoped = true);

}  // namespace kubeai::simulate
