#include "telemetry/telemetry.h"

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "telemetry/metric_series.h"
#include "telemetry/policy_series.h"

namespace kubeai::telemetry {
namespace {

using detail::Direction;
using detail::PolicyStatus;
using detail::PolicyValues;
using detail::kStoreStates;
using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

// Error types that are states rather than failed steps (EvaluationListener::onError).
constexpr std::string_view kStaleError = "stale";
constexpr std::string_view kPluginUnavailableError = "plugin_unavailable";
constexpr std::string_view kInvalidError = "invalid";

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
  std::shared_ptr<detail::PolicySeriesCollector> policySeries = std::make_shared<detail::PolicySeriesCollector>();

  Family<Histogram>& reconcileDuration = prometheus::BuildHistogram()
                                             .Name("kubeai_autoscaler_reconcile_duration_seconds")
                                             .Help("Time taken by one policy evaluation")
                                             .Register(*registry);
  Family<Histogram>& cycleDuration =
      prometheus::BuildHistogram()
          .Name("kubeai_scaler_evaluation_cycle_seconds")
          .Help("Time taken by one evaluation cycle: reading every policy's metrics, then deciding for each")
          .Register(*registry);
  Family<Histogram>& partialDuration =
      prometheus::BuildHistogram()
          .Name("kubeai_scaler_partial_evaluation_seconds")
          .Help("Time taken by one evaluation of some policies only (an edit of them, their metrics-file entries "
                "changed), between cycles")
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
  Histogram& partialDurationSeries = partialDuration.Add({}, latencyBuckets());
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
  const detail::DecidedMetrics metrics = detail::decidedMetrics(policy, decision, observation);
  const double lastScaleSeconds =
      lastScaleTime ? std::chrono::duration<double>(lastScaleTime->time_since_epoch()).count() : detail::kNoValue;
  const auto direction = static_cast<std::size_t>(directionOf(decision));
  // A value the exposition cannot say as a number is no series.
  const auto finiteOrNone = [](double value) { return std::isfinite(value) ? value : detail::kNoValue; };
  const double forecastReplicas =
      decision.forecast ? finiteOrNone(decision.forecast->forecastReplicas) : detail::kNoValue;
  const double forecastHorizon = decision.forecast ? finiteOrNone(decision.forecast->horizonSeconds) : detail::kNoValue;
  const std::int8_t panicActive = decision.panic ? static_cast<std::int8_t>(decision.panic->panicking ? 1 : 0) : -1;
  const std::int32_t readyReplicas =
      decision.readyReplicas && *decision.readyReplicas >= 0 ? *decision.readyReplicas : -1;

  state_->policySeries->update(policy.metadata.namespace_, policy.metadata.name, [&](PolicyValues& values) {
    ++values.decisions[direction];
    values.decided = true;
    values.currentReplicas = decision.currentReplicas;
    values.desiredReplicas = decision.desiredReplicas;
    values.cooldownActive = cooldownActive;
    // Replaced by every decision: an algorithm that is no longer Predictive or
    // Burst (or ready replicas no longer known) loses its series at once.
    values.readyReplicas = readyReplicas;
    values.forecastReplicas = forecastReplicas;
    values.forecastHorizonSeconds = forecastHorizon;
    values.panicActive = panicActive;
    values.target = policy.spec.targetRef.name;
    detail::assignMetrics(values.metrics, metrics);
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
      // Nothing is decided on it any more, and the refused spec may name other metrics
      // or another algorithm.
      values.metrics.clear();
      values.forecastReplicas = detail::kNoValue;
      values.forecastHorizonSeconds = detail::kNoValue;
      values.panicActive = -1;
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

void Telemetry::recordPartialEvaluation(double seconds) { state_->partialDurationSeries.Observe(seconds); }

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
