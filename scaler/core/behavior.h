#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/decision.h"
#include "core/history.h"
#include "core/policy.h"

namespace kubeai::core {

// The behaviour stages of the pipeline, as free functions over plain values
// (after Kubernetes' horizontal.go, without its clock reads and its locks).
// Every stage works from the anchor: the observed current replicas, or our own
// change while it is still on its way (see Anchor).

struct Anchor {
  std::int32_t replicas = 0;  // what behaviour treats as the current replicas
  // Our last change while it stands: not reached, and not moved away from by
  // the workload nor contradicted by the metrics.
  std::optional<ChangeInFlight> change;
  bool onItsWay = false;  // `change` counts as current (then `replicas` is its value)
  // A change that stopped standing without being reached this decision: its
  // scale events are to be cut to what the workload moved (settle()).
  std::optional<ChangeInFlight> dropped;

  // What this policy publishes if nothing new is decided: the standing
  // change, else the anchor. Cooldown holds it; a decision equal to it is no
  // change.
  [[nodiscard]] std::int32_t held() const { return change ? change->replicas : replicas; }
};

// Where a decision at `now` stands. Our last change is on its way (counts as
// current) while the current replicas have not reached it, are not moving
// away from it, and either it was published or the workload last moved
// towards it less than `reactionTime` ago (the HPA reaches a large change in
// steps, under its own rate limits). Reached, it is done; moved away from or
// overshot, it is the world moving the workload (KEDA's fallback, `kubectl
// scale`): the current replicas win at once, and the change is dropped. Past
// the reaction time with the workload where it was (a paused ScaledObject, an
// HPA window), the current replicas are the anchor again and the change only
// stands.
Anchor anchorOn(const History& history, std::int32_t currentReplicas, TimePoint now,
                std::chrono::milliseconds reactionTime);

// Cuts the scale events of `change` (those since change.startedAt) to one
// event of what the workload really moved from change.from to
// change.lastSeen: a change never made uses up no rate-policy period.
void settle(History& history, const ChangeInFlight& change);

// HPA stabilization (stabilizeRecommendationWithBehaviors): the anchor,
// brought to no lower than the lowest recommendation in the scale-up window
// and no higher than the highest in the scale-down window (both windows
// include `recommendation`; the scale-down window includes the first-sight
// recommendation, and counts one a forecast raised whole only until its
// forecastUntil, its reactive answer after). So a scale-up never returns less
// than the anchor, and a scale-down never more.
std::int32_t stabilize(std::int32_t recommendation, std::int32_t anchor, const History& history,
                       const PolicySpec& spec, TimePoint now);

// Each rate policy's period starts at the anchor minus the replicas this
// policy's decisions added within it, plus those they removed (the HPA's
// calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors).

// The highest value scale-up policies allow now, or nullopt for no limit (no
// policies). Disabled allows nothing above the anchor. Never below the
// anchor, and never below 1: waking from zero is not rate-limited.
std::optional<std::int32_t> scaleUpLimit(const ScalingRules& rules, std::int32_t anchor, const History& history,
                                         TimePoint now);

// The lowest value scale-down policies allow now, or nullopt for no limit.
// Disabled allows nothing below the anchor. Never above the anchor.
std::optional<std::int32_t> scaleDownLimit(const ScalingRules& rules, std::int32_t anchor, const History& history,
                                           TimePoint now);

struct RateLimited {
  std::int32_t replicas = 0;
  LimitedBy limitedBy = LimitedBy::kNone;  // kScaleUpPolicy, kScaleDownPolicy or kNone
};

// Applies spec.scaleUp / spec.scaleDown rate policies to a move from the anchor.
RateLimited limitRate(std::int32_t desired, std::int32_t anchor, const History& history, const PolicySpec& spec,
                      TimePoint now);

// The history after publishing `published` at `now`, from `anchor`, for
// `recommendation` (as stabilization saw it), with `currentReplicas` observed:
// a published value other than anchor.held() is a change — a scale event of
// its move from the anchor, the last change time, and a change on its way
// until the workload reaches it. Keeps only what the policy's windows and
// periods can still need. Takes the history by value so a caller that is done
// with it can move it in.
History recordDecision(History history, const PolicySpec& spec, TimePoint now, const Anchor& anchor,
                       std::int32_t currentReplicas, const TimedRecommendation& recommendation,
                       std::int32_t published);

}  // namespace kubeai::core
