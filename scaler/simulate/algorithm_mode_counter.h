#pragma once

#include <cstdint>
#include <optional>

#include "core/decision.h"
#include "core/policy.h"
#include "simulate/simulation_result.h"

namespace kubeai::simulate {

// Whether Predictive's forecast raised what is published: its answer above
// MaxRatio's once both are within [minReplicas, maxReplicas] (at maxReplicas
// a higher forecast changes nothing). The summary's forecastRaised counts
// these, the timeline's forecastRaised and the report's lane show them.
[[nodiscard]] bool forecastRaised(const core::ForecastExplanation& forecast, const core::PolicySpec& spec) noexcept;

// The summary's figures of Predictive's forecast and Burst's panic mode,
// decision by decision, with or without a timeline. Panics are told apart by
// when each began: a decision without Burst's state between two of one panic
// (no metrics, a failed call) does not split it, and a panic that ends and
// begins again at one decision is two. Seconds are summed in whole
// milliseconds, as the run's other totals.
class AlgorithmModeCounter {
 public:
  explicit AlgorithmModeCounter(const core::PolicySpec& spec) : spec_(spec) {}

  void count(const core::Decision& decision, std::int64_t intervalMs);
  // forecastRaised, panics, panicSeconds into `summary` (nullopt where no
  // decision forecast, or none read a panic window).
  void finish(PolicySummary& summary) const;

 private:
  const core::PolicySpec& spec_;
  std::optional<std::int32_t> forecastRaised_;
  std::optional<std::int32_t> panics_;
  std::int64_t panicMs_ = 0;
  std::optional<core::TimePoint> panicSince_;  // the `since` of the panic last counted
  bool panicking_ = false;                     // the last decision with Burst's state was in panic
};

}  // namespace kubeai::simulate
