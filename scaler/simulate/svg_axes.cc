#include "simulate/svg_axes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

namespace kubeai::simulate::svg {

std::vector<double> niceTicks(double low, double high, int target, bool integral) {
  if (!std::isfinite(low) || !std::isfinite(high) || high <= low) {
    return {low, low + 1};
  }
  const double rough = (high - low) / std::max(target, 1);
  const double magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude;
  for (const double factor : {1.0, 2.0, 5.0, 10.0}) {
    step = factor * magnitude;
    if (step >= rough) {
      break;
    }
  }
  if (integral) {
    step = std::max(step, 1.0);
  }
  std::vector<double> ticks;
  const double first = std::floor(low / step) * step;
  // Bounded: at most target*2.5+2 ticks come out of a 1-2-5 step.
  for (int i = 0; i < 64; ++i) {
    const double tick = first + i * step;
    ticks.push_back(tick);
    if (tick >= high * (1 - 1e-12)) {
      break;
    }
  }
  return ticks;
}

int tickDecimals(const std::vector<double>& ticks) {
  if (ticks.size() < 2) {
    return 0;
  }
  const double step = ticks[1] - ticks[0];
  if (!(step > 0) || step >= 1) {
    return 0;
  }
  return std::min(6, static_cast<int>(std::ceil(-std::log10(step) - 1e-9)));
}

std::string timeLabel(double seconds) {
  if (!std::isfinite(seconds) || seconds <= 0) {
    return "0";
  }
  const auto total = static_cast<std::int64_t>(std::llround(seconds));
  const std::int64_t days = total / 86400;
  const std::int64_t hours = total % 86400 / 3600;
  const std::int64_t minutes = total % 3600 / 60;
  const std::int64_t rest = total % 60;
  std::string label;
  const auto add = [&label](std::int64_t value, const char* unit) {
    if (value != 0) {
      // Appended piece by piece: GCC 12's -Wrestrict misfires on "x" + string.
      if (!label.empty()) {
        label += ' ';
      }
      label += std::to_string(value);
      label += unit;
    }
  };
  add(days, "d");
  add(hours, "h");
  add(minutes, "m");
  add(rest, "s");
  return label;
}

std::vector<TimeTick> timeTicks(double durationSeconds) {
  if (!std::isfinite(durationSeconds) || durationSeconds <= 0) {
    return {{0, "0"}};
  }
  static constexpr std::array<double, 15> kSteps = {
      15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800};
  double step = kSteps.back();
  for (const double candidate : kSteps) {
    if (durationSeconds / candidate <= 10) {
      step = candidate;
      break;
    }
  }
  while (durationSeconds / step > 10) {  // beyond 20 days: whole weeks and more
    step *= 2;
  }
  std::vector<TimeTick> ticks;
  for (double t = 0; t <= durationSeconds * (1 + 1e-12); t += step) {
    ticks.push_back({t, timeLabel(t)});
  }
  return ticks;
}

}  // namespace kubeai::simulate::svg
