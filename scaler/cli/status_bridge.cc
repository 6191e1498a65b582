#include "cli/status_bridge.h"

#include <utility>

#include "kube/scale_replica_source.h"

namespace kubeai::cli {

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

std::int64_t StatusBridge::latestGeneration(const std::string& key, std::int64_t fallback) {
  const std::lock_guard lock(mutex_);
  if (const auto found = invalidGenerations_.find(key); found != invalidGenerations_.end()) {
    return found->second;  // refused by the parser
  }
  // Refused by serve (a prometheusQuery that does not expand): in the set.
  const std::size_t slash = key.find('/');
  const core::Policy* latest = core::findInSortedSet(*policies_, key.substr(0, slash), key.substr(slash + 1));
  return latest != nullptr ? latest->metadata.generation : fallback;
}

void StatusBridge::onDecision(const core::Policy& policy, const core::Decision& decision,
                              const core::Observation& observation, std::optional<core::TimePoint> lastScaleTime) {
  if (!superseded_.empty()) {
    // The latest version may be refused again under another generation with
    // the same problem, which the loop does not report as a change.
    if (const auto served = superseded_.find(policy.key()); served != superseded_.end()) {
      const std::int64_t latest = latestGeneration(served->first, served->second.latestGeneration);
      if (latest != served->second.latestGeneration) {
        served->second.latestGeneration = latest;
        writer_.onSuperseded(policy, latest, served->second.problem);
      }
    }
  }
  writer_.onDecision(policy, decision, observation, lastScaleTime);
}

void StatusBridge::onSuperseded(const core::Policy& served, const std::string& problem) {
  const std::string key = served.key();
  if (problem.empty()) {
    superseded_.erase(key);
    writer_.onSuperseded(served, served.metadata.generation, problem);
    return;
  }
  const std::int64_t latest = latestGeneration(key, served.metadata.generation);
  superseded_.insert_or_assign(key, Served{served, problem, latest});
  writer_.onSuperseded(served, latest, problem);
}

void StatusBridge::onRemoved(const std::string& ns, const std::string& name) {
  superseded_.erase(ns + "/" + name);
  writer_.onRemoved(ns, name);
}

void StatusBridge::onError(const std::string& ns, const std::string& name, const std::string& type,
                           const std::string& message) {
  const std::string key = ns + "/" + name;
  std::shared_ptr<const core::PolicyList> policies;
  std::optional<std::int64_t> invalidGeneration;
  {
    const std::lock_guard lock(mutex_);
    policies = policies_;
    if (auto found = invalidGenerations_.find(key); found != invalidGenerations_.end()) {
      invalidGeneration = found->second;
    }
  }
  const auto served = superseded_.find(key);
  // A policy served in an earlier version is not in the set (the watcher
  // lists it as refused) or is there in the refused version: its errors are
  // those of the version served.
  const core::Policy* policy =
      served != superseded_.end() ? &served->second.policy : core::findInSortedSet(*policies, ns, name);
  if (type == "invalid") {
    // Not served at all (the loop reports "invalid" for no policy it serves):
    // onInvalid ends any supersession in the writer.
    if (served != superseded_.end()) {
      policy = core::findInSortedSet(*policies, ns, name);
      superseded_.erase(served);
    }
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
