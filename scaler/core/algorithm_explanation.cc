#include "core/algorithm_explanation.h"

namespace kubeai::core {

std::string_view horizonSourceName(HorizonSource source) noexcept {
  switch (source) {
    case HorizonSource::kParameter: return "parameter";
    case HorizonSource::kMeasured: return "measured";
    case HorizonSource::kDefault: break;
  }
  return "default";
}

std::string_view forecastOutcome(const ForecastExplanation& forecast, std::int32_t recommendedReplicas) noexcept {
  if (forecast.decided) {
    return "the forecast decided";
  }
  return recommendedReplicas == forecast.reactiveReplicas ? "MaxRatio decided" : "held (pods starting)";
}

}  // namespace kubeai::core
