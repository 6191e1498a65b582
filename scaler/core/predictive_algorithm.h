#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/algorithm.h"
#include "core/algorithm_memory.h"
#include "core/metric_slot.h"
#include "core/policy.h"

namespace kubeai::core {

inline constexpr const char* kReasonPredictive = "scaled ahead of the forecast demand";
// The horizon before any start-up was measured and without horizonSeconds.
inline constexpr std::chrono::seconds kDefaultHorizon{60};

// Which metric a slot holds, for HoltState::metric (never 0; 0 is
// "unknown"). A seed slot always holds the same metric, so its identity is
// the slot's own and costs a decision nothing; a custom slot's is an FNV-1a
// hash of the metric's name and target type, as the list may rename the
// metric in it or move another into it.
[[nodiscard]] constexpr std::uint64_t metricIdentity(MetricSlot slot, std::string_view name,
                                                     std::string_view targetType) noexcept {
  if (!isCustomSlot(slot)) {
    return slotIndex(slot) + 1;
  }
  std::uint64_t hash = 14695981039346656037ULL;
  const auto fold = [&hash](std::string_view text) {
    for (const char c : text) {
      hash = (hash ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
    }
  };
  fold(name);
  fold(std::string_view("\0", 1));  // "ab" + "c" is not "a" + "bc"
  fold(targetType);
  // The top bit keeps a custom metric's identity clear of the seed slots'.
  return hash | (1ULL << 63);
}

// Whether a model kept for a slot is still of the metric the slot holds now:
// the same metric (metricIdentity()) and the same target. What the model does
// not know (after a restart) fits. A model that does not fit starts again.
[[nodiscard]] bool modelFits(const HoltState& model, std::uint64_t identity, double target) noexcept;

// Before a decision: an edit of the custom-metric list (a metric inserted,
// removed or moved) moves each model to the slot its metric holds now, and
// drops the model of a metric the list no longer has (removed, or renamed:
// another series). decide() runs it, so Predictive finds every model in its
// metric's slot and the status names each by its own metric.
void followMetrics(const MetricsSpec& metrics, std::vector<HoltState>& models);

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
