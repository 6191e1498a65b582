#include "simulate/algorithm_mode_counter.h"

#include <algorithm>

namespace kubeai::simulate {

bool forecastRaised(const core::ForecastExplanation& forecast, const core::PolicySpec& spec) noexcept {
  const std::int32_t low = spec.effectiveMinReplicas();
  const std::int32_t high = std::max(spec.maxReplicas, low);
  return forecast.decided &&
         std::clamp(forecast.forecastDesired, low, high) > std::clamp(forecast.reactiveReplicas, low, high);
}

void AlgorithmModeCounter::count(const core::Decision& decision, std::int64_t intervalMs) {
  if (decision.forecast) {
    forecastRaised_ = forecastRaised_.value_or(0) + (forecastRaised(*decision.forecast, spec_) ? 1 : 0);
  }
  if (!decision.panic) {
    return;
  }
  const core::PanicExplanation& panic = *decision.panic;
  panics_ = panics_.value_or(0);
  if (panic.panicking) {
    const bool began = panic.since ? panic.since != panicSince_ : !panicking_;
    if (began) {
      ++*panics_;
      panicSince_ = panic.since;
    }
    panicMs_ += intervalMs;
  }
  panicking_ = panic.panicking;
}

void AlgorithmModeCounter::finish(PolicySummary& summary) const {
  summary.forecastRaised = forecastRaised_;
  summary.panics = panics_;
  summary.panicSeconds = panics_ ? std::optional<double>(static_cast<double>(panicMs_) / 1000.0) : std::nullopt;
}

}  // namespace kubeai::simulate
