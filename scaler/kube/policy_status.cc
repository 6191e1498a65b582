#include "kube/policy_status.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/custom_queries.h"
#include "core/validation.h"

namespace kubeai::kube {

double detail::roundedToCents(double value) { return std::round(value * 100.0) / 100.0; }

namespace {

using nlohmann::json;

// GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string concat(std::string_view first, std::string_view second) {
  std::string out(first);
  out += second;
  return out;
}


// Keeps the lastTransitionTime of the same condition last built (or read
// from the API) when its status did not change: that is what the field means
// (metav1.Condition).
Condition carryTransition(Condition next, const std::vector<Condition>& previous) {
  const auto it = std::find_if(previous.begin(), previous.end(),
                               [&](const Condition& condition) { return condition.type == next.type; });
  if (it != previous.end() && it->status == next.status && !it->lastTransitionTime.empty()) {
    next.lastTransitionTime = it->lastTransitionTime;
  }
  return next;
}

Condition makeCondition(std::string_view type, bool status, std::string reason, std::string message,
                        std::int64_t generation, const std::string& now) {
  return Condition{std::string(type), status ? "True" : "False", std::move(reason),
                   truncateUtf8(std::move(message), kMaxConditionMessageBytes), now, generation};
}

std::string limitedByReason(core::LimitedBy limitedBy) {
  // The condition reason is the stage's name in CamelCase ("maxReplicas" -> "MaxReplicas").
  std::string reason(core::limitedByName(limitedBy));
  if (!reason.empty()) {
    reason[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(reason[0])));
  }
  return reason;
}

// Two decimals: enough for a person reading status, and fewer writes for
// noise in the last digits.

std::optional<CurrentMetrics> roundedMetrics(const std::optional<CurrentMetrics>& metrics) {
  if (!metrics) {
    return std::nullopt;
  }
  const auto round = [](const std::optional<double>& value) {
    return value ? std::optional<double>(detail::roundedToCents(*value)) : std::nullopt;
  };
  return CurrentMetrics{round(metrics->latencyP99Ms), round(metrics->latencyP95Ms),
                        round(metrics->gpuUtilizationPercent), round(metrics->requestQueueDepth)};
}

std::vector<Condition> withoutTransitionTimes(std::vector<Condition> conditions) {
  for (Condition& condition : conditions) {
    condition.lastTransitionTime.clear();
  }
  return conditions;
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    if (!out.empty()) {
      out += ", ";
    }
    out += name;
  }
  return out;
}

}  // namespace

std::string truncateUtf8(std::string text, std::size_t maxBytes) {
  if (text.size() <= maxBytes) {
    return text;
  }
  constexpr std::string_view kEllipsis = "...";
  std::size_t cut = maxBytes > kEllipsis.size() ? maxBytes - kEllipsis.size() : 0;
  // Back off over continuation bytes (10xxxxxx), not to split a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0U) == 0x80U) {
    --cut;
  }
  text.resize(cut);
  text += kEllipsis;
  return text;
}


StatusChange compareStatus(const PolicyStatus& written, const PolicyStatus& built) {
  // As written: a status read back from the API holds two decimals.
  const std::optional<CurrentMetrics> writtenMetrics = roundedMetrics(written.currentMetrics);
  const std::optional<CurrentMetrics> builtMetrics = roundedMetrics(built.currentMetrics);
  if (written.currentReplicas != built.currentReplicas || written.desiredReplicas != built.desiredReplicas ||
      written.lastAlgorithm != built.lastAlgorithm || written.lastScaleReason != built.lastScaleReason ||
      written.observedGeneration != built.observedGeneration || written.shard != built.shard ||
      withoutTransitionTimes(written.conditions) != withoutTransitionTimes(built.conditions)) {
    return StatusChange::kSignificant;
  }
  // Its presence follows the algorithm (a plugin naming no ratio, a built-in
  // that does): a change of kind, not of value.
  if (written.decidedRatio.has_value() != built.decidedRatio.has_value()) {
    return StatusChange::kSignificant;
  }
  const StatusChange metricsChange = detail::compareMetricStatuses(written.metrics, built.metrics);
  if (metricsChange == StatusChange::kSignificant) {
    return metricsChange;
  }
  const StatusChange explanationChange = detail::compareExplanations(written, built);
  if (explanationChange == StatusChange::kSignificant) {
    return explanationChange;
  }
  const bool ratioMoved = written.decidedRatio && detail::roundedToCents(*written.decidedRatio) !=
                                                      detail::roundedToCents(*built.decidedRatio);
  if (writtenMetrics != builtMetrics) {
    // Present in one and not the other is more than noise: a metric appeared or went away.
    const bool sameShape = writtenMetrics.has_value() == builtMetrics.has_value() &&
                           (!builtMetrics ||
                            (writtenMetrics->latencyP99Ms.has_value() == builtMetrics->latencyP99Ms.has_value() &&
                             writtenMetrics->latencyP95Ms.has_value() == builtMetrics->latencyP95Ms.has_value() &&
                             writtenMetrics->gpuUtilizationPercent.has_value() ==
                                 builtMetrics->gpuUtilizationPercent.has_value() &&
                             writtenMetrics->requestQueueDepth.has_value() ==
                                 builtMetrics->requestQueueDepth.has_value()));
    return sameShape ? StatusChange::kMetricsOnly : StatusChange::kSignificant;
  }
  return ratioMoved || metricsChange == StatusChange::kMetricsOnly || explanationChange == StatusChange::kMetricsOnly
             ? StatusChange::kMetricsOnly
             : StatusChange::kNone;
}

