#include "core/holt_forecast.h"

#include <algorithm>

namespace kubeai::core {

void holtObserve(HoltState& state, double y, std::chrono::system_clock::time_point now,
                 const HoltParameters& parameters) {
  if (state.observations > 0 && now <= state.at) {
    return;
  }
  const double dt = state.observations > 0 ? std::chrono::duration<double>(now - state.at).count() : 0.0;
  if (state.observations == 0 || now - state.at > parameters.maxGap) {
    state.level = y;
    state.trendPerSecond = 0.0;
    state.observations = 1;
  } else if (state.observations == 1) {
    state.trendPerSecond = (y - state.level) / dt;
    state.level = y;
    state.observations = 2;
  } else {
    const double predicted = state.level + state.trendPerSecond * dt;
    const double level = parameters.alpha * y + (1.0 - parameters.alpha) * predicted;
    state.trendPerSecond =
        parameters.beta * (level - state.level) / dt + (1.0 - parameters.beta) * state.trendPerSecond;
    state.level = level;
    state.observations += state.observations < 1'000'000'000 ? 1 : 0;
  }
  state.at = now;
}

double holtForecast(const HoltState& state, std::chrono::milliseconds horizon) {
  const double seconds = std::chrono::duration<double>(horizon).count();
  return std::max(0.0, state.level + state.trendPerSecond * seconds);
}

}  // namespace kubeai::core
