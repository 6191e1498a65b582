#include "core/holt_forecast.h"

#include <algorithm>
#include <cmath>

namespace kubeai::core {

void holtObserve(HoltState& state, double y, std::chrono::system_clock::time_point now,
                 const HoltParameters& parameters, HoltUpdate update) {
  const auto restart = [&] {
    state.level = y;
    state.trendPerSecond = 0.0;
    state.observations = 1;
    state.at = now;
  };
  if (state.observations == 0 || now - state.at > parameters.maxGap || now < state.at - std::chrono::seconds(1) ||
      !std::isfinite(state.level) || !std::isfinite(state.trendPerSecond)) {
    restart();
    return;
  }
  if (now <= state.at) {
    return;
  }
  const double dt = std::chrono::duration<double>(now - state.at).count();
  if (update == HoltUpdate::kLevelOnly) {
    state.level = y;
    state.at = now;
    return;
  }
  if (now - state.at < parameters.minSpacing) {
    // The level follows along the trend; the trend stays.
    state.level = parameters.alpha * y + (1.0 - parameters.alpha) * (state.level + state.trendPerSecond * dt);
    state.at = now;
    return;
  }
  if (state.observations == 1) {
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