std::vector<Condition> carryTransitions(std::vector<Condition> next, const std::vector<Condition>& previous) {
  for (Condition& condition : next) {
    condition = carryTransition(std::move(condition), previous);
  }
  return next;
}

std::string unknownAlgorithmMessage(std::string_view requested, const std::vector<std::string>& available,
                                    std::string_view used) {
  std::string message = "algorithm \"";
  message += requested;
  message += "\" not found; available: ";
  message += available.empty() ? std::string("(none)") : joined(available);
  message += "; using ";
  message += used;
  return message;
}

PolicyStatus statusFromDecision(const core::Policy& policy, const core::Decision& decision,
                                const core::Observation& observation, std::optional<core::TimePoint> lastScaleTime,
                                const std::vector<std::string>& availableAlgorithms,
                                const std::vector<Condition>& previous, core::TimePoint now) {
  const std::string nowText = formatTime(now);
  const std::int64_t generation = policy.metadata.generation;
  PolicyStatus status;
  status.currentReplicas = decision.currentReplicas;
  status.desiredReplicas = decision.desiredReplicas;
  if (lastScaleTime) {
    status.lastScaleTime = formatTime(*lastScaleTime);
  }
  status.currentMetrics = CurrentMetrics{observation.latencyP99Ms, observation.latencyP95Ms,
                                         observation.gpuUtilizationPercent, observation.requestQueueDepth};
  status.metrics = metricStatuses(policy.spec.metrics, decision);
  status.lastAlgorithm = decision.algorithm;
  status.lastScaleReason = decision.reason;
  // JSON has no NaN or infinity: such a ratio (or one too large to round) is written as none.
  if (decision.ratio && std::isfinite(detail::roundedToCents(*decision.ratio))) {
    status.decidedRatio = decision.ratio;
  }
  status.readyReplicas = decision.readyReplicas;
  if (decision.measuredStartup) {
    status.startupSeconds = std::chrono::duration<double>(*decision.measuredStartup).count();
  }
  status.forecast = forecastStatus(policy.spec.metrics, decision);
  status.panic = panicStatus(decision);
  status.observedGeneration = generation;

  // Held because the plugin's process failed: said in the reason, so it shows
  // in `kubectl get` before the policy goes unavailable.
  const char* readyReason = decision.algorithmErrorReason == "PluginCrashed" ? "PluginCrashed" : "Evaluated";
  status.conditions.push_back(carryTransition(
      makeCondition(kConditionReady, true, readyReason, concat("desired replicas decided: ", decision.reason),
                    generation, nowText),
      previous));
  if (decision.algorithmValid) {
    status.conditions.push_back(carryTransition(
        makeCondition(kConditionAlgorithmValid, true, "AlgorithmFound", concat("using ", decision.algorithm), generation,
                      nowText),
        previous));
  } else {
    status.conditions.push_back(carryTransition(
        makeCondition(kConditionAlgorithmValid, false, "UnknownAlgorithm",
                      unknownAlgorithmMessage(decision.requestedAlgorithm, availableAlgorithms, decision.algorithm),
                      generation, nowText),
        previous));
  }
  if (decision.limitedBy == core::LimitedBy::kNone) {
    status.conditions.push_back(carryTransition(
        makeCondition(kConditionScalingLimited, false, "NotLimited",
                      "the desired replicas are the algorithm's recommendation", generation, nowText),
        previous));
  } else {
    std::string message = "the recommendation was limited by ";
    message += core::limitedByName(decision.limitedBy);
    status.conditions.push_back(carryTransition(
        makeCondition(kConditionScalingLimited, true, limitedByReason(decision.limitedBy), std::move(message),
                      generation, nowText),
        previous));
  }
  if (policy.spec.effectiveMinReplicas() == 0) {
    // Said where the policy is looked at, not only by `validate`: a
    // scale-to-zero policy that cannot wake looks idle, not broken.
    if (const auto warning = core::scaleToZeroWakeWarning(policy)) {
      status.conditions.push_back(carryTransition(
          makeCondition(kConditionCanWakeFromZero, false, "OnlyPodScopedMetrics", warning->toString(), generation,
                        nowText),
          previous));
    } else {
      status.conditions.push_back(carryTransition(
          makeCondition(kConditionCanWakeFromZero, true, "OutsideSignal",
                        "a metric in use is read from outside the target's pods, so it can wake from 0 replicas",
                        generation, nowText),
          previous));
    }
  }
  return status;
}

