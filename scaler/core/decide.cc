#include "core/decide.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <new>
#include <span>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "core/behavior.h"
#include "core/builtin_algorithms.h"
#include "core/metric_target.h"
#include "core/predictive_algorithm.h"
#include "core/replica_calculator.h"
#include "core/startup_tracking.h"

namespace kubeai::core {
namespace {

struct Recommendation {
  std::int32_t replicas = 0;
  std::string reason;
  std::optional<double> ratio;
  std::string error;
  bool held = false;  // the current replicas kept on purpose (no metrics, tolerance, a failure)
  std::string unservable;  // the algorithm cannot serve at all (after a failure)
  std::string errorReason;
  std::optional<ForecastExplanation> forecast;
  std::optional<PanicExplanation> panic;
};

// The present metrics of one decision, ratios and details side by side, as
// the algorithm gets them. The details stay unconstructed until filled: a
// decision writes the few present slots, not all twenty.
class PresentMetrics {
 public:
  PresentMetrics() {}  // NOLINT: leaves the storage unconstructed on purpose
  void add(const MetricDetail& detail) {
    ratios_[count_] = MetricRatio{detail.slot, detail.ratio};
    new (&details_[count_]) MetricDetail(detail);
    ++count_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return count_; }
  [[nodiscard]] std::span<const MetricRatio> ratios() const noexcept { return {ratios_.data(), count_}; }
  [[nodiscard]] std::span<const MetricDetail> details() const noexcept { return {details_, count_}; }

