#include "core/history.h"

#include "core/startup_tracking.h"

#include <algorithm>

namespace kubeai::core {
namespace {

// Far longer than any cooldown a policy has in practice, far shorter than
// what a TimePoint difference can hold.
constexpr auto kSeedHorizon = std::chrono::hours(24 * 365 * 10);

}  // namespace

History firstSightHistory(std::int32_t currentReplicas, TimePoint now, const std::optional<PublishedSeed>& seed) {
  const std::int32_t current = std::max(currentReplicas, std::int32_t{0});
  History history;
  history.initialRecommendation = TimedReplicas{now, current};
  if (!seed) {
    return history;
  }
  if (seed->measuredStartup && seed->measuredStartup->count() >= 0) {
    history.startup.samplesMs.push_back(std::min(seed->measuredStartup->count(), std::int64_t{kMaxMeasuredStartup.count()}));
  }
  for (const HoltState& model : seed->forecastModels) {
    // A model observed "later" than now (another node's clock) would ignore
    // every observation until then: it starts afresh instead.
    if (model.at <= now && model.observations > 0) {
      history.memory.forecasts.push_back(model);
    }
  }
  if (seed->panicSince && seed->panicLastOverAt) {
    history.memory.burst.panicSince = std::min(*seed->panicSince, now);
    history.memory.burst.lastOverAt = std::min(*seed->panicLastOverAt, now);
    history.memory.burst.maxPanicReplicas = std::max(seed->maxPanicReplicas, std::int32_t{0});
  }
  const std::int32_t desired = std::max(seed->desiredReplicas, std::int32_t{0});
  history.published = desired;
  // A time ahead of ours (another node's clock) is taken as now: a cooldown
  // must not last longer than it says. One long past is kept within a
  // horizon: differences of time points beyond ~292 years overflow.
  if (seed->lastScaleTime) {
    history.lastChangeAt = std::clamp(*seed->lastScaleTime, now - kSeedHorizon, now);
  }
  if (desired != current && history.lastChangeAt) {
    // decide() stops counting it as current once older than a reaction time.
    const TimePoint at = *history.lastChangeAt;
    history.inFlight = ChangeInFlight{desired, current, at, at, current, false};
  }
  return history;
}

}  // namespace kubeai::core
