#include "telemetry/telemetry.h"

#include <prometheus/client_metric.h>
#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/metric_slot.h"

namespace kubeai::telemetry {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

enum class Direction : std::size_t { kUp = 0, kDown = 1, kNone = 2 };
constexpr std::array<const char*, 3> kDirectionNames = {"up", "down", "none"};

// Indexed by core::MetricSlot; the original project's label values.
constexpr std::array<const char*, core::kMetricSlotCount> kMetricTypeNames = {
    "latency_p99", "latency_p95", "gpu_utilization", "request_queue_depth"};

constexpr std::array<const char*, 4> kStoreStates = {"pending", "ready", "stale", "invalid"};

// A policy's state, indexing kStoreStates; kUnknown until the first call about it.
enum class PolicyStatus : std::uint8_t { kPending = 0, kReady = 1, kStale = 2, kInvalid = 3, kUnknown = 4 };

// Error types that are states rather than failed steps (EvaluationListener::onError).
constexpr std::string_view kStaleError = "stale";
constexpr std::string_view kPluginUnavailableError = "plugin_unavailable";
constexpr std::string_view kInvalidError = "invalid";
// The stale reason when no failed step was recorded before it (not expected).
constexpr std::string_view kUnknownReason = "unknown";

// grpc::StatusCode 0..16, in order (grpc/impl/codegen/status_code_enum.h).
constexpr std::array<std::string_view, 17> kGrpcCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
};
constexpr int kGrpcUnknown = 2;

std::size_t grpcCodeIndex(int grpcCode) noexcept {
  if (grpcCode < 0 || grpcCode >= static_cast<int>(kGrpcCodeNames.size())) grpcCode = kGrpcUnknown;
  return static_cast<std::size_t>(grpcCode);
}

// An evaluation is pure computation over a few numbers (microseconds), unless
// a plugin is slow; a gRPC answer comes from memory. Both share the range
// 10 µs .. 1 s; anything slower lands in +Inf and is a problem to look at.
Histogram::BucketBoundaries latencyBuckets() {
  return {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0};
}

// A cycle reads every policy's metrics (Prometheus round trips, bounded by
// --prometheus-timeout) and evaluates them all: 1 ms .. 30 s.
Histogram::BucketBoundaries cycleBuckets() {
  return {1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0};
}

Direction directionOf(const core::Decision& decision) noexcept {
  if (decision.desiredReplicas > decision.currentReplicas) return Direction::kUp;
  if (decision.desiredReplicas < decision.currentReplicas) return Direction::kDown;
  return Direction::kNone;
}

// The metric block of a slot is configured and enabled.
bool slotEnabled(const core::MetricsSpec& metrics, core::MetricSlot slot) noexcept {
  switch (slot) {
    case core::MetricSlot::kLatencyP99:
    case core::MetricSlot::kLatencyP95: return metrics.latency && metrics.latency->enabled;
    case core::MetricSlot::kGpuUtilization: return metrics.gpuUtilization && metrics.gpuUtilization->enabled;
    case core::MetricSlot::kRequestQueueDepth:
      return metrics.requestQueueDepth && metrics.requestQueueDepth->enabled;
  }
  return false;
}

std::optional<double> slotTarget(const core::MetricsSpec& metrics, core::MetricSlot slot) {
  switch (slot) {
    case core::MetricSlot::kLatencyP99: return metrics.latency ? metrics.latency->targetP99Ms : std::nullopt;
    case core::MetricSlot::kLatencyP95: return metrics.latency ? metrics.latency->targetP95Ms : std::nullopt;
    case core::MetricSlot::kGpuUtilization:
      return metrics.gpuUtilization ? metrics.gpuUtilization->targetPercentage : std::nullopt;
    case core::MetricSlot::kRequestQueueDepth:
      return metrics.requestQueueDepth ? metrics.requestQueueDepth->targetDepth : std::nullopt;
  }
  return std::nullopt;
}

std::optional<double> slotValue(const core::Observation& observation, core::MetricSlot slot) {
  switch (slot) {
    case core::MetricSlot::kLatencyP99: return observation.latencyP99Ms;
    case core::MetricSlot::kLatencyP95: return observation.latencyP95Ms;
    case core::MetricSlot::kGpuUtilization: return observation.gpuUtilizationPercent;
    case core::MetricSlot::kRequestQueueDepth: return observation.requestQueueDepth;
  }
  return std::nullopt;
}

