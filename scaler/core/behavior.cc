#include "core/behavior.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <utility>

namespace kubeai::core {
namespace {

using std::chrono::seconds;

constexpr std::int64_t kMaxReplicas = std::numeric_limits<std::int32_t>::max();

std::int32_t saturate(std::int64_t value) {
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(value, 0, kMaxReplicas));
}

// The replicas this policy's decisions moved within `periodSeconds` before
// `now` (the HPA's getReplicasChangePerPeriod).
std::int64_t changedWithin(const std::vector<TimedReplicas>& events, std::int32_t periodSeconds, TimePoint now) {
  const TimePoint cutoff = now - seconds(periodSeconds);
  std::int64_t total = 0;
  for (const auto& event : events) {
    if (event.at > cutoff) {
      total += event.replicas;
    }
  }
  return total;
}

// Where a period of `periodSeconds` started: the anchor less what our
// decisions added within it, plus what they removed.
std::int64_t periodStart(std::int32_t anchor, const History& history, std::int32_t periodSeconds, TimePoint now) {
  return std::int64_t{anchor} - changedWithin(history.scaleUpEvents, periodSeconds, now) +
         changedWithin(history.scaleDownEvents, periodSeconds, now);
}

std::int32_t proposeUp(const ScalingPolicy& policy, std::int64_t start) {
  if (policy.type == ScalingPolicyType::kPods) {
    return saturate(start + policy.value);
  }
  // ceil(start * (1 + value/100)) in integers: in floating point 25 * 1.12
  // is 28.000000000000004 and would allow 29. Rounded up, as the HPA does, so
  // that a small percentage of a small count still allows one more replica.
  const std::int64_t scaled = std::max<std::int64_t>(start, 0) * (100 + std::int64_t{policy.value});
  return saturate((scaled + 99) / 100);
}

std::int32_t proposeDown(const ScalingPolicy& policy, std::int64_t start) {
  if (policy.type == ScalingPolicyType::kPods) {
    return saturate(start - policy.value);
  }
  // floor(start * (1 - value/100)) in integers: in floating point 10 * 0.2 is
  // 1.9999999999999996 and would allow 1 instead of 2.
  if (policy.value >= 100) {
    return 0;
  }
  return saturate(start * (100 - std::int64_t{policy.value}) / 100);
}

std::int32_t windowSeconds(const std::optional<ScalingRules>& rules) {
  return rules ? rules->stabilizationWindowSeconds : 0;
}

std::int32_t longestPeriodSeconds(const std::optional<ScalingRules>& rules) {
  std::int32_t longest = 0;
  if (rules) {
    for (const auto& policy : rules->policies) {
      longest = std::max(longest, policy.periodSeconds);
    }
  }
  return longest;
}

std::int32_t longestPeriodSeconds(const PolicySpec& spec) {
  return std::max(longestPeriodSeconds(spec.scaleUp), longestPeriodSeconds(spec.scaleDown));
}

// A move of `change` replicas (> 0 up, < 0 down) at `at`. Kept only when a
// rate policy can need it: both directions count in every period's start.
void recordMove(History& history, const PolicySpec& spec, TimePoint at, std::int64_t change) {
  if (change == 0 || longestPeriodSeconds(spec) == 0) {
    return;
  }
  auto& events = change > 0 ? history.scaleUpEvents : history.scaleDownEvents;
  events.push_back({at, static_cast<std::int32_t>(std::min<std::int64_t>(std::llabs(change), kMaxReplicas))});
}

template <typename Timed>
void dropOlderThan(std::vector<Timed>& events, std::int32_t periodSeconds, TimePoint now) {
  const TimePoint cutoff = now - seconds(periodSeconds);
  std::erase_if(events, [&](const Timed& event) { return event.at <= cutoff; });
}

int sign(std::int64_t value) { return (value > 0) - (value < 0); }

}  // namespace

Anchor anchorOn(const History& history, std::int32_t currentReplicas, TimePoint now,
                std::chrono::milliseconds reactionTime) {
  Anchor anchor;
  anchor.replicas = currentReplicas;
  if (!history.inFlight) {
    return anchor;
  }
  ChangeInFlight change = *history.inFlight;
  const std::int64_t before = std::int64_t{change.lastSeen} - change.replicas;
  const std::int64_t gap = std::int64_t{currentReplicas} - change.replicas;
  if (gap == 0) {
    return anchor;  // reached: done
  }
  if (sign(gap) != sign(before) || std::llabs(gap) > std::llabs(before)) {
    anchor.dropped = change;  // overshot or moved away: the world's value wins
    return anchor;
  }
  if (std::llabs(gap) < std::llabs(before)) {
    change.since = now;  // moving towards it: still on its way
    change.lastSeen = currentReplicas;
  }
  anchor.onItsWay = now - change.since < reactionTime;
  if (anchor.onItsWay) {
    anchor.replicas = change.replicas;
  }
  anchor.change = change;
  return anchor;
}

void settle(History& history, const ChangeInFlight& change) {
  const auto ours = [&](const TimedReplicas& event) { return event.at >= change.startedAt; };
  std::erase_if(history.scaleUpEvents, ours);
  std::erase_if(history.scaleDownEvents, ours);
  const std::int64_t moved = std::int64_t{change.lastSeen} - change.from;
  if (moved != 0) {
    auto& events = moved > 0 ? history.scaleUpEvents : history.scaleDownEvents;
    events.push_back({change.startedAt, static_cast<std::int32_t>(std::llabs(moved))});
  }
}

