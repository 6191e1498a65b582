#include "core/startup_tracking.h"

#include <algorithm>
#include <array>

namespace kubeai::core {
namespace {

// A few recent start-ups: enough to smooth one slow pull of an image, few
// enough to follow a node pool that changed.
constexpr std::size_t kStartupSamples = 8;
// Clocks still running beyond this many are the oldest ones, dropped: a
// workload that keeps rising one replica at a time needs no more.
constexpr std::size_t kPendingLimit = 16;
// A replica not ready this long after it was asked for is not starting: it is
// unschedulable or crash-looping, and its time says nothing of a start-up.
constexpr std::chrono::minutes kAbandonAfter{30};

}  // namespace

void observeStartup(StartupTracking& tracking, std::int32_t currentReplicas, std::optional<std::int32_t> readyReplicas,
                    TimePoint now) {
  if (!readyReplicas) {
    return;
  }
  const std::int32_t current = std::max(currentReplicas, std::int32_t{0});
  const std::int32_t ready = std::max(*readyReplicas, std::int32_t{0});
  auto& pending = tracking.pending;
  // Undone before it finished: no sample, the replicas never started. A clock
  // running too long, or set in the future, is dropped.
  std::erase_if(pending, [&](const TimedReplicas& clock) {
    return clock.replicas > current || now - clock.at > kAbandonAfter || clock.at > now;
  });
  // Every clock the ready replicas have reached stops; the newest such one is
  // the sample (the older ones reached the same count no later).
  std::optional<TimePoint> startedAt;
  while (!pending.empty() && pending.front().replicas <= ready) {
    startedAt = pending.front().at;
    pending.erase(pending.begin());
  }
  if (startedAt) {
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - *startedAt).count();
    tracking.samplesMs.push_back(std::max<std::int64_t>(took, 0));
    if (tracking.samplesMs.size() > kStartupSamples) {
      tracking.samplesMs.erase(tracking.samplesMs.begin());
    }
  }
  // A rise past what is ready starts a clock. The first sight of a policy
  // starts none: when its replicas were asked for is unknown.
  if (tracking.lastCurrent && current > *tracking.lastCurrent && current > ready) {
    pending.push_back(TimedReplicas{now, current});
    if (pending.size() > kPendingLimit) {
      pending.erase(pending.begin());
    }
  }
  tracking.lastCurrent = current;
}

std::optional<std::chrono::milliseconds> measuredStartup(const StartupTracking& tracking) {
  if (tracking.samplesMs.empty()) {
    return std::nullopt;
  }
  // The median: one image pulled from a cold registry moves a mean, not it.
  // Every decision asks, so it sorts a copy on the stack, not the heap.
  std::array<std::int64_t, kStartupSamples> sorted{};
  const std::size_t n = std::min(tracking.samplesMs.size(), kStartupSamples);
  for (std::size_t i = 0; i < n; ++i) {  // insertion: eight at most
    const std::int64_t sample = tracking.samplesMs[tracking.samplesMs.size() - n + i];
    std::size_t j = i;
    for (; j > 0 && sorted[j - 1] > sample; --j) {
      sorted[j] = sorted[j - 1];
    }
    sorted[j] = sample;
  }
  const std::int64_t median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return std::chrono::milliseconds(std::clamp<std::int64_t>(median, 0, kMaxMeasuredStartup.count()));
}

}  // namespace kubeai::core