// NaN and Inf are "no data" (DESIGN §3), not a value to export.
std::optional<double> finite(std::optional<double> value) {
  if (value && !std::isfinite(*value)) return std::nullopt;
  return value;
}

// No series: NaN is never a value here, since non-finite input is "no data".
constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();
constexpr std::array<double, core::kMetricSlotCount> kNoValues = {kNoValue, kNoValue, kNoValue, kNoValue};

struct PolicyKey {
  std::string ns;
  std::string name;
  auto operator<=>(const PolicyKey&) const = default;
};

// What /metrics shows for one policy, as plain values (about 300 bytes with
// its map node). prometheus-cpp's own families would cost about 0.5 KiB per
// series and, worse, Family::Remove searches the whole family: with 10,000
// policies, deleting one took 33 ms (measured), holding the family locks that
// scrapes and recorders need.
struct PolicyValues {
  std::array<std::uint64_t, kDirectionNames.size()> decisions{};  // a direction never taken has no series
  bool decided = false;  // replicas and cooldown exist once a decision was recorded
  std::int32_t currentReplicas = 0;
  std::int32_t desiredReplicas = 0;
  bool cooldownActive = false;
  std::string target;
  std::array<double, core::kMetricSlotCount> metricValues = kNoValues;  // kNoValue: no series
  std::array<double, core::kMetricSlotCount> metricTargets = kNoValues;
  double lastScaleTimeSeconds = kNoValue;
  std::vector<std::pair<std::string, std::uint64_t>> errors;  // by error_type; rarely more than one
  PolicyStatus status = PolicyStatus::kUnknown;
  bool decisionInForce = false;  // the loop serves a decision: a failed read leaves the policy ready
  std::string failure;           // type of the last failed step since the last decision: the stale reason
};

// The per-policy families, exported from PolicyValues at scrape time.
class PolicySeriesCollector final : public prometheus::Collectable {
 public:
  // Calls `update` on the policy's values (created if new) under the lock.
  template <typename Update>
  void update(std::string_view ns, std::string_view name, Update&& update) {
    std::lock_guard lock(mutex_);
    PolicyKey key{std::string(ns), std::string(name)};
    update(policies_[std::move(key)]);
  }

