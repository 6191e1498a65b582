#include "core/history.h"

#include <algorithm>

namespace kubeai::core {

History firstSightHistory(std::int32_t currentReplicas, TimePoint now, const std::optional<PublishedSeed>& seed) {
  const std::int32_t current = std::max(currentReplicas, std::int32_t{0});
  History history;
  history.initialRecommendation = TimedReplicas{now, current};
  if (!seed) {
    return history;
  }
  const std::int32_t desired = std::max(seed->desiredReplicas, std::int32_t{0});
  history.published = desired;
  // A time ahead of ours (another node's clock) is taken as now: a cooldown
  // must not last longer than it says.
  if (seed->lastScaleTime) {
    history.lastChangeAt = std::min(*seed->lastScaleTime, now);
  }
  if (desired != current && history.lastChangeAt) {
    // decide() drops it at once when it is older than a reaction time.
    history.inFlight = ChangeInFlight{desired, *history.lastChangeAt, current};
  }
  return history;
}

}  // namespace kubeai::core
