#pragma once

#include <chrono>

#include "core/history.h"
#include "server/decision_store.h"
#include "server/evaluation_loop.h"
#include "telemetry/http_endpoint.h"

namespace kubeai::cli {

// What /readyz says once the policies are listed: ready (a stale policy must
// not take the replica out of the Service: every policy would lose it, and
// KEDA's fallback does not apply to a scaler it cannot reach,
// kedacore/keda#8056), with a line per policy that is not being served:
// pending, stale, invalid, or stale on time (its metrics read longer than
// `staleAfter` before `now`, whether or not the loop has said so yet).
[[nodiscard]] telemetry::ReadyReport readinessReport(const server::DecisionStore& store, core::TimePoint now,
                                                     std::chrono::milliseconds staleAfter);

// loop.stop(), waiting at most `grace`: false when the loop did not stop in
// time (stuck in a plugin call, or in a metric read past its deadline), and
// is left running; the caller must then end the process without destroying
// the loop (see serve's shutdown).
[[nodiscard]] bool stopLoopWithin(server::EvaluationLoop& loop, std::chrono::milliseconds grace);

}  // namespace kubeai::cli
