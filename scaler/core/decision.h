#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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
  // What behaviour worked from: currentReplicas, or our own change still on
  // its way to the workload (then the two differ).
  std::int32_t anchorReplicas = 0;
  std::int32_t recommendedReplicas = 0;  // the algorithm's answer, before behaviour and min/max
  std::int32_t desiredReplicas = 0;      // the value to publish
  SlotRatios ratios{};                   // per slot; present slots only
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
};

}  // namespace kubeai::core