 private:
  static_assert(std::is_trivially_destructible_v<MetricDetail>);
  std::array<MetricRatio, kMaxMetricSlots> ratios_;
  union {
    MetricDetail details_[kMaxMetricSlots];
  };
  std::size_t count_ = 0;
};

constexpr const char* kReasonStartingOverTarget =
    "holding current replicas: the ready ones are over target while the rest start";

// The replicas serving the load the metrics describe: the current ones, or
// under spec.startupAware the ready ones (at least 1, as Knative counts them)
// while fewer are ready than asked for.
std::int32_t servingReplicas(const PolicySpec& spec, const Observation& observation, std::int32_t current) {
  if (spec.effectiveStartupAware() && observation.readyReplicas && *observation.readyReplicas < current) {
    return std::max(*observation.readyReplicas, std::int32_t{1});
  }
  return current;
}

// Reads every slot of the policy once: what was observed and its ratio into
// the decision, the present ones into `present`. A per-pod metric (every
// target but AverageValue's) describes the `serving` replicas only: its ratio
// is scaled by serving / current, so that ceil(current x ratio) is the demand
// and the replicas still starting count as capacity, unless it is a saturated
// percentage. A total (AverageValue, the queue) already is: total / (target x
// current).
// `readyOverTarget`: a per-pod metric scaled so is over its target on the
// ready pods.
void readSlots(const PolicySpec& spec, const Observation& observation, std::int32_t serving, Decision& decision,
               PresentMetrics& present, bool& readyOverTarget) {
  const std::size_t slots = std::min(slotCount(spec.metrics), kMaxMetricSlots);
  const double replicas = std::max(observation.currentReplicas, 1);
  const double perPodScale = serving < observation.currentReplicas ? serving / replicas : 1.0;
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<MetricSlot>(i);
    const MetricTarget target = metricTarget(spec.metrics, slot);
    if (!target.enabled) {
      continue;
    }
    // Set value by value, never a fresh optional copied whole: that copy
    // stalled on store forwarding, a fifth of a decision's time.
    const std::optional<double> value = observation.value(slot);
    if (value) {
      decision.values.set(i, *value);
    }
    const std::optional<double> computed = metricRatio(value, target.target, target.perReplica ? replicas : 1.0);
    if (computed) {
      // A capped percentage (a GPU, a KV cache: MetricTarget::capped) at 100 %
      // (or above) is saturated: it shows no more than that the pods are
      // full, so the load may be any multiple of it, and the replicas on their
      // way are no known match for it. Such a ratio is a lower bound, kept
      // whole, and stacking scale-ups is how the HPA probes it.
      const bool saturated = isSaturated(target.capped, *value);
      const bool scaled = !target.perReplica && !saturated && perPodScale < 1.0;
      const double ratio = scaled ? *computed * perPodScale : *computed;
      readyOverTarget = readyOverTarget || (scaled && *computed > 1.0);
      decision.ratios.set(i, ratio);
      present.add(
          MetricDetail{slot, target.name, *value, target.unit, *target.target, target.targetType, ratio, target.capped});
    }
  }
}

// WeightedRatio's weight per slot: the positional `weights` for the seed
// four (missing entries weigh 1.0), each custom metric's own after them. A
// policy without custom metrics hands its weights on as written.
std::span<const double> slotWeights(const PolicySpec& spec, std::array<double, kMaxMetricSlots>& storage) {
  const auto& custom = spec.metrics.custom;
  if (custom.empty()) {
    return spec.algorithm.weights;
  }
  const auto& weights = spec.algorithm.weights;
  for (std::size_t i = 0; i < kMetricSlotCount; ++i) {
    storage[i] = i < weights.size() ? weights[i] : 1.0;
  }
  const std::size_t count = std::min(custom.size(), kMaxCustomMetrics);
  for (std::size_t i = 0; i < count; ++i) {
    storage[kMetricSlotCount + i] = custom[i].weight;
  }
  return std::span<const double>(storage.data(), kMetricSlotCount + count);
}

// Predictive's models, for the status to keep (PublishedSeed). A decision
// without metrics never ran Predictive: its models stand as they were, and
// carried on a restart in that gap still resumes them. A model whose slot no
// longer holds its metric (a custom metric renamed, a target edited, while
// that slot had no data) is left out: the status names models by the spec's
// metric now, and a restart must not resume one under another's name. A
// present slot's model was just fitted to its metric by Predictive itself.
void carryForecastModels(const MetricsSpec& metrics, const SlotRatios& present, const std::vector<HoltState>& models,
                         std::vector<HoltState>& carried) {
  const std::size_t slots = std::min(slotCount(metrics), kMaxMetricSlots);
  carried.reserve(models.size());
  for (const HoltState& model : models) {
    if (slotIndex(model.slot) >= slots) {
      continue;
    }
    if (present.has(slotIndex(model.slot))) {
      carried.push_back(model);
      continue;
    }
    const MetricTarget target = metricTarget(metrics, model.slot);
    if (modelFits(model, metricIdentity(model.slot, target.name, target.targetType),
                  target.target.value_or(0.0))) {
      carried.push_back(model);
    }
  }
}

// What recommend() hands the algorithm beyond the policy and the metrics.
struct Situation {
  std::int32_t current = 0;
  std::optional<std::int32_t> ready;
  std::int32_t serving = 0;
  std::optional<std::chrono::milliseconds> measuredStartup;
  AlgorithmMemory* memory = nullptr;
};

Recommendation recommend(const Policy& policy, const PresentMetrics& present, const Situation& situation,
                         const ScalingAlgorithm& algorithm, TimePoint now, const DecideSettings& settings) {
  const std::int32_t current = situation.current;
  if (present.size() == 0) {
    return {current, kReasonNoMetrics, std::nullopt, {}, true, {}, {}, {}, {}};
  }

  const PolicySpec& spec = policy.spec;
  std::array<double, kMaxMetricSlots> weightStorage{};
  const AlgorithmInput input{
      .currentReplicas = current,
      .minReplicas = spec.effectiveMinReplicas(),
      .maxReplicas = spec.maxReplicas,
      .ratios = present.ratios(),
      .tolerance = spec.algorithm.tolerance,
      .weights = slotWeights(spec, weightStorage),
      .policyName = policy.metadata.name,
      .policyNamespace = policy.metadata.namespace_,
      .parameters = &spec.algorithm.parameters,
      .metrics = present.details(),
      .now = now,
      .reason = settings.reason,
      .cycle = settings.cycle,
      .readyReplicas = situation.ready,
      .servingReplicas = situation.serving,
      .readyCounted = situation.ready.has_value() && policy.spec.effectiveStartupAware(),
      .measuredStartup = situation.measuredStartup,
      .memory = situation.memory,
  };
  Result<AlgorithmOutput> output = algorithm.compute(input);
  if (!output.ok()) {
    const std::string& message = output.error().message;
    return {current,
            "algorithm " + std::string(algorithm.name()) + " failed, holding current replicas: " + message,
            std::nullopt,
            message,
            true,
            algorithm.unservableReason().value_or(std::string()),
            output.error().reason,
            {},
            {}};
  }
  AlgorithmOutput& result = output.value();
  return {result.desiredReplicas, std::move(result.reason), result.ratio, {}, result.held, {}, {}, result.forecast,
          result.panic};
}

}  // namespace