std::int32_t stabilize(std::int32_t recommendation, std::int32_t anchor, const History& history,
                       const PolicySpec& spec, TimePoint now) {
  const TimePoint upCutoff = now - seconds(windowSeconds(spec.scaleUp));
  const TimePoint downCutoff = now - seconds(windowSeconds(spec.scaleDown));

  std::int32_t upFloor = recommendation;      // lowest recent recommendation: how far up we may go
  std::int32_t downCeiling = recommendation;  // highest recent recommendation: how far down we may go
  for (const auto& past : history.recommendations) {
    if (past.at > upCutoff) {
      upFloor = std::min(upFloor, past.replicas);
    }
    if (past.at > downCutoff) {
      downCeiling = std::max(downCeiling, past.forecastUntil > now ? past.replicas : past.reactive);
    }
  }
  if (const auto& initial = history.initialRecommendation; initial && initial->at > downCutoff) {
    downCeiling = std::max(downCeiling, initial->replicas);
  }
  return std::clamp(anchor, upFloor, downCeiling);
}

std::optional<std::int32_t> scaleUpLimit(const ScalingRules& rules, std::int32_t anchor, const History& history,
                                         TimePoint now) {
  if (rules.selectPolicy == SelectPolicy::kDisabled) {
    return anchor;
  }
  if (rules.policies.empty()) {
    return std::nullopt;
  }
  std::optional<std::int32_t> limit;
  for (const auto& policy : rules.policies) {
    const std::int32_t proposed = proposeUp(policy, periodStart(anchor, history, policy.periodSeconds, now));
    if (!limit) {
      limit = proposed;
    } else if (rules.selectPolicy == SelectPolicy::kMax) {
      limit = std::max(*limit, proposed);  // the most permissive: the highest ceiling
    } else {
      limit = std::min(*limit, proposed);
    }
  }
  // Changes used up within the period must not force a scale-down, and a
  // workload at zero may always wake one replica: a Percent of 0 is 0, which
  // would otherwise keep a scaled-to-zero workload asleep under load for good.
  return std::max({*limit, anchor, std::int32_t{1}});
}

std::optional<std::int32_t> scaleDownLimit(const ScalingRules& rules, std::int32_t anchor, const History& history,
                                           TimePoint now) {
  if (rules.selectPolicy == SelectPolicy::kDisabled) {
    return anchor;
  }
  if (rules.policies.empty()) {
    return std::nullopt;
  }
  std::optional<std::int32_t> limit;
  for (const auto& policy : rules.policies) {
    const std::int32_t proposed = proposeDown(policy, periodStart(anchor, history, policy.periodSeconds, now));
    if (!limit) {
      limit = proposed;
    } else if (rules.selectPolicy == SelectPolicy::kMax) {
      limit = std::min(*limit, proposed);  // the most permissive: the lowest floor
    } else {
      limit = std::max(*limit, proposed);
    }
  }
  return std::min(*limit, anchor);
}

RateLimited limitRate(std::int32_t desired, std::int32_t anchor, const History& history, const PolicySpec& spec,
                      TimePoint now) {
  if (desired > anchor && spec.scaleUp) {
    const auto limit = scaleUpLimit(*spec.scaleUp, anchor, history, now);
    if (limit && desired > *limit) {
      return {*limit, LimitedBy::kScaleUpPolicy};
    }
  } else if (desired < anchor && spec.scaleDown) {
    const auto limit = scaleDownLimit(*spec.scaleDown, anchor, history, now);
    if (limit && desired < *limit) {
      return {*limit, LimitedBy::kScaleDownPolicy};
    }
  }
  return {desired, LimitedBy::kNone};
}

History recordDecision(History history, const PolicySpec& spec, TimePoint now, const Anchor& anchor,
                       std::int32_t currentReplicas, const TimedRecommendation& recommendation,
                       std::int32_t published) {
  History next = std::move(history);
  next.published = published;
  next.inFlight = anchor.change;
  if (published != anchor.held()) {
    recordMove(next, spec, now, std::int64_t{published} - anchor.replicas);
    next.lastChangeAt = now;
    next.inFlight.reset();
    if (published != currentReplicas) {
      // A change on top of one on its way continues that run: its events add up from the same start.
      const bool continues = anchor.onItsWay && anchor.change;
      next.inFlight = ChangeInFlight{published,
                                     continues ? anchor.change->from : currentReplicas,
                                     continues ? anchor.change->startedAt : now,
                                     now,
                                     currentReplicas,
                                     false};
    }
  }
  const std::int32_t longestPeriod = longestPeriodSeconds(spec);
  dropOlderThan(next.scaleUpEvents, longestPeriod, now);
  dropOlderThan(next.scaleDownEvents, longestPeriod, now);

  const std::int32_t longestWindow = std::max(windowSeconds(spec.scaleUp), windowSeconds(spec.scaleDown));
  dropOlderThan(next.recommendations, longestWindow, now);
  if (longestWindow > 0) {
    // Equal neighbours (replicas and reactive) say the same in every window as
    // one entry at the later time with the longer look ahead of the two.
    auto& kept = next.recommendations;
    if (!kept.empty() && kept.back().replicas == recommendation.replicas &&
        kept.back().reactive == recommendation.reactive) {
      kept.back().at = recommendation.at;
      kept.back().forecastUntil = std::max(kept.back().forecastUntil, recommendation.forecastUntil);
    } else {
      kept.push_back(recommendation);
    }
  }
  if (next.initialRecommendation && next.initialRecommendation->at <= now - seconds(windowSeconds(spec.scaleDown))) {
    next.initialRecommendation.reset();
  }
  return next;
}

}  // namespace kubeai::core
