#include "simulate/engine_model.h"

#include <algorithm>
#include <array>
#include <cmath>

namespace kubeai::simulate {
namespace {

// Below this a rate or a time counts as zero: it keeps divisions by it finite.
constexpr double kTiny = 1e-12;
// -ln(1 - q) for the quantiles the presets read.
constexpr double kLogTail95 = 2.995732273553991;  // -ln(0.05)
constexpr double kLogTail99 = 4.605170185988091;  // -ln(0.01)
// Above this K the cache never limits (rho^K underflows to 0 for every
// rho <= kMaxStableUtilization); reported as unlimited.
constexpr double kUnlimitedAdmission = 1e15;

// Non-finite or negative -> 0; huge -> kMaxModelValue.
double sane(double value) noexcept {
  if (!(value > 0)) {  // also NaN
    return 0;
  }
  return std::min(value, kMaxModelValue);
}

double sane(const std::optional<double>& value) noexcept { return value ? sane(*value) : 0; }

// What one replica sees at utilization rho, admission limit K.
struct ReplicaQueue {
  double rhoPowK = 0;  // P(N >= K): an arrival waits
  double logRho = 0;   // ln(rho); -inf at rho = 0
  double running = 0;  // E[min(N, K)]
  double waiting = 0;  // E[(N - K)+]
};

ReplicaQueue replicaQueue(double rho, double admission) noexcept {
  ReplicaQueue queue;
  if (rho <= 0) {
    queue.logRho = -HUGE_VAL;
    return queue;
  }
  queue.logRho = std::log(rho);
  // rho^K through exp(K ln rho): no loop, no overflow; K = inf gives exp(-inf) = 0.
  queue.rhoPowK = std::exp(admission * queue.logRho);
  const double inSystem = rho / (1 - rho);  // E[N]; rho <= kMaxStableUtilization keeps 1 - rho >= 0.02
  queue.waiting = inSystem * queue.rhoPowK;
  queue.running = std::max(0.0, inSystem - queue.waiting);
  return queue;
}

// The q-quantile of the batch an arriving request joins (N + 1 by PASTA,
// continuous): the smallest m with 1 - rho^m >= q, kept within [1, K].
double batchQuantile(const ReplicaQueue& queue, double logTail, double admission) noexcept {
  if (!(queue.logRho < 0) || std::isinf(queue.logRho)) {
    return 1;
  }
  return std::clamp(logTail / -queue.logRho, 1.0, std::max(1.0, admission));
}

// Wait before admission, quantile q: P(W > t) = rho^K e^{-mu (1 - rho) t}.
// `sojournSeconds` = 1 / (mu (1 - rho)).
double waitQuantileSeconds(const ReplicaQueue& queue, double logTail, double sojournSeconds, double admission) noexcept {
  if (queue.rhoPowK <= 0) {
    return 0;
  }
  // ln(rho^K / (1 - q)) = K ln rho + (-ln(1 - q)).
  return std::max(0.0, admission * queue.logRho + logTail) * sojournSeconds;
}

}  // namespace

EngineMetrics advanceEngine(const Capacity& capacity, EngineState& state, const EngineInput& input) {
  EngineMetrics out;
  const double lambda = sane(input.requestsPerSecond);
  const double contextTokens = sane(input.meanContextTokens);
  const double generatedTokens = sane(input.meanGeneratedTokens);
  const double tokensPerRequest = contextTokens + generatedTokens;
  const bool tokenCountsKnown = tokensPerRequest > kTiny;
  double dt = sane(input.seconds);
  if (dt < kTiny) {
    dt = 0;
  }
  const double backlog = sane(state.backlog);
  const double replicas = static_cast<double>(std::max<std::int32_t>(input.readyReplicas, 0));

  // mu: the replica's request rate, at most what its token rate allows.
  double mu = sane(capacity.requestsPerSecond);
  const double tokenRate = sane(capacity.tokensPerSecond);
  if (tokenRate > 0 && tokenCountsKnown) {
    mu = std::min(mu, tokenRate / tokensPerRequest);
  }
  if (mu < kTiny) {
    mu = 0;
  }
  out.serviceRate = mu;

  // K: the requests whose KV tokens fit the cache; a request holds its
  // context and, on average over its decoding, half its generated tokens.
  const double kvTokensPerRequest = contextTokens + generatedTokens / 2;
  const double kvCacheTokens = sane(capacity.kvCacheTokens);
  const bool kvKnown = kvCacheTokens > 0 && kvTokensPerRequest > kTiny;
  double admission = HUGE_VAL;
  if (kvKnown) {
    admission = std::max(1.0, std::floor(kvCacheTokens / kvTokensPerRequest));
    if (admission < kUnlimitedAdmission) {
      out.admissionLimit = admission;
    } else {
      admission = HUGE_VAL;
    }
  }

  // The fluid backlog: the interval offers lambda dt + B, the pool serves at
  // most S dt of it, the rest is carried.
  const double poolRate = replicas * mu;  // c mu
  const double ceiling = kMaxStableUtilization * poolRate;  // S
  const double drainRate = dt > 0 ? backlog / dt : 0;
  const double offered = lambda + drainRate;
  const double served = std::min(offered, ceiling);
  // All of it served: exactly none left. B + (lambda - served) dt would leave
  // a rounding residue (1e-15) that reads as a backlog, and so as a GPU at
  // 100 % for ever after.
  const double nextBacklog = dt <= 0                ? backlog
                             : offered <= ceiling ? 0.0
                                                  : std::min(kMaxModelValue, std::max(0.0, backlog + (lambda - ceiling) * dt));
  state.backlog = nextBacklog;
  out.offeredRequestsPerSecond = lambda;
  out.servedRequestsPerSecond = served;
  out.backlog = nextBacklog;

  const bool demand = lambda > 0 || nextBacklog > 0;
  if (poolRate <= 0) {
    // No ready replica (or none that serves): the EPP holds every request,
    // fails closed on saturation and keeps its last KV-cache reading.
    out.poolRequestsWaiting = nextBacklog;
    out.poolRequestsRunning = 0;
    state.poolKvCacheUtilizationPercent = std::min(100.0, sane(state.poolKvCacheUtilizationPercent));
    out.poolKvCacheUtilizationPercent = state.poolKvCacheUtilizationPercent;
    out.poolSaturationPercent = demand ? 100.0 : 0.0;
    if (replicas > 0) {
      // Pods that exist but serve nothing (no capacity): all demand waits.
      out.requestsWaiting = nextBacklog;
      out.requestsRunning = 0;
      out.gpuUtilizationPercent = demand ? 100.0 : 0.0;
    }
    return out;
  }

  const double load = offered / poolRate;  // a
  const double rho = std::min(load, kMaxStableUtilization);
  out.utilization = rho;
  const ReplicaQueue queue = replicaQueue(rho, admission);
  const double decay = mu * (1 - rho);  // the sojourn's exponential rate
  const double sojournSeconds = 1 / decay;  // its mean; divisions are the cost here, so one
  const double drainSeconds = nextBacklog / poolRate;

  out.requestsRunning = replicas * queue.running;
  out.requestsWaiting = replicas * queue.waiting + nextBacklog;
  // Busy all the time while a backlog is left; otherwise the share of the
  // capacity the interval's requests used.
  out.gpuUtilizationPercent = nextBacklog > 0 ? 100.0 : std::min(100.0, 100 * offered / poolRate);

  out.e2eLatencyMeanMs = 1000 * (sojournSeconds + drainSeconds);
  out.e2eLatencyP95Ms = 1000 * (kLogTail95 * sojournSeconds + drainSeconds);
  out.e2eLatencyP99Ms = 1000 * (kLogTail99 * sojournSeconds + drainSeconds);
  const double queueP95 = waitQuantileSeconds(queue, kLogTail95, sojournSeconds, admission) + drainSeconds;
  const double queueP99 = waitQuantileSeconds(queue, kLogTail99, sojournSeconds, admission) + drainSeconds;
  out.queueTimeMeanMs = 1000 * (queue.rhoPowK * sojournSeconds + drainSeconds);
  out.queueTimeP95Ms = 1000 * queueP95;
  out.queueTimeP99Ms = 1000 * queueP99;

  // The token rate that mu means (so that TTFT + Lg inter-token gaps is the
  // service time 1/mu of a request alone); without token counts, the given one.
  const double tokensPerSecond = tokenCountsKnown ? mu * tokensPerRequest : tokenRate;
  if (tokensPerSecond > kTiny) {
    const double tokenSeconds = 1 / tokensPerSecond;
    const double batch95 = batchQuantile(queue, kLogTail95, admission);
    const double batch99 = batchQuantile(queue, kLogTail99, admission);
    out.interTokenLatencyP95Ms = 1000 * batch95 * tokenSeconds;
    out.interTokenLatencyP99Ms = 1000 * batch99 * tokenSeconds;
    if (tokenCountsKnown) {
      out.timeToFirstTokenP95Ms = 1000 * (queueP95 + contextTokens * batch95 * tokenSeconds);
      out.timeToFirstTokenP99Ms = 1000 * (queueP99 + contextTokens * batch99 * tokenSeconds);
    }
  }

  if (kvKnown) {
    const double kv = 100 * std::min(1.0, queue.running * kvTokensPerRequest / kvCacheTokens);
    out.kvCacheUtilizationPercent = kv;
    state.poolKvCacheUtilizationPercent = kv;
    out.poolKvCacheUtilizationPercent = kv;
  }
  out.poolRequestsWaiting = out.requestsWaiting;
  out.poolRequestsRunning = out.requestsRunning;
  // The demand over the ready capacity, the backlog left out: 100 means the
  // replicas are just enough for the demand (MaxRatio on it asks for
  // ceil(lambda / mu) replicas), whatever queue earlier intervals left.
  // 100 lambda / (c mu) in this order: 11 on 10 is exactly 110, as a hand would have it.
  out.poolSaturationPercent = std::min(100 * lambda / poolRate, kMaxModelValue);
  return out;
}

namespace {

struct SignalName {
  std::string_view name;
  EngineSignal pod;
  std::optional<EngineSignal> pool;  // its form at the pool (llm-d), if any
};

constexpr std::array kSignalNames{
    // The seed four.
    SignalName{"latencyP99", EngineSignal::kE2eLatencyP99, std::nullopt},
    SignalName{"latencyP95", EngineSignal::kE2eLatencyP95, std::nullopt},
    SignalName{"gpuUtilization", EngineSignal::kGpuUtilization, std::nullopt},
    SignalName{"requestQueueDepth", EngineSignal::kRequestsWaiting, EngineSignal::kPoolRequestsWaiting},
    // The presets (core/engine_presets.cc).
    SignalName{"requestsWaiting", EngineSignal::kRequestsWaiting, EngineSignal::kPoolRequestsWaiting},
    SignalName{"requestsRunning", EngineSignal::kRequestsRunning, EngineSignal::kPoolRequestsRunning},
    SignalName{"kvCacheUtilization", EngineSignal::kKvCacheUtilization, EngineSignal::kPoolKvCacheUtilization},
    SignalName{"timeToFirstTokenP95", EngineSignal::kTimeToFirstTokenP95, std::nullopt},
    SignalName{"timeToFirstTokenP99", EngineSignal::kTimeToFirstTokenP99, std::nullopt},
    SignalName{"interTokenLatencyP95", EngineSignal::kInterTokenLatencyP95, std::nullopt},
    SignalName{"interTokenLatencyP99", EngineSignal::kInterTokenLatencyP99, std::nullopt},
    SignalName{"e2eLatencyP95", EngineSignal::kE2eLatencyP95, std::nullopt},
    SignalName{"e2eLatencyP99", EngineSignal::kE2eLatencyP99, std::nullopt},
    SignalName{"e2eLatencyMean", EngineSignal::kE2eLatencyMean, std::nullopt},
    SignalName{"queueTimeP95", EngineSignal::kQueueTimeP95, std::nullopt},
    SignalName{"queueTimeP99", EngineSignal::kQueueTimeP99, std::nullopt},
    SignalName{"queueTimeMean", EngineSignal::kQueueTimeMean, std::nullopt},
    // DCGM's activity counters are the model's one GPU utilization.
    SignalName{"graphicsEngineActive", EngineSignal::kGpuUtilization, std::nullopt},
    SignalName{"smActive", EngineSignal::kGpuUtilization, std::nullopt},
    SignalName{"framebufferUsed", EngineSignal::kFramebufferUsed, std::nullopt},
    // Pool-level by nature: the same asked either way.
    SignalName{"poolSaturation", EngineSignal::kPoolSaturation, EngineSignal::kPoolSaturation},
};

}  // namespace

std::optional<EngineSignal> engineSignalId(std::string_view signal, bool podScoped) noexcept {
  for (const SignalName& entry : kSignalNames) {
    if (entry.name == signal) {
      return podScoped ? std::optional<EngineSignal>(entry.pod) : entry.pool;
    }
  }
  return std::nullopt;
}

std::optional<double> engineSignalValue(const EngineMetrics& metrics, EngineSignal signal) noexcept {
  switch (signal) {
    case EngineSignal::kE2eLatencyMean: return metrics.e2eLatencyMeanMs;
    case EngineSignal::kE2eLatencyP95: return metrics.e2eLatencyP95Ms;
    case EngineSignal::kE2eLatencyP99: return metrics.e2eLatencyP99Ms;
    case EngineSignal::kQueueTimeMean: return metrics.queueTimeMeanMs;
    case EngineSignal::kQueueTimeP95: return metrics.queueTimeP95Ms;
    case EngineSignal::kQueueTimeP99: return metrics.queueTimeP99Ms;
    case EngineSignal::kTimeToFirstTokenP95: return metrics.timeToFirstTokenP95Ms;
    case EngineSignal::kTimeToFirstTokenP99: return metrics.timeToFirstTokenP99Ms;
    case EngineSignal::kInterTokenLatencyP95: return metrics.interTokenLatencyP95Ms;
    case EngineSignal::kInterTokenLatencyP99: return metrics.interTokenLatencyP99Ms;
    case EngineSignal::kRequestsWaiting: return metrics.requestsWaiting;
    case EngineSignal::kRequestsRunning: return metrics.requestsRunning;
    case EngineSignal::kKvCacheUtilization: return metrics.kvCacheUtilizationPercent;
    case EngineSignal::kGpuUtilization: return metrics.gpuUtilizationPercent;
    // The framebuffer's load-dependent part is the KV cache (docs/simulate.md).
    case EngineSignal::kFramebufferUsed: return metrics.kvCacheUtilizationPercent;
    case EngineSignal::kPoolRequestsWaiting: return metrics.poolRequestsWaiting;
    case EngineSignal::kPoolRequestsRunning: return metrics.poolRequestsRunning;
    case EngineSignal::kPoolKvCacheUtilization: return metrics.poolKvCacheUtilizationPercent;
    case EngineSignal::kPoolSaturation: return metrics.poolSaturationPercent;
  }
  return std::nullopt;
}

std::string_view engineSignalMissingInput(EngineSignal signal, const Capacity& capacity,
                                          bool tokenCountsKnown) noexcept {
  switch (signal) {
    case EngineSignal::kTimeToFirstTokenP95:
    case EngineSignal::kTimeToFirstTokenP99:
      return tokenCountsKnown ? "" : "token counts in the demand (an arrivals trace)";
    case EngineSignal::kInterTokenLatencyP95:
    case EngineSignal::kInterTokenLatencyP99:
      return tokenCountsKnown || sane(capacity.tokensPerSecond) > 0
                 ? ""
                 : "token counts in the demand (an arrivals trace) or capacity.tokensPerSecond";
    case EngineSignal::kKvCacheUtilization:
    case EngineSignal::kFramebufferUsed:
    case EngineSignal::kPoolKvCacheUtilization:
      if (sane(capacity.kvCacheTokens) <= 0) {
        return tokenCountsKnown ? "capacity.kvCacheTokens"
                                : "capacity.kvCacheTokens and token counts in the demand (an arrivals trace)";
      }
      return tokenCountsKnown ? "" : "token counts in the demand (an arrivals trace)";
    default: return "";
  }
}

SignalValue engineSignal(const EngineMetrics& metrics, std::string_view signal, bool podScoped) {
  const std::optional<EngineSignal> id = engineSignalId(signal, podScoped);
  if (!id) {
    return {};
  }
  return SignalValue{true, engineSignalValue(metrics, *id)};
}

}  // namespace kubeai::simulate
