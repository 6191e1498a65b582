#pragma once

#include <chrono>

#include "core/algorithm_registry.h"
#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"

namespace kubeai::core {

// How long our own published change counts as current while the workload has
// not reached it (see anchorOn): KEDA polls every 30 s and the HPA syncs every
// 15 s, so two HPA sync periods by default.
inline constexpr std::chrono::milliseconds kDefaultReactionTime{30'000};

struct DecideSettings {
  std::chrono::milliseconds reactionTime = kDefaultReactionTime;
  // Handed to the algorithm as is (AlgorithmInput): the driver's call.
  CallReason reason = CallReason::kEvaluate;
  std::uint64_t cycle = 0;
};

struct Outcome {
  Decision decision;
  History history;  // to hand to the next decide() for this policy
};

// The decision pipeline of DESIGN §3: ratios -> algorithm and tolerance ->
// stabilization -> rate policies -> clamp to [minReplicas, maxReplicas] ->
// cooldown, every behaviour stage anchored on the current replicas (or our own
// change still on its way: see anchorOn). Pure: no I/O, no clock, no globals;
// `now` and `history` come in, the next history goes out. The server,
// `evaluate` (with an empty history), tests and the simulator all run this one
// function.
//
// `history` is taken by value: the server moves each policy's history in and
// stores the one that comes out, so a warm decision copies nothing.
// `policy` must have passed validatePolicy(). An unknown algorithm falls back to
// MaxRatio (algorithmValid = false); an algorithm that fails holds the current
// replicas and says why in reason and algorithmError.
Outcome decide(const Policy& policy, const Observation& observation, History history, TimePoint now,
               const AlgorithmRegistry& algorithms, const DecideSettings& settings = {});

}  // namespace kubeai::core
