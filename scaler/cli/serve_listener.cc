#include "cli/serve_listener.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <string_view>
#include <vector>

#include "cli/decision_output.h"
#include "cli/freed_memory.h"
#include "cli/logging.h"
#include "core/metric_slot.h"
#include "kube/client/kube_time.h"

namespace kubeai::cli {
namespace {

// "95.25s(measured)": the horizon and where it came from.
std::string formatHorizon(const core::ForecastExplanation& forecast) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%gs(", forecast.horizonSeconds);
  std::string out(buffer);
  out += core::horizonSourceName(forecast.horizonSource);
  out += ')';
  return out;
}

// What start-up awareness counted on (ready and serving replicas, only when
// they differ from current: most lines have neither) and what Predictive
// (forecast, horizon, decided) or Burst (panic, since) saw.
void addExplanationFields(std::vector<LogField>& fields, const core::Decision& decision) {
  if (decision.readyReplicas && *decision.readyReplicas != decision.currentReplicas) {
    fields.emplace_back("ready", std::to_string(*decision.readyReplicas));
  }
  if (decision.servingReplicas != decision.currentReplicas) {
    fields.emplace_back("serving", std::to_string(decision.servingReplicas));
  }
  if (const auto& forecast = decision.forecast) {
    fields.emplace_back("forecast", formatReplicas(forecast->forecastReplicas));
    fields.emplace_back("horizon", formatHorizon(*forecast));
    fields.emplace_back("decided", forecast->decided ? "true" : "false");
  }
  if (const auto& panic = decision.panic) {
    fields.emplace_back("panic", panic->panicking ? "on" : "off");
    if (panic->panicking && panic->since) {
      fields.emplace_back("since", kube::formatTime(*panic->since));
    }
  }
}

// "desired replicas": what changed, why, and every ratio it was decided on,
// one field per metric ("ratio.kvCache"; a metric without data has none),
// so that a log search finds the metric that moved a policy.
void logDesiredReplicas(const std::string& key, const std::string& from, const core::Policy& policy,
                        const core::Decision& decision) {
  const core::MetricsSpec& metrics = policy.spec.metrics;
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  // The fields view their keys: kept here, never moved, while the line is written.
  std::array<std::string, core::kMaxMetricSlots> ratioKeys;
  std::vector<LogField> fields = {{"policy", key},
                                  {"from", from},
                                  {"desired", std::to_string(decision.desiredReplicas)},
                                  {"current", std::to_string(decision.currentReplicas)},
                                  {"algorithm", decision.algorithm},
                                  {"reason", decision.reason},
                                  {"limitedBy", std::string(core::limitedByName(decision.limitedBy))},
                                  {"ratio", decision.ratio ? formatRatio(*decision.ratio) : std::string()}};
  fields.reserve(fields.size() + slots + 7);  // the ratios, and at most 7 fields of addExplanationFields
  for (std::size_t i = 0; i < slots; ++i) {
    if (const auto& ratio = decision.ratios[i]) {
      ratioKeys[i] = std::string("ratio.").append(core::metricName(metrics, static_cast<core::MetricSlot>(i)));
      fields.emplace_back(ratioKeys[i], formatRatio(*ratio));
    }
  }
  addExplanationFields(fields, decision);
  logEvent(LogLevel::kInfo, "desired replicas", fields);
}

}  // namespace

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
    logDesiredReplicas(key, from, policy, decision);
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

void ServeListener::onPartial(const std::map<std::string, std::size_t>& states, std::size_t /*evaluated*/,
                              double seconds) {
  telemetry_.setPolicyStates(states);
  telemetry_.recordPartialEvaluation(seconds);
}

void ServeListener::onCycle(const std::map<std::string, std::size_t>& states, double seconds) {
  liveness_.cycleCompleted();
  telemetry_.setPolicyStates(states);
  telemetry_.recordCycle(seconds);
  // After reloads and /metrics scrapes, whose garbage has been freed by now.
  releaseFreedMemory();
}

}  // namespace kubeai::cli
