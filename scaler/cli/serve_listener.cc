#include "cli/serve_listener.h"

#include "cli/freed_memory.h"
#include "cli/logging.h"

namespace kubeai::cli {

void ServeListener::onDecision(const core::Policy& policy, const core::Decision& decision,
                               const core::Observation& observation, bool cooldownActive,
                               std::optional<core::TimePoint> lastScaleTime, double seconds) {
  telemetry_.recordDecision(policy, decision, observation, cooldownActive, lastScaleTime, seconds);
  if (status_ != nullptr) {
    status_->onDecision(policy, decision, observation, lastScaleTime);
  }
  const std::string key = policy.key();
  auto [last, inserted] = lastDesired_.try_emplace(key, decision.desiredReplicas);
  if (inserted || last->second != decision.desiredReplicas) {
    const std::string from = inserted ? "" : std::to_string(last->second);
    last->second = decision.desiredReplicas;
    logEvent(LogLevel::kInfo, "desired replicas", {{"policy", key},
                                                   {"from", from},
                                                   {"desired", std::to_string(decision.desiredReplicas)},
                                                   {"current", std::to_string(decision.currentReplicas)},
                                                   {"algorithm", decision.algorithm},
                                                   {"reason", decision.reason},
                                                   {"limitedBy", std::string(core::limitedByName(decision.limitedBy))}});
  }
  if (!decision.algorithmValid && unknownAlgorithm_.insert(key).second) {
    logEvent(LogLevel::kWarn, "unknown algorithm, using MaxRatio",
             {{"policy", key}, {"algorithm", decision.requestedAlgorithm}});
  } else if (decision.algorithmValid) {
    unknownAlgorithm_.erase(key);
  }
}

void ServeListener::onError(const std::string& ns, const std::string& name, const std::string& type,
                            const std::string& message) {
  telemetry_.recordError(ns, name, type);
  if (status_ != nullptr) {
    status_->onError(ns, name, type, message);
  }
  // Said once per distinct problem, not every cycle.
  std::string& last = lastError_[ns + "/" + name + "/" + type];
  if (last != message) {
    last = message;
    logEvent(LogLevel::kWarn, "policy error", {{"policy", ns + "/" + name}, {"type", type}, {"error", message}});
  }
}

void ServeListener::onRemoved(const std::string& ns, const std::string& name) {
  telemetry_.removePolicy(ns, name);
  if (status_ != nullptr) {
    status_->onRemoved(ns, name);
  }
  const std::string key = ns + "/" + name;
  lastDesired_.erase(key);
  unknownAlgorithm_.erase(key);
  std::erase_if(lastError_, [&](const auto& entry) { return entry.first.rfind(key + "/", 0) == 0; });
  logEvent(LogLevel::kInfo, "policy removed", {{"policy", key}});
}

void ServeListener::onSuperseded(const core::Policy& served, const std::string& problem) {
  // The problem itself is logged where the refusal is found (serve_reload).
  if (status_ != nullptr) {
    status_->onSuperseded(served, problem);
  }
}

void ServeListener::onCycle(const std::map<std::string, std::size_t>& states, double seconds) {
  liveness_.cycleCompleted();
  telemetry_.setPolicyStates(states);
  telemetry_.recordCycle(seconds);
  // After reloads and /metrics scrapes, whose garbage has been freed by now.
  releaseFreedMemory();
}

}  // namespace kubeai::cli
