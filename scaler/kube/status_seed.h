#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/history.h"
#include "core/policy.h"
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
//
// The same status brings back what Predictive, Burst and start-up awareness
// keep (issue 14): startupSeconds (>= 0) as the measured start-up time;
// forecast.models as Predictive's models, each by its metric's name among
// `metrics`' slots (core::metricName; a name the policy has no slot for, a
// second model of the same metric, a level or trend that is not finite, an
// unreadable observedAt or observations < 1 is skipped); and, while
// panic.panicking, Burst's panic from panic.since, panic.lastOverThreshold
// (both times, else no panic) and panic.maxPanicReplicas (< 0: 0). Each value
// that cannot be read is left out; it never costs the seed.
std::optional<core::PublishedSeed> seedFromApiStatus(const std::optional<PolicyStatus>& status,
                                                     std::int64_t generation, const core::MetricsSpec& metrics);

// Why seedFromApiStatus gives no seed for that status and generation, naming
// the field ("status.observedGeneration 2 is not metadata.generation 3: ...");
// nullopt when it gives one. For `evaluate`, which says why it starts from
// first sight where serve says nothing.
std::optional<std::string> whyNoSeed(const std::optional<PolicyStatus>& status, std::int64_t generation);

}  // namespace kubeai::kube
