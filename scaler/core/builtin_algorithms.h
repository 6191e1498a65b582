#pragma once

#include <memory>

#include "core/algorithm.h"

namespace kubeai::core {

// Reasons as the original project words them; status, Events and tests rely on them.
inline constexpr const char* kReasonWithinTolerance = "within tolerance";
inline constexpr const char* kReasonNoMetrics = "no metrics available";
inline constexpr const char* kReasonTotalWeightZero = "total weight is zero";
inline constexpr const char* kReasonMaxRatio = "scaled based on max ratio";
inline constexpr const char* kReasonAverageRatio = "scaled based on average ratio";
inline constexpr const char* kReasonWeightedRatio = "scaled based on weighted ratio";

// MaxRatio: the largest present ratio. Unlike the original, which started its
// maximum at 1.0, an idle workload (all ratios < 1) scales down.
class MaxRatioAlgorithm final : public ScalingAlgorithm {
 public:
  static constexpr const char* kName = "MaxRatio";
  [[nodiscard]] std::string_view name() const noexcept override { return kName; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput& input) const override;
  [[nodiscard]] bool takesParameters() const noexcept override { return false; }
};

// AverageRatio: the mean of the present ratios.
class AverageRatioAlgorithm final : public ScalingAlgorithm {
 public:
  static constexpr const char* kName = "AverageRatio";
  [[nodiscard]] std::string_view name() const noexcept override { return kName; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput& input) const override;
  [[nodiscard]] bool takesParameters() const noexcept override { return false; }
};

// WeightedRatio: sum(w * r) / sum(w) over the present slots, w = weights[slot]
// or 1.0. Weights index the fixed slots (the original indexed them by position
// among the present ratios, so a missing metric shifted every weight).
class WeightedRatioAlgorithm final : public ScalingAlgorithm {
 public:
  static constexpr const char* kName = "WeightedRatio";
  [[nodiscard]] std::string_view name() const noexcept override { return kName; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput& input) const override;
  [[nodiscard]] bool takesParameters() const noexcept override { return false; }
};

// The algorithm used when a policy names one that is not registered.
const ScalingAlgorithm& fallbackAlgorithm() noexcept;

}  // namespace kubeai::core
