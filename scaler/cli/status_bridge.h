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
                  std::optional<core::TimePoint> lastScaleTime) {
    writer_.onDecision(policy, decision, observation, lastScaleTime);
  }
  void onError(const std::string& ns, const std::string& name, const std::string& type, const std::string& message);
  void onRemoved(const std::string& ns, const std::string& name) { writer_.onRemoved(ns, name); }

 private:
  kube::StatusWriter& writer_;
  std::mutex mutex_;
  std::shared_ptr<const std::vector<core::Policy>> policies_ = std::make_shared<const std::vector<core::Policy>>();
  std::map<std::string, std::int64_t> invalidGenerations_;
};

}  // namespace kubeai::cli
