#include "cli/status_bridge.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "kube/scale_replica_source.h"

namespace kubeai::cli {
namespace {

// The set is sorted by namespace then name (PolicySnapshot).
const core::Policy* find(const std::vector<core::Policy>& policies, const std::string& ns, const std::string& name) {
  const auto found = std::lower_bound(policies.begin(), policies.end(), std::pair{&ns, &name},
                                      [](const core::Policy& policy, const auto& key) {
                                        return std::tie(policy.metadata.namespace_, policy.metadata.name) <
                                               std::tie(*key.first, *key.second);
                                      });
  if (found == policies.end() || found->metadata.namespace_ != ns || found->metadata.name != name) {
    return nullptr;
  }
  return &*found;
}

}  // namespace

void StatusBridge::setPolicies(const kube::PolicySnapshot& snapshot) {
  // Before the loop sees the set: the first status built for a policy keeps
  // the times of the conditions the API already holds (a restart or a new
  // leader does not reset lastTransitionTime).
  for (const auto& [key, status] : snapshot.apiStatuses) {
    const std::size_t slash = key.find('/');
    if (slash != std::string::npos) {
      writer_.observeApiStatus(key.substr(0, slash), key.substr(slash + 1), status);
    }
  }
  const std::lock_guard lock(mutex_);
  policies_ = snapshot.policies;
  invalidGenerations_ = snapshot.invalidGenerations;
}

void StatusBridge::onError(const std::string& ns, const std::string& name, const std::string& type,
                           const std::string& message) {
  std::shared_ptr<const std::vector<core::Policy>> policies;
  std::optional<std::int64_t> invalidGeneration;
  {
    const std::lock_guard lock(mutex_);
    policies = policies_;
    if (auto found = invalidGenerations_.find(ns + "/" + name); found != invalidGenerations_.end()) {
      invalidGeneration = found->second;
    }
  }
  const core::Policy* policy = find(*policies, ns, name);
  if (type == "invalid") {
    // Refused by the parser (its generation kept by the watcher), or valid
    // but refused by serve (a Prometheus query that does not expand).
    const std::int64_t generation =
        invalidGeneration.value_or(policy != nullptr ? policy->metadata.generation : std::int64_t{0});
    writer_.onInvalid(ns, name, generation, message);
    return;
  }
  if (policy == nullptr) {
    return;  // deleted since the loop's cycle began: onRemoved follows
  }
  // A missing target is a metrics read failure to the loop (ScaleReplicaSource's
  // kTargetNotFoundPrefix); the status says TargetNotFound.
  const std::size_t at = message.find(kube::kTargetNotFoundPrefix);
  if ((type == "metrics" || type == "stale") && at != std::string::npos) {
    writer_.onError(*policy, "target_not_found", message.substr(at + kube::kTargetNotFoundPrefix.size()));
    return;
  }
  writer_.onError(*policy, type, message);
}

}  // namespace kubeai::cli