std::optional<PolicyStatus> statusFromError(const std::optional<PolicyStatus>& previous, std::int64_t generation,
                                            std::string_view errorType, const std::string& message,
                                            core::TimePoint now) {
  const bool everBuilt =
      previous && std::any_of(previous->conditions.begin(), previous->conditions.end(),
                              [](const Condition& condition) { return condition.type == kConditionReady; });
  std::string reason;
  std::string text = message;
  if (errorType == "metrics" || errorType == "algorithm") {
    if (everBuilt) {
      return std::nullopt;  // the last decision (or the held one) is still in force
    }
    reason = "Pending";
    text = concat("no decision yet: ", message);
  } else if (errorType == "stale") {
    reason = "MetricsUnavailable";
  } else if (errorType == "target_not_found") {
    reason = "TargetNotFound";
  } else if (errorType == "invalid") {
    reason = "InvalidPolicy";
  } else if (errorType == "replicas") {
    reason = "ReplicasUnavailable";
  } else if (errorType == "plugin_unavailable") {
    reason = "PluginCrashed";
  } else {
    reason = "EvaluationFailed";
  }

  PolicyStatus status = previous.value_or(PolicyStatus{});
  status.observedGeneration = generation;
  std::vector<Condition> conditions;
  conditions.push_back(carryTransition(
      makeCondition(kConditionReady, false, std::move(reason), std::move(text), generation, formatTime(now)),
      status.conditions));
  for (const Condition& condition : status.conditions) {
    if (condition.type != kConditionReady) {
      conditions.push_back(condition);
    }
  }
  status.conditions = std::move(conditions);
  return status;
}

std::string_view invalidReason(std::string_view problem) noexcept {
  return problem.starts_with(core::kCustomQueryDeniedPrefix) ? core::kCustomQueryDeniedReason : "InvalidPolicy";
}

PolicyStatus statusFromInvalid(const std::optional<PolicyStatus>& previous, std::int64_t generation,
                               const std::string& message, core::TimePoint now) {
  // An invalid policy is never evaluated: no AlgorithmValid or ScalingLimited
  // would be true of it, so Ready is the only condition.
  PolicyStatus status;
  status.observedGeneration = generation;
  status.clearDecision = true;
  status.conditions.push_back(
      carryTransition(makeCondition(kConditionReady, false, std::string(invalidReason(message)), message, generation,
                                    formatTime(now)),
                      previous ? previous->conditions : std::vector<Condition>{}));
  return status;
}

std::vector<PendingEvent> eventsForDecision(EventMemory& memory, const core::Decision& decision,
                                            const std::vector<std::string>& availableAlgorithms) {
  std::vector<PendingEvent> events;
  const bool unknown = !decision.algorithmValid;
  if (unknown && !memory.unknownAlgorithm) {
    events.push_back({EventType::kWarning, "UnknownAlgorithm",
                      unknownAlgorithmMessage(decision.requestedAlgorithm, availableAlgorithms, decision.algorithm)});
  }
  memory.unknownAlgorithm = unknown;

  const bool failed = !decision.algorithmError.empty();
  if (failed && !memory.pluginError) {
    std::string message = "algorithm ";
    message += decision.algorithm;
    message += " failed, holding current replicas: ";
    message += decision.algorithmError;
    // A plugin whose process crashed, hung or broke the protocol, apart from
    // one that returned an error of its own.
    const bool crashed = decision.algorithmErrorReason == "PluginCrashed";
    events.push_back({EventType::kWarning, crashed ? "PluginCrashed" : "PluginError", std::move(message)});
  }
  memory.pluginError = failed;

  if (memory.desiredReplicas && *memory.desiredReplicas != decision.desiredReplicas) {
    std::string message = "desired replicas ";
    message += std::to_string(*memory.desiredReplicas);
    message += " -> ";
    message += std::to_string(decision.desiredReplicas);
    message += ": ";
    message += decision.reason;
    events.push_back({EventType::kNormal, "DesiredReplicasChanged", std::move(message)});
  }
  memory.desiredReplicas = decision.desiredReplicas;
  return events;
}

}  // namespace kubeai::kube
