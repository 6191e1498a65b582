#pragma once

#include "core/algorithm_registry.h"
#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"

namespace kubeai::core {

struct Outcome {
  Decision decision;
  History history;  // to hand to the next decide() for this policy
};

// The decision pipeline of DESIGN §3: ratios -> algorithm and tolerance ->
// stabilization -> rate policies -> clamp to [minReplicas, maxReplicas] ->
// cooldown. Pure: no I/O, no clock, no globals; `now` and `history` come in,
// the next history goes out. The server, `evaluate` (with an empty history),
// tests and the simulator all run this one function.
//
// `history` is taken by value: the server moves each policy's history in and
// stores the one that comes out, so a warm decision copies nothing.
// `policy` must have passed validatePolicy(). An unknown algorithm falls back to
// MaxRatio (algorithmValid = false); an algorithm that fails holds the current
// replicas and says why in reason and algorithmError.
Outcome decide(const Policy& policy, const Observation& observation, History history, TimePoint now,
               const AlgorithmRegistry& algorithms);

}  // namespace kubeai::core
