#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/history.h"
#include "kube/policy_status.h"

// A bad edit in Kubernetes mode: the latest generation of a policy is refused
// (by the parser, or by serve: a prometheusQuery that does not expand) while
// an earlier valid version keeps serving, with its history
// (server::EvaluationListener::onSuperseded). The status keeps that
// version's decision and says so in one condition, so that a decision and an
// "invalid" never take turns in the status. Pure functions, as policy_status.h.
namespace kubeai::kube {

// False while the latest generation is refused and an earlier one serves;
// absent otherwise (a policy refused with nothing to serve says
// Ready=False/InvalidPolicy instead).
inline constexpr std::string_view kConditionSpecValid = "SpecValid";
inline constexpr std::string_view kReasonInvalidPolicy = "InvalidPolicy";

struct Superseded {
  std::int64_t latestGeneration = 0;  // refused
  std::int64_t servedGeneration = 0;  // the last valid version, still evaluated
  std::string problem;                // why the latest is refused, naming the field

  bool operator==(const Superseded&) const = default;
};

// "generation 4: spec.maxReplicas: must be >= 1; serving generation 3".
std::string supersededMessage(const Superseded& superseded);

// `status`, built for the served version (its decision, its conditions),
// with SpecValid=False/InvalidPolicy after the other conditions (its
// lastTransitionTime kept from `previous` while it stays False) and
// status.observedGeneration the latest generation: that one was seen, and
// the condition is the verdict on it. The decision fields are the served
// version's, so that a restart seeded from them (status_seed.h) resumes what
// KEDA was actually given.
PolicyStatus withSuperseded(PolicyStatus status, const Superseded& superseded, const std::vector<Condition>& previous,
                            core::TimePoint now);

// `status` without SpecValid, observedGeneration `generation`: the latest
// version serves again.
PolicyStatus withoutSuperseded(PolicyStatus status, std::int64_t generation);

}  // namespace kubeai::kube
