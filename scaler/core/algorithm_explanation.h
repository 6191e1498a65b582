#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/metric_slot.h"

namespace kubeai::core {

// What the built-ins that look through time (Predictive, Burst) saw, so that a
// decision explains itself in status, evaluate, the log line and simulate's
// timeline. Demand is in replicas' worth: a metric's ratio times the replicas
// serving it (ratio x current for totals, x ready for per-pod metrics).

// Where Predictive's horizon came from.
enum class HorizonSource {
  kParameter,  // spec.algorithm.parameters.horizonSeconds
  kMeasured,   // the start-up time measured from ready replicas lagging requested ones
  kDefault,    // nothing measured yet: kDefaultHorizon
};

// "parameter", "measured", "default".
std::string_view horizonSourceName(HorizonSource source) noexcept;

struct ForecastExplanation {
  double horizonSeconds = 0.0;
  HorizonSource horizonSource = HorizonSource::kDefault;
  MetricSlot slot = MetricSlot::kLatencyP99;  // the metric whose forecast is highest
  double demandReplicas = 0.0;                // that metric's demand now
  double forecastReplicas = 0.0;              // and a horizon ahead (>= 0)
  double trendPerMinute = 0.0;                // its trend, replicas' worth per minute
  std::int32_t reactiveReplicas = 0;          // MaxRatio's answer
  bool reactiveHeld = false;                  // MaxRatio held the current replicas (within tolerance)
  std::optional<double> reactiveRatio{};      // the ratio MaxRatio turned on
  std::int32_t forecastDesired = 0;           // the forecast's answer (tolerance applied)
  bool decided = false;                       // the forecast raised the answer above MaxRatio's
  std::int32_t observations = 0;              // that metric's model has seen this many (1: no trend yet)
};

// Which answer a Predictive decision took, for evaluate's and the log's
// texts: "the forecast decided", "MaxRatio decided", or "held (pods
// starting)" when the starting pods' hold kept more than MaxRatio asked
// (`recommendedReplicas`: the decision's).
std::string_view forecastOutcome(const ForecastExplanation& forecast, std::int32_t recommendedReplicas) noexcept;

struct PanicExplanation {
  bool panicking = false;
  std::optional<std::chrono::system_clock::time_point> since;       // when this panic began
  std::optional<std::chrono::system_clock::time_point> lastOverAt;  // last over the threshold (extends it)
  std::int32_t maxPanicReplicas = 0;  // the most asked for during this panic
  double stableReplicas = 0.0;  // mean demand over the stable window
  double panicReplicas = 0.0;   // mean demand over the panic window
  double panicRatio = 0.0;      // panicReplicas / the replicas serving (ready while starting)
  double panicThreshold = 0.0;
  bool saturated = false;  // a capped percentage at 100 % (isSaturated()): over the threshold whatever the ratio
};

}  // namespace kubeai::core