  void remove(std::string_view ns, std::string_view name) {
    std::lock_guard lock(mutex_);
    policies_.erase(PolicyKey{std::string(ns), std::string(name)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  std::map<PolicyKey, PolicyValues> policies_;  // ordered: a stable exposition order
};

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily result;
  result.name = name;
  result.help = help;
  result.type = type;
  return result;
}

// The policy's labels plus one more, sorted by name as prometheus-cpp sorts them.
std::vector<prometheus::ClientMetric::Label> policyLabels(const PolicyKey& key, const char* extraName = nullptr,
                                                          std::string_view extraValue = {}) {
  std::vector<prometheus::ClientMetric::Label> labels;
  labels.reserve(3);
  labels.push_back({"namespace", key.ns});
  labels.push_back({"policy", key.name});
  if (extraName != nullptr) {
    const auto at = std::find_if(labels.begin(), labels.end(),
                                 [&](const prometheus::ClientMetric::Label& label) { return label.name > extraName; });
    labels.insert(at, {extraName, std::string(extraValue)});
  }
  return labels;
}

void addCounter(prometheus::MetricFamily& to, std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  to.metric.push_back(std::move(metric));
}

void addGauge(prometheus::MetricFamily& to, std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  to.metric.push_back(std::move(metric));
}

std::vector<prometheus::MetricFamily> PolicySeriesCollector::Collect() const {
  // Copied under the lock, exported outside it: recorders wait for a copy of
  // plain values, not for building the exposition.
  std::vector<std::pair<PolicyKey, PolicyValues>> snapshot;
  {
    std::lock_guard lock(mutex_);
    snapshot.assign(policies_.begin(), policies_.end());
  }
  using prometheus::MetricType;
  auto decisions = family("kubeai_autoscaler_scaling_decisions_total",
                          "Scaling decisions per policy, by direction of the desired against the current replicas",
                          MetricType::Counter);
  auto currentReplicas = family("kubeai_autoscaler_current_replicas",
                                "Replicas of the policy's target when it was last evaluated", MetricType::Gauge);
  auto desiredReplicas =
      family("kubeai_autoscaler_desired_replicas", "Replicas the policy asks KEDA for", MetricType::Gauge);
  auto metricValue = family("kubeai_autoscaler_metric_value",
                            "Last observed metric value (latency in ms, GPU utilization in percent, total queue depth)",
                            MetricType::Gauge);
  auto metricTarget =
      family("kubeai_autoscaler_metric_target",
             "Configured metric target (latency in ms, GPU utilization in percent, queue depth per replica)",
             MetricType::Gauge);
  auto reconcileErrors = family("kubeai_autoscaler_reconcile_errors_total",
                                "Failed policy evaluation steps, by error type", MetricType::Counter);
  auto cooldownActive = family("kubeai_autoscaler_cooldown_active",
                               "1 while the cooldown period holds the policy's current replicas", MetricType::Gauge);
  auto lastScaleTime = family("kubeai_autoscaler_last_scale_time_seconds",
                              "Unix time at which the policy's desired replicas last changed", MetricType::Gauge);
  auto policyState = family("kubeai_scaler_policy_state",
                            "1 for the policy's state: pending (no metrics yet), ready, stale (RPCs answer "
                            "UNAVAILABLE), invalid (refused)",
                            MetricType::Gauge);
  auto policyStale = family("kubeai_scaler_policy_stale",
                            "1 while the policy is stale (RPCs answer UNAVAILABLE), by the type of the failed step "
                            "that made it so",
                            MetricType::Gauge);

  for (const auto& [key, values] : snapshot) {
    for (std::size_t direction = 0; direction < values.decisions.size(); ++direction) {
      if (values.decisions[direction] == 0) continue;
      addCounter(decisions, policyLabels(key, "direction", kDirectionNames[direction]),
                 static_cast<double>(values.decisions[direction]));
    }
    if (values.decided) {
      addGauge(currentReplicas, policyLabels(key, "target", values.target), values.currentReplicas);
      addGauge(desiredReplicas, policyLabels(key, "target", values.target), values.desiredReplicas);
      addGauge(cooldownActive, policyLabels(key), values.cooldownActive ? 1.0 : 0.0);
    }
    for (std::size_t slot = 0; slot < core::kMetricSlotCount; ++slot) {
      if (!std::isnan(values.metricValues[slot])) {
        addGauge(metricValue, policyLabels(key, "metric_type", kMetricTypeNames[slot]), values.metricValues[slot]);
      }
      if (!std::isnan(values.metricTargets[slot])) {
        addGauge(metricTarget, policyLabels(key, "metric_type", kMetricTypeNames[slot]), values.metricTargets[slot]);
      }
    }
    if (!std::isnan(values.lastScaleTimeSeconds)) {
      addGauge(lastScaleTime, policyLabels(key), values.lastScaleTimeSeconds);
    }
    for (const auto& [errorType, count] : values.errors) {
      addCounter(reconcileErrors, policyLabels(key, "error_type", errorType), static_cast<double>(count));
    }
    if (values.status != PolicyStatus::kUnknown) {
      addGauge(policyState, policyLabels(key, "state", kStoreStates[static_cast<std::size_t>(values.status)]), 1.0);
    }
    if (values.status == PolicyStatus::kStale) {
      addGauge(policyStale,
               policyLabels(key, "reason", values.failure.empty() ? kUnknownReason : std::string_view(values.failure)),
               1.0);
    }
  }

  std::vector<prometheus::MetricFamily> families;
  families.reserve(10);
  for (auto* each : {&decisions, &currentReplicas, &desiredReplicas, &metricValue, &metricTarget, &reconcileErrors,
                     &cooldownActive, &lastScaleTime, &policyState, &policyStale}) {
    families.push_back(std::move(*each));
  }
  return families;
}

// Lets the per-RPC lookup take the method as a string_view, without allocating.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

struct RpcSeries {
  Histogram* duration = nullptr;
  std::array<Counter*, kGrpcCodeNames.size()> requestsByCode{};
};

}  // namespace

struct Telemetry::State {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<PolicySeriesCollector> policySeries = std::make_shared<PolicySeriesCollector>();

