#include "core/behavior.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

namespace kubeai::core {
namespace {

using std::chrono::seconds;

constexpr std::int64_t kMaxReplicas = std::numeric_limits<std::int32_t>::max();

std::int32_t saturate(std::int64_t value) {
  return static_cast<std::int32_t>(std::clamp<std::int64_t>(value, 0, kMaxReplicas));
}

// The replicas at the start of a policy's period. Without history the period
// starts where we are now.
std::int32_t periodStart(const ScalingPolicy& policy, std::int32_t base, const History& history, TimePoint now) {
  if (!history.published) {
    return base;
  }
  return history.publishedAt(now - seconds(policy.periodSeconds));
}

std::int32_t proposeUp(const ScalingPolicy& policy, std::int32_t start) {
  if (policy.type == ScalingPolicyType::kPods) {
    return saturate(std::int64_t{start} + policy.value);
  }
  // ceil(start * (1 + value/100)) in integers: in floating point 25 * 1.12
  // is 28.000000000000004 and would allow 29. Rounded up, as the HPA does, so
  // that a small percentage of a small count still allows one more replica.
  const std::int64_t scaled = std::int64_t{start} * (100 + std::int64_t{policy.value});
  return saturate((scaled + 99) / 100);
}

std::int32_t proposeDown(const ScalingPolicy& policy, std::int32_t start) {
  if (policy.type == ScalingPolicyType::kPods) {
    return saturate(std::int64_t{start} - policy.value);
  }
  // floor(start * (1 - value/100)) in integers: in floating point 10 * 0.2 is
  // 1.9999999999999996 and would allow 1 instead of 2.
  if (policy.value >= 100) {
    return 0;
  }
  return saturate(std::int64_t{start} * (100 - std::int64_t{policy.value}) / 100);
}

std::int32_t longestWindowSeconds(const PolicySpec& spec) {
  std::int32_t longest = 0;
  for (const auto* rules : {&spec.scaleUp, &spec.scaleDown}) {
    if (rules->has_value()) {
      longest = std::max(longest, (*rules)->stabilizationWindowSeconds);
    }
  }
  return longest;
}

std::int32_t longestPeriodSeconds(const PolicySpec& spec) {
  std::int32_t longest = 0;
  for (const auto* rules : {&spec.scaleUp, &spec.scaleDown}) {
    if (rules->has_value()) {
      for (const auto& policy : (*rules)->policies) {
        longest = std::max(longest, policy.periodSeconds);
      }
    }
  }
  return longest;
}

}  // namespace

std::int32_t stabilize(std::int32_t recommendation, std::int32_t base, const History& history,
                       const PolicySpec& spec, TimePoint now) {
  const std::int32_t upWindow = spec.scaleUp ? spec.scaleUp->stabilizationWindowSeconds : 0;
  const std::int32_t downWindow = spec.scaleDown ? spec.scaleDown->stabilizationWindowSeconds : 0;
  const TimePoint upCutoff = now - seconds(upWindow);
  const TimePoint downCutoff = now - seconds(downWindow);

  std::int32_t upFloor = recommendation;    // lowest recent recommendation: how far up we may go
  std::int32_t downCeiling = recommendation;  // highest recent recommendation: how far down we may go
  for (const auto& past : history.recommendations) {
    if (past.at > upCutoff) {
      upFloor = std::min(upFloor, past.replicas);
    }
    if (past.at > downCutoff) {
      downCeiling = std::max(downCeiling, past.replicas);
    }
  }
  return std::clamp(base, upFloor, downCeiling);
}

std::optional<std::int32_t> scaleUpLimit(const ScalingRules& rules, std::int32_t base, const History& history,
                                         TimePoint now) {
  if (rules.selectPolicy == SelectPolicy::kDisabled) {
    return base;
  }
  if (rules.policies.empty()) {
    return std::nullopt;
  }
  std::optional<std::int32_t> limit;
  for (const auto& policy : rules.policies) {
    const std::int32_t proposed = proposeUp(policy, periodStart(policy, base, history, now));
    if (!limit) {
      limit = proposed;
    } else if (rules.selectPolicy == SelectPolicy::kMax) {
      limit = std::max(*limit, proposed);  // the most permissive: the highest ceiling
    } else {
      limit = std::min(*limit, proposed);
    }
  }
  // A period that started lower must not force a scale-down, and a workload
  // at zero may always wake one replica: a Percent of 0 is 0, which would
  // otherwise keep a scaled-to-zero workload asleep under load for good.
  return std::max({*limit, base, std::int32_t{1}});
}

std::optional<std::int32_t> scaleDownLimit(const ScalingRules& rules, std::int32_t base, const History& history,
                                           TimePoint now) {
  if (rules.selectPolicy == SelectPolicy::kDisabled) {
    return base;
  }
  if (rules.policies.empty()) {
    return std::nullopt;
  }
  std::optional<std::int32_t> limit;
  for (const auto& policy : rules.policies) {
    const std::int32_t proposed = proposeDown(policy, periodStart(policy, base, history, now));
    if (!limit) {
      limit = proposed;
    } else if (rules.selectPolicy == SelectPolicy::kMax) {
      limit = std::min(*limit, proposed);  // the most permissive: the lowest floor
    } else {
      limit = std::max(*limit, proposed);
    }
  }
  return std::min(*limit, base);
}

RateLimited limitRate(std::int32_t desired, std::int32_t base, const History& history, const PolicySpec& spec,
                      TimePoint now) {
  if (desired > base && spec.scaleUp) {
    const auto limit = scaleUpLimit(*spec.scaleUp, base, history, now);
    if (limit && desired > *limit) {
      return {*limit, LimitedBy::kScaleUpPolicy};
    }
  } else if (desired < base && spec.scaleDown) {
    const auto limit = scaleDownLimit(*spec.scaleDown, base, history, now);
    if (limit && desired < *limit) {
      return {*limit, LimitedBy::kScaleDownPolicy};
    }
  }
  return {desired, LimitedBy::kNone};
}

History recordDecision(History history, const PolicySpec& spec, TimePoint now, std::int32_t currentReplicas,
                       std::int32_t recommendation, std::int32_t published) {
  History next = std::move(history);
  if (!next.published) {
    next.publishedBeforeChanges = currentReplicas;
    next.published = currentReplicas;
  }
  if (published != *next.published) {
    next.changes.push_back({now, published});
    next.lastChangeAt = now;
    next.published = published;
  }

  // Changes older than the longest period fold into the value before them;
  // the newest such change still tells what the oldest period started with.
  const TimePoint periodCutoff = now - seconds(longestPeriodSeconds(spec));
  auto firstKept = std::find_if(next.changes.begin(), next.changes.end(),
                                [&](const TimedReplicas& change) { return change.at > periodCutoff; });
  if (firstKept != next.changes.begin()) {
    next.publishedBeforeChanges = std::prev(firstKept)->replicas;
    next.changes.erase(next.changes.begin(), firstKept);
  }

  const TimePoint windowCutoff = now - seconds(longestWindowSeconds(spec));
  std::erase_if(next.recommendations, [&](const TimedReplicas& past) { return past.at <= windowCutoff; });
  if (longestWindowSeconds(spec) > 0) {
    next.recommendations.push_back({now, recommendation});
  }
  return next;
}

}  // namespace kubeai::core
