#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/decision.h"
#include "core/observation.h"
#include "core/policy.h"
#include "kube/policy_watcher.h"
#include "kube/status_writer.h"

namespace kubeai::cli {

// With --kubernetes: hands what the evaluation loop decided to the status
// writer. The loop names a failing policy by namespace/name only; the policy
// itself (uid, generation) comes from the watcher's latest set.
class StatusBridge {
 public:
  explicit StatusBridge(kube::StatusWriter& writer) : writer_(writer) {}

  // Watcher thread.
  void setPolicies(const kube::PolicySnapshot& snapshot);
  // A status the API now holds, from a watch event that changed nothing else.
  void observeStatus(const std::string& ns, const std::string& name, const std::string& status) {
    writer_.observeApiStatus(ns, name, status);
  }

  // Evaluation thread, from here on.
  void onDecision(const core::Policy& policy, const core::Decision& decision, const core::Observation& observation,
                  std::optional<core::TimePoint> lastScaleTime);
  // The loop serves `served` because the latest version is refused
  // (`problem`), or no longer (empty). The writer is told the latest
  // generation: the watcher's for a policy the parser refused, the set's for
  // one serve refused.
  void onSuperseded(const core::Policy& served, const std::string& problem);
  // "invalid" is a policy the loop does not serve at all: for one it served
  // in an earlier version until now, the supersession ends there.
  void onError(const std::string& ns, const std::string& name, const std::string& type, const std::string& message);
  void onRemoved(const std::string& ns, const std::string& name);

 private:
  struct Served {
    core::Policy policy;  // the version served
    std::string problem;
    std::int64_t latestGeneration = 0;
  };
  // The generation of the latest version of ns/name as the watcher saw it, or `fallback`.
  std::int64_t latestGeneration(const std::string& key, std::int64_t fallback);

  kube::StatusWriter& writer_;
  std::mutex mutex_;  // guards policies_ and invalidGenerations_ (set by the watcher's thread)
  // The watcher's latest set, shared (the snapshot's pointer, no copy).
  std::shared_ptr<const core::PolicyList> policies_ = std::make_shared<const core::PolicyList>();
  std::map<std::string, std::int64_t> invalidGenerations_;
  // By namespace/name: policies served in an earlier version. Evaluation thread only.
  std::map<std::string, Served> superseded_;
};

}  // namespace kubeai::cli
