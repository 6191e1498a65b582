#pragma once

#include <chrono>
#include <cstddef>
#include <string_view>

#include "core/algorithm.h"
#include "core/algorithm_memory.h"

namespace kubeai::core {

inline constexpr const char* kReasonPredictive = "scaled ahead of the forecast demand";
// The horizon before any start-up was measured and without horizonSeconds.
inline constexpr std::chrono::seconds kDefaultHorizon{60};

// Which metric a slot holds, for HoltState::metric: a hash of its name and
// target type (never 0 in practice; 0 is "unknown").
[[nodiscard]] std::size_t metricIdentity(std::string_view name, std::string_view targetType) noexcept;

// Whether a model kept for a slot is still of the metric the slot holds now:
// the same metric (metricIdentity()) and the same target. What the model does
// not know (after a restart) fits. A model that does not fit starts again.
[[nodiscard]] bool modelFits(const HoltState& model, std::size_t identity, double target) noexcept;

// Predictive: forecasts each present metric's demand a horizon ahead with
// Holt's linear trend (holt_forecast.h) and recommends the larger of MaxRatio's
// answer and the forecast's, so it scales up before a ramp arrives rather than
// a start-up time after. A forecast only ever raises the answer: it never
// scales down on its own.
//
// The horizon is spec.algorithm.parameters.horizonSeconds, else the measured
// start-up time of the workload's replicas (startup_tracking.h), else
// kDefaultHorizon. Parameters: horizonSeconds (0, 3600], alpha (0, 1]
// (default 0.5), beta (0, 1] (default 0.2). Without a memory (evaluate) it is
// MaxRatio with the explanation of a model that has seen one observation.
class PredictiveAlgorithm final : public ScalingAlgorithm {
 public:
  static constexpr const char* kName = "Predictive";
  [[nodiscard]] std::string_view name() const noexcept override { return kName; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput& input) const override;
  [[nodiscard]] Status validateParameters(const ValidateInput& input) const override;
};

}  // namespace kubeai::core
