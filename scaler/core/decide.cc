#include "core/decide.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <utility>

#include "core/behavior.h"
#include "core/builtin_algorithms.h"
#include "core/replica_calculator.h"

namespace kubeai::core {
namespace {

struct Recommendation {
  std::int32_t replicas = 0;
  std::string reason;
  std::optional<double> ratio;
  std::string error;
};

Recommendation recommend(const Policy& policy, const SlotRatios& ratios, std::int32_t current,
                         const ScalingAlgorithm& algorithm) {
  std::array<MetricRatio, kMetricSlotCount> present{};
  std::size_t count = 0;
  for (MetricSlot slot : kAllMetricSlots) {
    if (const auto& ratio = ratios[slotIndex(slot)]) {
      present[count++] = MetricRatio{slot, *ratio};
    }
  }
  if (count == 0) {
    return {current, kReasonNoMetrics, std::nullopt, {}};
  }

  const PolicySpec& spec = policy.spec;
  const AlgorithmInput input{
      .currentReplicas = current,
      .minReplicas = spec.effectiveMinReplicas(),
      .maxReplicas = spec.maxReplicas,
      .ratios = std::span<const MetricRatio>(present.data(), count),
      .tolerance = spec.algorithm.tolerance,
      .weights = spec.algorithm.weights,
      .policyName = policy.metadata.name,
      .policyNamespace = policy.metadata.namespace_,
      .parameters = &spec.algorithm.parameters,
  };
  Result<AlgorithmOutput> output = algorithm.compute(input);
  if (!output.ok()) {
    const std::string& message = output.error().message;
    return {current, "algorithm " + std::string(algorithm.name()) + " failed, holding current replicas: " + message,
            std::nullopt, message};
  }
  AlgorithmOutput& result = output.value();
  return {result.desiredReplicas, std::move(result.reason), result.ratio, {}};
}

}  // namespace

Outcome decide(const Policy& policy, const Observation& observation, History history, TimePoint now,
               const AlgorithmRegistry& algorithms, const DecideSettings& settings) {
  const PolicySpec& spec = policy.spec;
  Decision decision;
  decision.currentReplicas = std::max(observation.currentReplicas, 0);
  decision.ratios = computeRatios(spec, observation);
  decision.requestedAlgorithm = spec.algorithm.name.empty() ? kDefaultAlgorithm : spec.algorithm.name;

  // The shared_ptr keeps a plugin loaded for the duration of the call even if
  // it is replaced meanwhile.
  const std::shared_ptr<const ScalingAlgorithm> found = algorithms.find(decision.requestedAlgorithm);
  const ScalingAlgorithm& algorithm = found ? *found : fallbackAlgorithm();
  decision.algorithmValid = found != nullptr;
  decision.algorithm = std::string(algorithm.name());

  Recommendation recommendation = recommend(policy, decision.ratios, decision.currentReplicas, algorithm);
  if (recommendation.replicas < 0) {
    recommendation.error = "returned negative desired replicas (" + std::to_string(recommendation.replicas) + ")";
    recommendation.reason = "algorithm " + decision.algorithm + " failed, holding current replicas: " +
                            recommendation.error;
    recommendation.replicas = decision.currentReplicas;
  }
  decision.recommendedReplicas = recommendation.replicas;
  decision.reason = std::move(recommendation.reason);
  decision.ratio = recommendation.ratio;
  decision.algorithmError = std::move(recommendation.error);

  const Anchor anchor = anchorOn(history, decision.currentReplicas, now, settings.reactionTime);
  decision.anchorReplicas = anchor.replicas;
  std::int32_t replicas = decision.recommendedReplicas;
  // The metrics still describe the pods that made them, not our change on
  // its way: a recommendation between the two (a hold included) does not
  // undo that change.
  if (anchor.inFlight && replicas >= std::min(anchor.replicas, decision.currentReplicas) &&
      replicas <= std::max(anchor.replicas, decision.currentReplicas)) {
    replicas = anchor.replicas;
  }
  const std::int32_t stabilizedFrom = replicas;  // what the windows remember
  auto apply = [&](std::int32_t limited, LimitedBy by) {
    if (limited != replicas) {
      replicas = limited;
      decision.limitedBy = by;
    }
  };

  apply(stabilize(replicas, anchor.replicas, history, spec, now), LimitedBy::kStabilization);
  const RateLimited rateLimited = limitRate(replicas, anchor.replicas, history, spec, now);
  apply(rateLimited.replicas, rateLimited.limitedBy);

  const std::int32_t minReplicas = spec.effectiveMinReplicas();
  const std::int32_t maxReplicas = std::max(spec.maxReplicas, minReplicas);
  auto clampToBounds = [&] {
    apply(std::max(replicas, minReplicas), LimitedBy::kMinReplicas);
    apply(std::min(replicas, maxReplicas), LimitedBy::kMaxReplicas);
  };
  clampToBounds();

  // The original reconciler skipped scaling during the cooldown, leaving the
  // workload where it was: hold the anchor, never an older published value.
  const std::chrono::seconds cooldown(spec.effectiveCooldownSeconds());
  if (history.lastChangeAt && replicas != anchor.replicas && now - *history.lastChangeAt < cooldown) {
    apply(anchor.replicas, LimitedBy::kCooldown);
    // Bounds still win if the policy's min/max changed during the cooldown.
    clampToBounds();
  }

  decision.desiredReplicas = replicas;
  History next = recordDecision(std::move(history), spec, now, anchor, decision.currentReplicas, stabilizedFrom,
                                replicas);
  return Outcome{std::move(decision), std::move(next)};
}

}  // namespace kubeai::core
