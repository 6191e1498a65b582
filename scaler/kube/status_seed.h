#pragma once

#include <cstdint>
#include <optional>

#include "core/history.h"
#include "kube/policy_status.h"

namespace kubeai::kube {

// What an earlier process (a restarted server, the previous leader, the old
// pods of a rolling update) published for a policy, read back from the
// status the API holds, so that the evaluation loop's first sight of the
// policy (core::firstSightHistory) does not forget a cooldown or a window.
//
// A seed only when `status` is there, says desiredReplicas, and its
// observedGeneration (>= 1) is `generation`, the policy's metadata.generation:
// a status written for another spec (or by no one) says nothing about this
// one. lastScaleTime is taken when it is a time (kube::parseTime); an
// unreadable one leaves it out, which seeds no cooldown rather than no seed.
std::optional<core::PublishedSeed> seedFromApiStatus(const std::optional<PolicyStatus>& status,
                                                     std::int64_t generation);

}  // namespace kubeai::kube
