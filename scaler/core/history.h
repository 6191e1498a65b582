#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/algorithm_memory.h"

namespace kubeai::core {

// Wall-clock time, passed into the pipeline (it never reads a clock itself).
using TimePoint = std::chrono::system_clock::time_point;

struct TimedReplicas {
  TimePoint at;
  std::int32_t replicas = 0;
};

// A recommendation the stabilization windows remember. One a forecast raised
// (Predictive's) counts whole in the scale-down window only while the forecast
// still looks ahead, until `forecastUntil`; after it, the window holds the
// decision's answer without the forecast, `reactive`: a forecast the load did
// not bear out is not held for a whole window.
struct TimedRecommendation {
  TimedRecommendation() = default;
  // One no forecast raised: it counts whole for the whole window.
  TimedRecommendation(TimePoint when, std::int32_t answer)
      : at(when), replicas(answer), reactive(answer), forecastUntil(when) {}
  TimedRecommendation(TimePoint when, std::int32_t answer, std::int32_t withoutForecast, TimePoint until)
      : at(when), replicas(answer), reactive(withoutForecast), forecastUntil(until) {}

  TimePoint at;
  std::int32_t replicas = 0;
  std::int32_t reactive = 0;  // <= replicas; == replicas when no forecast raised it
  TimePoint forecastUntil{};  // `at` when no forecast raised it
};

// A change this server published that the workload has not reached yet. We
// recommend upstream of KEDA and the HPA, so the current replicas follow a
// published change only after a reaction time; until then the change counts as
// current, so that the next cycle does not undo it. Past the reaction time it
// still stands as our answer while the workload neither reaches it nor moves
// away from it (an HPA slowed by its own window): the current replicas are the
// anchor again, but the cooldown holds this value, not them.
struct ChangeInFlight {
  std::int32_t replicas = 0;  // the value published
  std::int32_t from = 0;      // the current replicas when this run of our changes on their way began
  TimePoint startedAt;        // when that run began: its scale events are the ones since
  TimePoint since;            // when published, or when the workload last moved towards it
  std::int32_t lastSeen = 0;  // the current replicas seen at `since`
  // Its scale events were cut to what the workload really moved, once it
  // stopped counting as current: a change not made must not use up a period.
  bool settled = false;
};

// Replicas asked for and not ready yet, and the start-up times measured so
// far (startup_tracking.h).
struct StartupTracking {
  std::optional<std::int32_t> lastCurrent;  // the current replicas at the previous observation
  std::vector<TimedReplicas> pending;       // a rise to `replicas` at `at`, still starting; oldest first
  std::vector<std::int64_t> samplesMs;      // the last kStartupSamples start-up times, oldest first
};

// What behaviour (stabilization, rate policies, cooldown) remembers about one
// policy between decisions. decide() takes one and returns the next.
//
// Behaviour is anchored on the observed current replicas, as the HPA's is:
// scale events are the changes this policy's decisions made relative to the
// replicas they started from (the HPA's scaleUpEvents / scaleDownEvents), and
// a rate policy's period starts at the current replicas minus (up) or plus
// (down) the events within it. An empty History is `evaluate`, which has none;
// a server sees a policy for the first time through firstSightHistory().
struct History {
  std::optional<std::int32_t> published;   // the value last published; nullopt before the first decision
  std::optional<TimePoint> lastChangeAt;   // when a decision last changed the replicas (cooldown, status.lastScaleTime)
  std::optional<ChangeInFlight> inFlight;  // our last change, while on its way
  // Replicas added / removed by our decisions, within the longest rate-policy
  // period of either direction (both count in every period's start, as in the HPA).
  std::vector<TimedReplicas> scaleUpEvents;
  std::vector<TimedReplicas> scaleDownEvents;
  // Recommendations within the longest stabilization window, oldest first; one
  // equal to the one before it (replicas and reactive) only moves that one's
  // time, keeping the longer forecastUntil of the two.
  std::vector<TimedRecommendation> recommendations;
  // The current replicas when the policy was first seen (the HPA's
  // recordInitialRecommendation): counts in the scale-down window only, so a
  // restart does not scale down at once what a window would have held.
  std::optional<TimedReplicas> initialRecommendation;
  // How long this workload's replicas take to become ready (Predictive's horizon).
  StartupTracking startup;
  // The state of the built-ins that look through time (Predictive, Burst).
  AlgorithmMemory memory;
};

// What a previous process published for a policy, as the Kubernetes API keeps
// it in the policy's status (desiredReplicas, lastScaleTime) when its
// observedGeneration matches.
struct PublishedSeed {
  std::int32_t desiredReplicas = 0;
  std::optional<TimePoint> lastScaleTime;
  // What the status also keeps (issue 14): the measured start-up time, and
  // the state of Predictive's models and of Burst's panic.
  std::optional<std::chrono::milliseconds> measuredStartup{};
  std::vector<HoltState> forecastModels{};
  std::optional<TimePoint> panicSince{};
  std::optional<TimePoint> panicLastOverAt{};
  std::int32_t maxPanicReplicas = 0;
};

// The history of a policy seen for the first time at `now` with
// `currentReplicas`: its scale-down window holds the current replicas, and a
// seed from the API brings back the published value, the last change time
// (cooldown) and, when that change is younger than a reaction time and not
// reached, the change in flight. The start-up time, Predictive's models and a
// panic still on resume from it: a model older than its gap starts afresh
// (holtObserve), and a panic goes on until a stable window without one.
History firstSightHistory(std::int32_t currentReplicas, TimePoint now,
                          const std::optional<PublishedSeed>& seed = std::nullopt);

}  // namespace kubeai::core
