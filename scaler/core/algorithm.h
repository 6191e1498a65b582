#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/algorithm_explanation.h"
#include "core/algorithm_memory.h"
#include "core/history.h"
#include "core/metric_slot.h"
#include "core/result.h"

namespace kubeai::core {

// One present metric: its slot and its current/target ratio (finite, >= 0).
struct MetricRatio {
  MetricSlot slot;
  double ratio;
};

// One present metric in full, beside its ratio: what plugins of ABI 1.1 see.
// The texts are views of NUL-terminated strings that outlive the call
// (literals, or strings of the policy): the plugin ABI hands them on as they
// are, so whoever makes a MetricDetail keeps to that.
struct MetricDetail {
  MetricSlot slot = MetricSlot::kLatencyP99;
  std::string_view name;        // metricSlotName(slot)
  double value = 0.0;           // as read: ms, percent, requests (all replicas)
  std::string_view unit;        // "ms", "percent", "requests"
  double target = 0.0;          // in the same unit (per replica for the queue)
  std::string_view targetType;  // "Value", "Utilization", "AverageValue"
  double ratio = 0.0;
  bool capped = false;  // a percentage that is full at 100: MetricTarget::capped
};

// Why an algorithm is called: a plugin counting "N cycles in a row" must tell
// serve's timed cycles from the re-evaluations a change triggers.
enum class CallReason : std::int32_t {
  kCycle = 0,      // serve, every --interval
  kTriggered = 1,  // serve, at once after a policy, the metrics or a plugin changed
  kEvaluate = 2,   // the evaluate command (and tests): one decision, nothing kept
  kSimulate = 3,   // the simulate command, in simulated time
};

using AlgorithmParameters = std::map<std::string, std::string, std::less<>>;

// Everything an algorithm may look at; the seed's ScalingInput plus the slots,
// the policy's weights and its algorithm.parameters. Views are valid only for
// the duration of compute().
struct AlgorithmInput {
  std::int32_t currentReplicas = 0;
  std::int32_t minReplicas = 0;
  std::int32_t maxReplicas = 0;
  std::span<const MetricRatio> ratios;  // present slots only, in slot order, never empty
  double tolerance = 0.1;
  std::span<const double> weights;
  std::string_view policyName;
  std::string_view policyNamespace;
  const AlgorithmParameters* parameters = nullptr;  // never null when called by decide()
  // The same metrics as `ratios`, in full.
  std::span<const MetricDetail> metrics{};
  TimePoint now{};  // the evaluation time (simulated under simulate)
  CallReason reason = CallReason::kEvaluate;
  std::uint64_t cycle = 0;  // serve's cycle number (from 1), simulate's step; 0 under evaluate
  // The target's ready replicas, when the source gives them.
  std::optional<std::int32_t> readyReplicas{};
  // The replicas serving the load the ratios describe: currentReplicas, or the
  // ready ones (at least 1) while replicas are starting under
  // spec.startupAware. The ratios of per-pod metrics are already scaled by
  // servingReplicas / currentReplicas, so ceil(currentReplicas x ratio) is the
  // demand and the replicas on their way count as capacity.
  std::int32_t servingReplicas = 0;
  // The ready replicas are known and spec.startupAware counts them: the
  // ratios describe the demand whatever the replicas still starting.
  bool readyCounted = false;
  // How long this workload's replicas took to become ready, when measured.
  std::optional<std::chrono::milliseconds> measuredStartup{};
  // The policy's state for built-ins that look through time (in its History);
  // null where none is kept. Plugins keep theirs in their own state slot.
  AlgorithmMemory* memory = nullptr;
};

// What validateParameters() checks before a policy's first use.
struct ValidateInput {
  std::string_view policyName;
  std::string_view policyNamespace;
  const AlgorithmParameters* parameters = nullptr;  // never null
  std::span<const double> weights{};
};

struct AlgorithmOutput {
  std::int32_t desiredReplicas = 0;
  std::string reason;
  // The single value the decision turned on (max/mean/weighted ratio), when the
  // algorithm has one; a plugin of ABI 1.1 may report it.
  std::optional<double> ratio;
  // The algorithm kept the current replicas on purpose (within tolerance, no
  // weight), rather than computing the same number: while our own change is on
  // its way to the workload, a hold keeps that change (core::decide()).
  bool held = false;
  // What Predictive and Burst saw, for the decision's explanation.
  std::optional<ForecastExplanation> forecast;
  std::optional<PanicExplanation> panic;
};

// A scaling algorithm: a built-in or a plugin. compute() may be called
// concurrently, for the same and for different policies.
class ScalingAlgorithm {
 public:
  virtual ~ScalingAlgorithm() = default;

  // The name policies use in spec.algorithm.name.
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  // The desired replicas before behaviour and min/max, with a reason. An Error
  // makes the decision hold the current replicas and say why.
  [[nodiscard]] virtual Result<AlgorithmOutput> compute(const AlgorithmInput& input) const = 0;

  // Checks spec.algorithm.parameters before a policy's first use (validate,
  // evaluate, serve); an Error refuses the policy with its message.
  [[nodiscard]] virtual Status validateParameters(const ValidateInput& /*input*/) const { return Ok{}; }

  // False for an algorithm that reads no spec.algorithm.parameters at all
  // (the ratio built-ins): validate warns that any given are ignored.
  [[nodiscard]] virtual bool takesParameters() const noexcept { return true; }

  // The policy is gone, or uses another algorithm now: drop what was kept for
  // it (a plugin's state slot).
  virtual void forgetPolicy(std::string_view /*ns*/, std::string_view /*name*/) const {}

  // Why this algorithm cannot serve at all just now (a plugin that keeps
  // failing), or nullopt. After a failed compute(), decide() asks: a policy
  // whose algorithm is unservable answers UNAVAILABLE, so KEDA's fallback applies.
  [[nodiscard]] virtual std::optional<std::string> unservableReason() const { return std::nullopt; }
};

}  // namespace kubeai::core
