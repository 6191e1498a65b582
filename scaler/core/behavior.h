#pragma once

#include <cstdint>
#include <optional>

#include "core/decision.h"
#include "core/history.h"
#include "core/policy.h"

namespace kubeai::core {

// The behaviour stages of the pipeline, as free functions over plain values
// (after Kubernetes' horizontal.go, without its clock reads and its locks).
// `base` is the value last published, or the current replicas when there is
// no history.

// HPA stabilization: the recommendation is pulled towards `base`, no lower than
// the minimum recommendation in the scale-up window and no higher than the
// maximum in the scale-down window (both windows include `recommendation`).
std::int32_t stabilize(std::int32_t recommendation, std::int32_t base, const History& history,
                       const PolicySpec& spec, TimePoint now);

// The highest value scale-up policies allow now, or nullopt for no limit
// (no policies). Disabled allows nothing above `base`. Never below `base`,
// and never below 1: waking from zero is not rate-limited.
std::optional<std::int32_t> scaleUpLimit(const ScalingRules& rules, std::int32_t base, const History& history,
                                         TimePoint now);

// The lowest value scale-down policies allow now, or nullopt for no limit.
// Disabled allows nothing below `base`. Never above `base`.
std::optional<std::int32_t> scaleDownLimit(const ScalingRules& rules, std::int32_t base, const History& history,
                                           TimePoint now);

struct RateLimited {
  std::int32_t replicas = 0;
  LimitedBy limitedBy = LimitedBy::kNone;  // kScaleUpPolicy, kScaleDownPolicy or kNone
};

// Applies spec.scaleUp / spec.scaleDown rate policies to a move from `base`.
RateLimited limitRate(std::int32_t desired, std::int32_t base, const History& history, const PolicySpec& spec,
                      TimePoint now);

// The history after publishing `published` at `now` for `recommendation`,
// keeping only what the policy's windows and periods can still need. Takes the
// history by value so a caller that is done with it can move it in.
History recordDecision(History history, const PolicySpec& spec, TimePoint now, std::int32_t currentReplicas,
                       std::int32_t recommendation, std::int32_t published);

}  // namespace kubeai::core
