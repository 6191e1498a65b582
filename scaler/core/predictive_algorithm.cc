#include "core/predictive_algorithm.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/algorithm_parameters.h"
#include "core/builtin_algorithms.h"
#include "core/holt_forecast.h"
#include "core/replica_calculator.h"

namespace kubeai::core {
namespace {

constexpr NumberParameter kHorizon{"horizonSeconds", 0.0, 3600.0, true,
                                   "seconds, without a unit; leave it out to forecast over the start-up time measured"};
constexpr NumberParameter kAlpha{"alpha", 0.0, 1.0, true};
constexpr NumberParameter kBeta{"beta", 0.0, 1.0, true};
// Demand in replicas' worth beyond this many times maxReplicas is read as this.
constexpr double kDemandCeilingFactor = 4.0;
// A forecast never asks for more than this many times the demand now (at
// least one replica's worth).
constexpr double kMaxGrowthPerHorizon = 2.0;
// A forecast below this many replicas' worth is 0.
constexpr double kNegligibleDemand = 0.05;

struct PredictiveParameters {
  std::optional<std::chrono::milliseconds> horizon;
  HoltParameters holt;
};

Result<PredictiveParameters> parse(const AlgorithmParameters& parameters) {
  ParameterProblems problems;
  problems.add(knownParameters(parameters, {kHorizon.key, kAlpha.key, kBeta.key}, PredictiveAlgorithm::kName));
  PredictiveParameters out;
  auto horizon = numberParameter(parameters, kHorizon, PredictiveAlgorithm::kName);
  auto alpha = numberParameter(parameters, kAlpha, PredictiveAlgorithm::kName);
  auto beta = numberParameter(parameters, kBeta, PredictiveAlgorithm::kName);
  for (const auto* result : {&horizon, &alpha, &beta}) {
    problems.add(*result);
  }
  if (problems.any()) {
    return problems.error();
  }
  if (horizon.value()) {
    out.horizon = std::chrono::milliseconds(static_cast<std::int64_t>(*horizon.value() * 1000.0 + 0.5));
  }
  out.holt.alpha = alpha.value().value_or(out.holt.alpha);
  out.holt.beta = beta.value().value_or(out.holt.beta);
  return out;
}

HoltState& stateOf(std::vector<HoltState>& states, MetricSlot slot) {
  for (HoltState& state : states) {
    if (state.slot == slot) {
      return state;
    }
  }
  states.push_back(HoltState{.slot = slot});
  return states.back();
}

std::uint64_t customIdentity(const MetricsSpec& metrics, std::size_t index) {
  const CustomMetricSpec& custom = metrics.custom[index];
  return metricIdentity(customSlot(index), custom.name, metricTargetTypeName(custom.targetType));
}

}  // namespace

bool modelFits(const HoltState& model, std::uint64_t identity, double target) noexcept {
  return (model.target <= 0.0 || model.target == target) && (model.metric == 0 || model.metric == identity);
}

void followMetrics(const MetricsSpec& metrics, std::vector<HoltState>& models) {
  const std::size_t customs = std::min(metrics.custom.size(), kMaxCustomMetrics);
  std::erase_if(models, [&](HoltState& model) {
    // A seed slot always holds its metric; a model of unknown metric (0:
    // made without the metric's details) has nothing to follow.
    if (!isCustomSlot(model.slot) || model.metric == 0) {
      return false;
    }
    const std::size_t index = customIndex(model.slot);
    if (index < customs && customIdentity(metrics, index) == model.metric) {
      return false;  // where it was: no edit moved it
    }
    for (std::size_t i = 0; i < customs; ++i) {
      if (customIdentity(metrics, i) == model.metric) {
        model.slot = customSlot(i);
        return false;
      }
    }
    return true;
  });
}

Result<AlgorithmOutput> PredictiveAlgorithm::compute(const AlgorithmInput& input) const {
  static const AlgorithmParameters kNone;
  Result<PredictiveParameters> parsed = parse(input.parameters != nullptr ? *input.parameters : kNone);
  if (!parsed.ok()) {
    return parsed.error();
  }
  const PredictiveParameters& parameters = parsed.value();
  Result<AlgorithmOutput> reactive = fallbackAlgorithm().compute(input);
  if (!reactive.ok()) {
    return reactive;
  }
  AlgorithmOutput output = std::move(reactive.value());

  ForecastExplanation explanation;
  std::chrono::milliseconds horizon = kDefaultHorizon;
  if (parameters.horizon) {
    horizon = *parameters.horizon;
    explanation.horizonSource = HorizonSource::kParameter;
  } else if (input.measuredStartup) {
    horizon = *input.measuredStartup;
    explanation.horizonSource = HorizonSource::kMeasured;
  }
  explanation.horizonSeconds = std::chrono::duration<double>(horizon).count();
  explanation.reactiveReplicas = output.desiredReplicas;
  explanation.reactiveHeld = output.held;
  explanation.reactiveRatio = output.ratio;

  // Demand in replicas' worth: ratios of per-pod metrics are already scaled to
  // the current replicas (AlgorithmInput::servingReplicas), so ratio x current
  // stays put while our own scale-up lands.
  const double current = std::max(input.currentReplicas, 1);
  // One reading far out of any scale (a GPU at 1e308 %) must not leave a
  // level that takes hundreds of observations to decay.
  const double demandCeiling = kDemandCeilingFactor * std::max(input.maxReplicas, 1);
  HoltState scratch;
  bool first = true;
  const bool starting = input.readyCounted && input.servingReplicas < input.currentReplicas;
  for (std::size_t i = 0; i < input.ratios.size(); ++i) {
    const MetricRatio& metric = input.ratios[i];
    const MetricDetail* detail = i < input.metrics.size() ? &input.metrics[i] : nullptr;
    // A saturated percentage is left whole while pods start (MaxRatio's
    // lower bound, x current); to the model it is the ready pods' reading
    // like any other (x serving), or the series would jump by current /
    // ready as the reading reaches 100 % and back as it leaves it.
    const bool whole = starting && detail != nullptr && detail->targetType != "AverageValue" &&
                       isSaturated(detail->capped, detail->value);
    const double replicasOfRatio = whole ? std::max(input.servingReplicas, 1) : current;
    const double demand = std::min(metric.ratio * replicasOfRatio, demandCeiling);
    const double target = detail != nullptr ? detail->target : 0.0;
    const std::uint64_t identity = detail != nullptr ? metricIdentity(metric.slot, detail->name, detail->targetType) : 0;
    HoltState& state = input.memory != nullptr ? stateOf(input.memory->forecasts, metric.slot) : scratch;
    if (input.memory == nullptr) {
      state = HoltState{.slot = metric.slot};
    }
    // An edit of the metric's target moves its demand at once, and another
    // metric in the slot (a custom one renamed) is another series: either
    // step is the policy's, not the load's, so the model starts again.
    if (!modelFits(state, identity, target)) {
      state = HoltState{.slot = metric.slot};
    }
    state.target = target;
    state.metric = identity;
    // Without the ready replicas counted, our own scale-up moves ratio x
    // current while the metrics still describe the pods before it: that jump
    // is no trend of the load.
    // A model resumed from a status anyone may write, or kept across an edit
    // of maxReplicas, is brought within what live demand can be.
    state.level = std::clamp(state.level, 0.0, demandCeiling);
    state.trendPerSecond = std::clamp(state.trendPerSecond, -demandCeiling / 5.0, demandCeiling / 5.0);
    const bool replicasMoved = state.replicas >= 0 && state.replicas != input.currentReplicas;
    holtObserve(state, demand, input.now, parameters.holt,
                replicasMoved && !input.readyCounted ? HoltUpdate::kLevelOnly : HoltUpdate::kFull);
    state.replicas = input.currentReplicas;
    // At most twice the demand now a horizon ahead: a metric that climbs
    // with its own backlog while the pods start (a queue, a saturation)
    // would otherwise have its climb extended a start-up further.
    double forecast = std::min(holtForecast(state, horizon), kMaxGrowthPerHorizon * std::max(demand, 1.0));
    if (forecast < kNegligibleDemand) {
      forecast = 0.0;  // the smoothing's residue as the load falls to 0, not load
    }
    if (first || forecast > explanation.forecastReplicas) {
      explanation.slot = metric.slot;
      explanation.demandReplicas = demand;
      explanation.forecastReplicas = forecast;
      explanation.trendPerMinute = state.trendPerSecond * 60.0;
      explanation.observations = state.observations;
      first = false;
    }
  }

  const RatioScaling ahead = scaleByRatio(input.currentReplicas, explanation.forecastReplicas / current, input.tolerance);
  explanation.forecastDesired = ahead.held ? input.currentReplicas : ahead.replicas;
  // The larger of the two answers: a forecast within tolerance of the current
  // replicas is an answer too (hold them), against a reactive scale-down.
  if (explanation.forecastDesired > output.desiredReplicas) {
    output.desiredReplicas = explanation.forecastDesired;
    output.reason = ahead.held ? kReasonWithinTolerance : kReasonPredictive;
    output.ratio = explanation.forecastReplicas / current;
    output.held = ahead.held;
    explanation.decided = true;
  }
  output.forecast = explanation;
  return output;
}

Status PredictiveAlgorithm::validateParameters(const ValidateInput& input) const {
  Result<PredictiveParameters> parsed = parse(*input.parameters);
  return parsed.ok() ? Status(Ok{}) : Status(parsed.error());
}

}  // namespace kubeai::core