  Family<Histogram>& reconcileDuration = prometheus::BuildHistogram()
                                             .Name("kubeai_autoscaler_reconcile_duration_seconds")
                                             .Help("Time taken by one policy evaluation")
                                             .Register(*registry);
  Family<Histogram>& cycleDuration =
      prometheus::BuildHistogram()
          .Name("kubeai_scaler_evaluation_cycle_seconds")
          .Help("Time taken by one evaluation cycle: reading every policy's metrics, then deciding for each")
          .Register(*registry);
  Family<Counter>& grpcRequests = prometheus::BuildCounter()
                                      .Name("kubeai_scaler_grpc_requests_total")
                                      .Help("External-scaler gRPC calls answered, by method and status code")
                                      .Register(*registry);
  Family<Histogram>& grpcDuration = prometheus::BuildHistogram()
                                        .Name("kubeai_scaler_grpc_request_duration_seconds")
                                        .Help("Time taken to answer an external-scaler gRPC call")
                                        .Register(*registry);
  Family<Gauge>& policies = prometheus::BuildGauge()
                                .Name("kubeai_scaler_policies")
                                .Help("Loaded policies by state")
                                .Register(*registry);
  Family<Gauge>& pluginsLoaded = prometheus::BuildGauge()
                                     .Name("kubeai_scaler_plugins_loaded")
                                     .Help("Algorithm plugins loaded from the plugin directory")
                                     .Register(*registry);
  Family<Gauge>& pluginLoadErrors = prometheus::BuildGauge()
                                        .Name("kubeai_scaler_plugin_load_errors")
                                        .Help("Files in the plugin directory that failed to load")
                                        .Register(*registry);
  Family<Counter>& reloadErrors =
      prometheus::BuildCounter()
          .Name("kubeai_scaler_config_reload_errors_total")
          .Help("Configuration reloads that failed, by source; the last good state keeps serving")
          .Register(*registry);

  Histogram& reconcileDurationSeries = reconcileDuration.Add({}, latencyBuckets());
  Histogram& cycleDurationSeries = cycleDuration.Add({}, cycleBuckets());
  Gauge& pluginsLoadedSeries = pluginsLoaded.Add({});
  Gauge& pluginLoadErrorsSeries = pluginLoadErrors.Add({});

  // Read on every RPC, written once per (method, code): readers share the lock.
  std::shared_mutex rpcMutex;
  std::unordered_map<std::string, RpcSeries, StringHash, std::equal_to<>> rpcSeries;  // by method

  std::mutex statesMutex;
  std::map<std::string, Gauge*, std::less<>> policiesByState;

