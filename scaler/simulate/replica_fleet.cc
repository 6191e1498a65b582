#include "simulate/replica_fleet.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace kubeai::simulate {
namespace {

// A scale-up with a start-up range draws one time per replica, up to this
// many distinct draws; a larger one shares them out (the run stays bounded
// for a count of any size).
constexpr std::int64_t kMaxDrawsPerScaleUp = 1024;

std::int64_t toMs(double seconds) { return std::llround(seconds * 1000.0); }

}  // namespace

double SeededRandom::uniform() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  z ^= z >> 31U;
  return static_cast<double>(z >> 11U) * 0x1.0p-53;
}

ReplicaFleet::ReplicaFleet(const ReplicasModel& model, std::uint64_t seed) : model_(model), random_(seed) {
  // The initial replicas are ready from the start.
  if (model.initial > 0) {
    running_.push_back(Batch{0, model.initial});
    runningCount_ = model.initial;
  }
}

void ReplicaFleet::scaleTo(std::int32_t requested, std::int64_t nowMs) {
  const std::int64_t target = std::max<std::int64_t>(requested, 0);
  if (target < runningCount_) {
    remove(runningCount_ - target, nowMs);
    return;
  }
  std::int64_t adding = target - runningCount_;
  runningCount_ = target;
  const double span = model_.startup.max - model_.startup.min;
  if (!(span > 0)) {
    // A fixed start-up draws nothing, so it leaves the sequence of draws alone.
    if (adding > 0) {
      running_.push_back(Batch{nowMs + toMs(model_.startup.min), adding});
    }
    return;
  }
  const std::int64_t draws = std::min(adding, kMaxDrawsPerScaleUp);
  for (std::int64_t i = 0; i < draws; ++i) {
    const std::int64_t share = adding / (draws - i);
    adding -= share;
    running_.push_back(Batch{nowMs + toMs(model_.startup.min + span * random_.uniform()), share});
  }
}

void ReplicaFleet::remove(std::int64_t count, std::int64_t nowMs) {
  runningCount_ -= count;
  if (model_.shutdownSeconds > 0) {
    shuttingDown_.push_back(Batch{nowMs + toMs(model_.shutdownSeconds), count});
  }
  // Not ready before ready, then the newest: what a ReplicaSet deletes first.
  for (const bool starting : {true, false}) {
    for (auto it = running_.rbegin(); it != running_.rend() && count > 0; ++it) {
      if ((it->atMs > nowMs) == starting) {
        const std::int64_t taken = std::min(count, it->count);
        it->count -= taken;
        count -= taken;
      }
    }
  }
  std::erase_if(running_, [](const Batch& batch) { return batch.count == 0; });
}

ReplicaFleet::Counts ReplicaFleet::countAt(std::int64_t stepStartMs) {
  std::erase_if(shuttingDown_, [&](const Batch& batch) { return batch.atMs <= stepStartMs; });
  std::int64_t ready = 0;
  for (const Batch& batch : running_) {
    ready += batch.atMs <= stepStartMs ? batch.count : 0;
  }
  // Ready replicas are alike: one batch holds them, so the list stays as
  // short as the scale-ups still starting.
  if (ready > 0) {
    std::erase_if(running_, [&](const Batch& batch) { return batch.atMs <= stepStartMs; });
    running_.insert(running_.begin(), Batch{0, ready});
  }
  std::int64_t shutting = 0;
  for (const Batch& batch : shuttingDown_) {
    shutting += batch.count;
  }
  const auto clamp = [](std::int64_t value) {
    return static_cast<std::int32_t>(std::min<std::int64_t>(value, std::numeric_limits<std::int32_t>::max()));
  };
  return Counts{clamp(runningCount_ + shutting), clamp(ready), clamp(runningCount_ - ready)};
}

std::int64_t HorizontalPodAutoscaler::scaleUpLimit(std::int32_t current, std::int64_t nowMs) {
  // The HPA's events count while their time + period is after now.
  const std::int64_t periodMs = hpa_.scaleUpPeriod.count();
  std::erase_if(scaleUps_, [&](const ScaleUp& event) { return event.atMs + periodMs <= nowMs; });
  std::int64_t periodStart = current;
  for (const ScaleUp& event : scaleUps_) {
    periodStart -= event.added;
  }
  periodStart = std::max<std::int64_t>(periodStart, 0);
  std::int64_t limit = std::numeric_limits<std::int64_t>::min();
  if (hpa_.scaleUpPods > 0) {
    limit = std::max(limit, periodStart + hpa_.scaleUpPods);
  }
  if (hpa_.scaleUpPercent > 0) {
    limit = std::max(limit, static_cast<std::int64_t>(std::ceil(static_cast<double>(periodStart) *
                                                                (1.0 + hpa_.scaleUpPercent / 100.0))));
  }
  return limit == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max() : limit;
}

std::int32_t HorizontalPodAutoscaler::sync(std::int32_t current, std::int32_t published, std::int64_t nowMs) {
  const std::int32_t floor = std::max(1, keda_.minReplicaCount);
  if (published > 0) {
    lastActiveMs_ = nowMs;
  }
  if (current <= 0) {
    // KEDA activates the workload; the HPA takes it from there.
    return published > 0 ? floor : current;
  }
  if (published <= 0 && keda_.minReplicaCount == 0 && nowMs - lastActiveMs_ >= keda_.cooldownPeriod.count()) {
    return 0;  // KEDA deactivates it after its cooldown
  }
  std::int64_t desired = published;
  const double ratio = static_cast<double>(published) / static_cast<double>(current);
  if (1.0 - hpa_.tolerance <= ratio && ratio <= 1.0 + hpa_.tolerance) {
    desired = current;
  }
  if (desired > current) {
    desired = std::min(desired, scaleUpLimit(current, nowMs));
  }
  desired = std::max<std::int64_t>(desired, floor);
  if (desired > current) {
    scaleUps_.push_back(ScaleUp{nowMs, desired - current});
  }
  return static_cast<std::int32_t>(std::min<std::int64_t>(desired, std::numeric_limits<std::int32_t>::max()));
}

}  // namespace kubeai::simulate
