#pragma once

#include <chrono>
#include <functional>
#include <optional>

#include <grpcpp/support/status.h>

#include "core/history.h"
#include "core/result.h"
#include "externalscaler.pb.h"
#include "server/decision_store.h"
#include "server/scaled_object_ref.h"

namespace kubeai::server {

// The RPC path's own staleness check (DESIGN §1): a ready decision whose
// metrics were read more than `bound` before `clock()` answers UNAVAILABLE,
// whether or not the evaluation loop completed a cycle since (see
// readTooLongAgo in decision_store.h).
struct StalenessCheck {
  // --metrics-stale-after; unset: not checked (tests of other things, benchmarks).
  std::optional<std::chrono::milliseconds> bound;
  // The evaluation loop's clock: metricsReadAt is a time of it.
  std::function<core::TimePoint()> clock = [] { return std::chrono::system_clock::now(); };
};

namespace detail {

// What KEDA is answered, one function per answer, shared by each unary call
// and its stream so that the two can never disagree.

grpc::Status notFound(const PolicyRef& ref);

// OK when `entry` has a decision to serve now (known, servable, and its
// metrics read within the staleness bound); else NOT_FOUND or UNAVAILABLE
// naming the policy and why. The clock is read only for a servable entry that
// carries a read time: the common path costs one call of it and allocates
// nothing.
grpc::Status servableNow(const StalenessCheck& staleness, const PolicyRef& ref, const PolicyEntry* entry);

grpc::Status answerIsActive(const StalenessCheck& staleness, const PolicyRef& ref, const PolicyEntry* entry,
                            externalscaler::IsActiveResponse& out);

// Any known policy, whatever its state or age: see ExternalScalerService.
grpc::Status answerMetricSpec(const StalenessCheck& staleness, const PolicyRef& ref, const PolicyEntry* entry,
                              externalscaler::GetMetricSpecResponse& out);

bool sameAnswer(const externalscaler::IsActiveResponse& a, const externalscaler::IsActiveResponse& b);
bool sameAnswer(const externalscaler::GetMetricSpecResponse& a, const externalscaler::GetMetricSpecResponse& b);

grpc::Status invalidArgument(const core::Error& error);

}  // namespace detail
}  // namespace kubeai::server