  State() {
    for (const char* state : kStoreStates) policiesByState.emplace(state, &policies.Add({{"state", state}}));
  }
};

Telemetry::Telemetry() : state_(std::make_unique<State>()) {}

Telemetry::~Telemetry() = default;

void Telemetry::recordDecision(const core::Policy& policy, const core::Decision& decision,
                               const core::Observation& observation, bool cooldownActive,
                               std::optional<core::TimePoint> lastScaleTime, double evaluationSeconds) {
  state_->reconcileDurationSeries.Observe(evaluationSeconds);

  // Everything is worked out before taking the lock, which only copies values.
  const core::MetricsSpec& metrics = policy.spec.metrics;
  std::array<double, core::kMetricSlotCount> metricValues = kNoValues;
  std::array<double, core::kMetricSlotCount> metricTargets = kNoValues;
  for (core::MetricSlot slot : core::kAllMetricSlots) {
    if (!slotEnabled(metrics, slot)) continue;
    const std::size_t index = core::slotIndex(slot);
    metricValues[index] = finite(slotValue(observation, slot)).value_or(kNoValue);
    metricTargets[index] = finite(slotTarget(metrics, slot)).value_or(kNoValue);
  }
  const double lastScaleSeconds =
      lastScaleTime ? std::chrono::duration<double>(lastScaleTime->time_since_epoch()).count() : kNoValue;
  const auto direction = static_cast<std::size_t>(directionOf(decision));

  state_->policySeries->update(policy.metadata.namespace_, policy.metadata.name, [&](PolicyValues& values) {
    ++values.decisions[direction];
    values.decided = true;
    values.currentReplicas = decision.currentReplicas;
    values.desiredReplicas = decision.desiredReplicas;
    values.cooldownActive = cooldownActive;
    values.target = policy.spec.targetRef.name;
    values.metricValues = metricValues;
    values.metricTargets = metricTargets;
    values.lastScaleTimeSeconds = lastScaleSeconds;
    values.status = PolicyStatus::kReady;
    values.decisionInForce = true;
    values.failure.clear();
  });
}

void Telemetry::recordError(std::string_view ns, std::string_view name, std::string_view errorType) {
  state_->policySeries->update(ns, name, [&](PolicyValues& values) {
    if (errorType == kStaleError) {
      values.status = PolicyStatus::kStale;
    } else if (errorType == kPluginUnavailableError) {
      // Not servable until the plugin answers again; the stale reason says why.
      values.status = PolicyStatus::kStale;
      values.failure.assign(errorType);
    } else if (errorType == kInvalidError) {
      // Refused: the loop forgets the policy, so a valid version starts pending.
      values.status = PolicyStatus::kInvalid;
      values.decisionInForce = false;
      values.failure.clear();
    } else {
      values.failure.assign(errorType);
      // Reported before "stale" in the same cycle: a stale policy stays stale.
      if (values.status != PolicyStatus::kStale) {
        values.status = values.decisionInForce ? PolicyStatus::kReady : PolicyStatus::kPending;
      }
    }
    for (auto& [type, count] : values.errors) {
      if (type == errorType) {
        ++count;
        return;
      }
    }
    values.errors.emplace_back(std::string(errorType), 1);
  });
}

void Telemetry::removePolicy(std::string_view ns, std::string_view name) { state_->policySeries->remove(ns, name); }

void Telemetry::recordRpc(std::string_view method, int grpcCode, double seconds) {
  const std::size_t code = grpcCodeIndex(grpcCode);
  Histogram* duration = nullptr;
  Counter* requests = nullptr;
  {
    std::shared_lock lock(state_->rpcMutex);
    const auto found = state_->rpcSeries.find(method);
    if (found != state_->rpcSeries.end()) {
      duration = found->second.duration;
      requests = found->second.requestsByCode[code];
    }
  }
  if (requests == nullptr) {  // first call of this method with this code
    std::unique_lock lock(state_->rpcMutex);
    RpcSeries& series = state_->rpcSeries[std::string(method)];
    if (series.duration == nullptr) {
      series.duration = &state_->grpcDuration.Add({{"method", std::string(method)}}, latencyBuckets());
    }
    if (series.requestsByCode[code] == nullptr) {
      series.requestsByCode[code] = &state_->grpcRequests.Add(
          {{"method", std::string(method)}, {"code", std::string(kGrpcCodeNames[code])}});
    }
    duration = series.duration;
    requests = series.requestsByCode[code];
  }
  // RPC series are never removed, so the pointers stay valid outside the lock.
  requests->Increment();
  duration->Observe(seconds);
}

void Telemetry::recordCycle(double seconds) { state_->cycleDurationSeries.Observe(seconds); }

void Telemetry::setPolicyStates(const std::map<std::string, std::size_t>& countsByState) {
  std::lock_guard lock(state_->statesMutex);
  for (auto& [state, gauge] : state_->policiesByState) {
    const auto found = countsByState.find(state);
    gauge->Set(found == countsByState.end() ? 0.0 : static_cast<double>(found->second));
  }
  for (const auto& [state, count] : countsByState) {
    if (state_->policiesByState.find(state) != state_->policiesByState.end()) continue;
    Gauge& gauge = state_->policies.Add({{"state", state}});
    gauge.Set(static_cast<double>(count));
    state_->policiesByState.emplace(state, &gauge);
  }
}

void Telemetry::setPlugins(std::size_t loaded, std::size_t failed) {
  state_->pluginsLoadedSeries.Set(static_cast<double>(loaded));
  state_->pluginLoadErrorsSeries.Set(static_cast<double>(failed));
}

void Telemetry::recordReloadError(std::string_view source) {
  // Family::Add returns the existing series for known labels; reloads are rare.
  state_->reloadErrors.Add({{"source", std::string(source)}}).Increment();
}

std::shared_ptr<prometheus::Registry> Telemetry::registry() const { return state_->registry; }

std::vector<std::shared_ptr<const prometheus::Collectable>> Telemetry::collectables() const {
  return {state_->registry, state_->policySeries};
}

std::string_view grpcCodeName(int grpcCode) noexcept { return kGrpcCodeNames[grpcCodeIndex(grpcCode)]; }

}  // namespace kubeai::telemetry
