// status.forecast, status.panic, readyReplicas and startupSeconds: what
// Predictive and Burst saw and what start-up awareness counted on
// (policy_status.h), built from a decision and compared as written.
#include <algorithm>
#include <cmath>

#include "core/algorithm_explanation.h"
#include "kube/client/kube_time.h"
#include "kube/policy_status.h"

namespace kubeai::kube {
namespace {

// As written: no number JSON cannot hold once rounded.
std::optional<double> writableCents(double value) {
  return std::isfinite(detail::roundedToCents(value)) ? std::optional<double>(value) : std::nullopt;
}

std::optional<double> writableMillis(double value) {
  return std::isfinite(detail::roundedToMillis(value)) ? std::optional<double>(value) : std::nullopt;
}

std::optional<double> cents(const std::optional<double>& value) {
  return value ? std::optional<double>(detail::roundedToCents(*value)) : std::nullopt;
}

std::optional<double> millis(const std::optional<double>& value) {
  return value ? std::optional<double>(detail::roundedToMillis(*value)) : std::nullopt;
}

std::optional<std::string> timeText(const std::optional<core::TimePoint>& time) {
  return time ? std::optional<std::string>(formatTime(*time)) : std::nullopt;
}

// Significant: what says which model, horizon or verdict the forecast is.
// Moved: the numbers that follow the load.
StatusChange compareForecasts(const ForecastStatus& was, const ForecastStatus& is) {
  if (was.metric != is.metric || was.horizonSource != is.horizonSource || was.decided != is.decided ||
      millis(was.horizonSeconds) != millis(is.horizonSeconds) || was.models.size() != is.models.size()) {
    return StatusChange::kSignificant;
  }
  bool moved = cents(was.demandReplicas) != cents(is.demandReplicas) ||
               cents(was.forecastReplicas) != cents(is.forecastReplicas) ||
               cents(was.trendPerMinute) != cents(is.trendPerMinute) || was.reactiveReplicas != is.reactiveReplicas ||
               was.forecastDesiredReplicas != is.forecastDesiredReplicas;
  for (std::size_t i = 0; i < is.models.size(); ++i) {
    const ForecastModelStatus& wasModel = was.models[i];
    const ForecastModelStatus& isModel = is.models[i];
    if (wasModel.metric != isModel.metric) {
      return StatusChange::kSignificant;
    }
    // observedAt is a timestamp: it moves with observations, never alone.
    moved = moved || wasModel.level != isModel.level || wasModel.trendPerSecond != isModel.trendPerSecond ||
            wasModel.observations != isModel.observations;
  }
  return moved ? StatusChange::kMetricsOnly : StatusChange::kNone;
}

StatusChange comparePanics(const PanicStatus& was, const PanicStatus& is) {
  // While panicking, lastOverThreshold is what a restart resumes the panic
  // from (status_seed.h): written at the limited rate (a minute), it would be
  // a stable window old, and the panic dropped, at the first decision after a
  // restart. A panic is short; each extension is written.
  if (was.panicking != is.panicking || was.since != is.since || was.maxPanicReplicas != is.maxPanicReplicas ||
      cents(was.panicThreshold) != cents(is.panicThreshold) ||
      (is.panicking && was.lastOverThreshold != is.lastOverThreshold)) {
    return StatusChange::kSignificant;
  }
  // saturated follows the load as the ratio does.
  const bool moved = was.lastOverThreshold != is.lastOverThreshold || was.saturated != is.saturated ||
                     cents(was.stableReplicas) != cents(is.stableReplicas) ||
                     cents(was.panicReplicas) != cents(is.panicReplicas) ||
                     cents(was.panicRatio) != cents(is.panicRatio);
  return moved ? StatusChange::kMetricsOnly : StatusChange::kNone;
}

}  // namespace

double detail::roundedToMillis(double value) { return std::round(value * 1000.0) / 1000.0; }

std::optional<ForecastStatus> forecastStatus(const core::MetricsSpec& metrics, const core::Decision& decision) {
  if (!decision.forecast && decision.forecastModels.empty()) {
    return std::nullopt;
  }
  ForecastStatus out;
  // Without a forecast (Predictive held without metrics) only the models are
  // written, as they stood: no forecast was made, and a restart in that gap
  // must still resume them.
  if (decision.forecast) {
    const core::ForecastExplanation& forecast = *decision.forecast;
    out.metric = std::string(core::metricName(metrics, forecast.slot));
    out.horizonSeconds = writableMillis(forecast.horizonSeconds);
    out.horizonSource = std::string(core::horizonSourceName(forecast.horizonSource));
    out.demandReplicas = writableCents(forecast.demandReplicas);
    out.forecastReplicas = writableCents(forecast.forecastReplicas);
    out.trendPerMinute = writableCents(forecast.trendPerMinute);
    out.reactiveReplicas = forecast.reactiveReplicas;
    out.forecastDesiredReplicas = forecast.forecastDesired;
    out.decided = forecast.decided;
  }
  for (const core::HoltState* model : forecastModelsWritten(metrics, decision)) {
    out.models.push_back(ForecastModelStatus{std::string(core::metricName(metrics, model->slot)), model->level,
                                             model->trendPerSecond, formatTime(model->at), model->observations});
  }
  if (!decision.forecast && out.models.empty()) {
    return std::nullopt;
  }
  return out;
}

std::vector<const core::HoltState*> forecastModelsWritten(const core::MetricsSpec& metrics,
                                                          const core::Decision& decision) {
  std::vector<const core::HoltState*> models;
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  for (const core::HoltState& model : decision.forecastModels) {
    if (models.size() == core::kMaxMetricSlots) {
      break;
    }
    if (core::slotIndex(model.slot) < slots && model.observations >= 1 && std::isfinite(model.level) &&
        std::isfinite(model.trendPerSecond)) {
      models.push_back(&model);
    }
  }
  return models;
}

std::optional<PanicStatus> panicStatus(const core::Decision& decision) {
  if (!decision.panic) {
    return std::nullopt;
  }
  const core::PanicExplanation& panic = *decision.panic;
  PanicStatus out;
  out.panicking = panic.panicking;
  if (panic.panicking) {
    out.since = timeText(panic.since);
    out.lastOverThreshold = timeText(panic.lastOverAt);
  }
  out.stableReplicas = writableCents(panic.stableReplicas);
  out.panicReplicas = writableCents(panic.panicReplicas);
  out.panicRatio = writableCents(panic.panicRatio);
  out.panicThreshold = writableCents(panic.panicThreshold);
  out.saturated = panic.saturated;
  out.maxPanicReplicas = panic.panicking ? panic.maxPanicReplicas : 0;
  return out;
}

StatusChange detail::compareExplanations(const PolicyStatus& written, const PolicyStatus& built) {
  // Replica counts and the measured start-up time change when the workload
  // does (a rollout, a scale-up landing), not with every reading.
  if (written.readyReplicas != built.readyReplicas || millis(written.startupSeconds) != millis(built.startupSeconds) ||
      written.forecast.has_value() != built.forecast.has_value() ||
      written.panic.has_value() != built.panic.has_value()) {
    return StatusChange::kSignificant;
  }
  StatusChange change = StatusChange::kNone;
  for (const StatusChange part :
       {built.forecast ? compareForecasts(*written.forecast, *built.forecast) : StatusChange::kNone,
        built.panic ? comparePanics(*written.panic, *built.panic) : StatusChange::kNone}) {
    if (part == StatusChange::kSignificant) {
      return part;
    }
    if (part == StatusChange::kMetricsOnly) {
      change = part;
    }
  }
  return change;
}

}  // namespace kubeai::kube
