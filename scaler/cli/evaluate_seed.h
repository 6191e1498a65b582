#pragma once

#include <optional>
#include <string>

#include "core/history.h"
#include "policy/policy_parser.h"

// What `evaluate` starts from when the policy file holds a status (`kubectl
// get aiinferenceautoscalerpolicy X -o yaml`): the seed serve takes from that
// status after a restart, read by serve's own code (kube::parseApiStatus,
// kube::seedFromApiStatus), so that evaluate answers what serve would.
namespace kubeai::cli {

// What `evaluate --ignore-status` decides from instead of the status, which
// the note naming the seed says: first sight (--history, as serve's first
// row) or no history (the one decision of plain evaluate).
enum class WithoutStatus { kFirstSight, kNoHistory };

struct EvaluateSeed {
  // What core::firstSightHistory is seeded with; nullopt: first sight alone.
  std::optional<core::PublishedSeed> seed;
  // The latest time the seed holds (lastScaleTime, a model's observedAt, a
  // panic's since or lastOverThreshold): the published decision was made at
  // it or after, and the field that gives it ("status.lastScaleTime").
  std::optional<core::TimePoint> latest;
  std::string latestField;
  // One line for stderr: "note: seeded from ..." or "warning: ... starting
  // from first sight"; empty when the file has no status.
  std::string message;
};

// The seed of `document` (its metadata.generation and spec.metrics) from the
// status its file held. serve never fails on a status: one it cannot read,
// or written for another generation, seeds nothing, and so here too, with a
// warning naming `fileName` and the field. A value it cannot read inside the
// status (a time, a model) is left out, as serve leaves it out.
//
// A file edited after `kubectl get` keeps its metadata.generation, so its
// status seeds the edited spec, where a restarted serve would not seed
// (the API bumps the generation on a spec edit): the note says to pass
// --ignore-status (which gives `withoutStatus`) or bump metadata.generation.
EvaluateSeed seedFromPolicyStatus(const policy::PolicyDocument& document, const std::string& fileName,
                                  WithoutStatus withoutStatus);

}  // namespace kubeai::cli
