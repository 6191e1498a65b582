#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm_explanation.h"
#include "core/algorithm_memory.h"
#include "core/metric_slot.h"

namespace kubeai::core {

// The stage that last changed the recommendation on its way to the published
// value; it becomes the ScalingLimited condition and a log field.
enum class LimitedBy {
  kNone,
  kMinReplicas,
  kMaxReplicas,
  kScaleUpPolicy,
  kScaleDownPolicy,
  kStabilization,
  kCooldown,
};

// "minReplicas", "maxReplicas", "scaleUpPolicy", "scaleDownPolicy",
// "stabilization", "cooldown"; "" for kNone.
std::string_view limitedByName(LimitedBy limitedBy) noexcept;

// What was decided for one policy, and why.
struct Decision {
  std::int32_t currentReplicas = 0;      // observed: the target's spec.replicas
  std::optional<std::int32_t> readyReplicas;  // observed: status.readyReplicas, when known
  // The replicas the per-pod ratios were counted on: currentReplicas, or the
  // ready ones (at least 1) while replicas are starting under spec.startupAware.
  std::int32_t servingReplicas = 0;
  // What behaviour worked from: currentReplicas, or our own change still on
  // its way to the workload (then the two differ).
  std::int32_t anchorReplicas = 0;
  std::int32_t recommendedReplicas = 0;  // the algorithm's answer, before behaviour and min/max
  std::int32_t desiredReplicas = 0;      // the value to publish
  // Per slot, present slots only, as the algorithm saw them: while replicas
  // start (servingReplicas < currentReplicas) a per-pod metric's value/target
  // times servingReplicas / currentReplicas.
  SlotRatios ratios{};
  SlotValues values{};                   // per enabled slot: what was read (nullopt: no data)
  std::optional<double> ratio;           // the value the algorithm turned on, if it has one
  std::string requestedAlgorithm;
  std::string algorithm;                 // the one used (MaxRatio when the requested is unknown)
  bool algorithmValid = true;            // false: requested algorithm unknown
  std::string algorithmError;            // non-empty: the algorithm failed and the decision held
  std::string algorithmErrorReason;      // its Error::reason ("PluginCrashed": the plugin's process failed)
  // Non-empty: the algorithm cannot serve at all (a plugin that keeps failing):
  // the policy is not servable, and this says why.
  std::string algorithmUnservable;
  std::string reason;
  LimitedBy limitedBy = LimitedBy::kNone;
  // Predictive's forecast and Burst's panic state, when one of them decided.
  std::optional<ForecastExplanation> forecast;
  std::optional<PanicExplanation> panic;
  // Predictive's model of every metric after this decision, which the status
  // keeps so that a restart resumes it (PublishedSeed): with a forecast, and
  // as they stood when Predictive held without metrics (no forecast).
  std::vector<HoltState> forecastModels;
  // How long this workload's replicas took to become ready, when measured.
  std::optional<std::chrono::milliseconds> measuredStartup;
};

}  // namespace kubeai::core