Outcome decide(const Policy& policy, const Observation& observation, History history, TimePoint now,
               const AlgorithmRegistry& algorithms, const DecideSettings& settings) {
  const PolicySpec& spec = policy.spec;
  Outcome outcome;  // filled in place: a Decision is large enough for copies to show
  Decision& decision = outcome.decision;
  decision.currentReplicas = std::max(observation.currentReplicas, 0);
  decision.readyReplicas = observation.readyReplicas;
  decision.servingReplicas = servingReplicas(spec, observation, decision.currentReplicas);
  PresentMetrics present;
  bool readyOverTarget = false;
  readSlots(spec, observation, decision.servingReplicas, decision, present, readyOverTarget);
  observeStartup(history.startup, decision.currentReplicas, observation.readyReplicas, now);
  decision.requestedAlgorithm = spec.algorithm.name.empty() ? kDefaultAlgorithm : spec.algorithm.name;

  // The shared_ptr keeps a plugin loaded for the duration of the call even if
  // it is replaced meanwhile.
  const std::shared_ptr<const ScalingAlgorithm> found = algorithms.find(decision.requestedAlgorithm);
  const ScalingAlgorithm& algorithm = found ? *found : fallbackAlgorithm();
  decision.algorithmValid = found != nullptr;
  decision.algorithm = std::string(algorithm.name());

  if (!history.memory.forecasts.empty()) {
    followMetrics(spec.metrics, history.memory.forecasts);
  }
  const Situation situation{decision.currentReplicas, observation.readyReplicas, decision.servingReplicas,
                            measuredStartup(history.startup), &history.memory};
  Recommendation recommendation = recommend(policy, present, situation, algorithm, now, settings);
  if (recommendation.replicas < 0) {
    recommendation.error = "returned negative desired replicas (" + std::to_string(recommendation.replicas) + ")";
    recommendation.reason = "algorithm " + decision.algorithm + " failed, holding current replicas: " +
                            recommendation.error;
    recommendation.replicas = decision.currentReplicas;
    recommendation.held = true;
  }
  if (readyOverTarget && recommendation.replicas < decision.currentReplicas && recommendation.error.empty()) {
    // As the HPA counts unready pods on a scale-up (replica_calculator.go):
    // when counting the pods still starting turns the ready pods' "more"
    // into "fewer", hold. The algorithm still saw the demand as it is.
    recommendation.replicas = decision.currentReplicas;
    recommendation.reason = kReasonStartingOverTarget;
    recommendation.held = true;
    if (recommendation.forecast && recommendation.forecast->decided) {
      // The hold decided, not the forecast; the ratio is MaxRatio's, as a
      // decision the forecast did not decide says (status: decidedRatio).
      recommendation.forecast->decided = false;
      recommendation.ratio = recommendation.forecast->reactiveRatio;
    }
  }
  // The forecast's answer is the recommendation (not a hold's of the pods
  // starting): the windows remember MaxRatio's too (below).
  bool forecastRaised = recommendation.forecast && recommendation.forecast->decided &&
                        recommendation.error.empty() &&
                        recommendation.replicas == recommendation.forecast->forecastDesired;
  decision.recommendedReplicas = recommendation.replicas;
  decision.reason = std::move(recommendation.reason);
  decision.ratio = recommendation.ratio;
  decision.algorithmError = std::move(recommendation.error);
  decision.algorithmUnservable = std::move(recommendation.unservable);
  decision.algorithmErrorReason = std::move(recommendation.errorReason);
  decision.forecast = recommendation.forecast;
  decision.panic = recommendation.panic;
  decision.measuredStartup = situation.measuredStartup;
  if (decision.forecast || decision.algorithm == PredictiveAlgorithm::kName) {
    carryForecastModels(spec.metrics, decision.ratios, history.memory.forecasts, decision.forecastModels);
  }

  const std::int32_t current = decision.currentReplicas;
  Anchor anchor = anchorOn(history, current, now, settings.reactionTime);
  std::int32_t replicas = decision.recommendedReplicas;
  bool held = recommendation.held;
  // An answer the other way than our change on its way voids the change.
  auto against = [&](std::int32_t answer) {
    if (!anchor.change) {
      return false;
    }
    const std::int64_t ours = std::int64_t{anchor.change->replicas} - current;
    const std::int64_t wanted = std::int64_t{answer} - current;
    return wanted != 0 && (wanted > 0) != (ours > 0);
  };
  // A hold keeps the change on its way: the metrics still describe the pods
  // before it, and tolerance must not undo it next cycle.
  auto keptBy = [&](std::int32_t answer, bool answerHeld) {
    return anchor.change && anchor.onItsWay && answerHeld && !against(answer) ? anchor.replicas : answer;
  };
  // MaxRatio's answer through the same holds as the decision's: what the
  // windows would remember of this decision without the forecast.
  std::int32_t reactive = replicas;
  if (forecastRaised) {
    ForecastExplanation& forecast = *decision.forecast;
    const std::int32_t answer =
        readyOverTarget ? std::max(forecast.reactiveReplicas, current) : forecast.reactiveReplicas;
    const bool answerHeld = forecast.reactiveHeld || answer != forecast.reactiveReplicas;
    reactive = keptBy(answer, answerHeld);
    if (reactive > keptBy(replicas, held)) {
      // A change on its way, kept by one answer's hold and not the other's,
      // puts MaxRatio's above the forecast's: a forecast only ever raises the
      // answer, so the decision is MaxRatio's.
      decision.recommendedReplicas = answer;
      decision.reason = answer != forecast.reactiveReplicas ? kReasonStartingOverTarget
                        : forecast.reactiveHeld             ? kReasonWithinTolerance
                                                            : kReasonMaxRatio;
      decision.ratio = forecast.reactiveRatio;
      forecast.decided = false;
      forecastRaised = false;
      replicas = answer;
      held = answerHeld;
    }
  }
  if (against(replicas)) {
    // The current replicas are the anchor (a scale-up never returns less).
    anchor.dropped = anchor.change;
    anchor.change.reset();
    anchor.onItsWay = false;
    anchor.replicas = current;
  } else {
    replicas = keptBy(replicas, held);
  }
  if (anchor.dropped) {
    settle(history, *anchor.dropped);
  } else if (anchor.change && !anchor.onItsWay && !anchor.change->settled) {
    settle(history, *anchor.change);
    anchor.change->settled = true;
  }
  decision.anchorReplicas = anchor.replicas;
  // What the windows remember. A forecast's answer counts whole in the
  // scale-down window as long as it looks ahead: past its horizon the load
  // has borne it out (MaxRatio's answer holds as much) or not, and a forecast
  // not borne out must not keep the replicas for a whole window.
  TimedRecommendation stabilizedFrom(now, replicas);
  if (forecastRaised) {
    stabilizedFrom.reactive = std::clamp(reactive, 0, replicas);
    stabilizedFrom.forecastUntil =
        now + std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::duration<double>(decision.forecast->horizonSeconds));
  }
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
  // workload where it was: hold the anchor (or our change while it stands),
  // never an older published value the world has moved away from.
  const std::chrono::seconds cooldown(spec.effectiveCooldownSeconds());
  if (history.lastChangeAt && replicas != anchor.held() && now - *history.lastChangeAt < cooldown) {
    apply(anchor.held(), LimitedBy::kCooldown);
    // Bounds still win if the policy's min/max changed during the cooldown.
    clampToBounds();
  }

  decision.desiredReplicas = replicas;
  outcome.history = recordDecision(std::move(history), spec, now, anchor, decision.currentReplicas, stabilizedFrom,
                                   replicas);
  return outcome;
}

}  // namespace kubeai::core
