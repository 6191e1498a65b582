#include "core/builtin_algorithms.h"

#include <algorithm>

#include "core/replica_calculator.h"

namespace kubeai::core {
namespace {

AlgorithmOutput scaleTo(const AlgorithmInput& input, double ratio, const char* reasonWhenScaled) {
  const RatioScaling scaling = scaleByRatio(input.currentReplicas, ratio, input.tolerance);
  return AlgorithmOutput{scaling.replicas, scaling.held ? kReasonWithinTolerance : reasonWhenScaled, ratio,
                         scaling.held, {}, {}};
}

}  // namespace

Result<AlgorithmOutput> MaxRatioAlgorithm::compute(const AlgorithmInput& input) const {
  double max = input.ratios.front().ratio;
  for (const MetricRatio& metric : input.ratios) {
    max = std::max(max, metric.ratio);
  }
  return scaleTo(input, max, kReasonMaxRatio);
}

Result<AlgorithmOutput> AverageRatioAlgorithm::compute(const AlgorithmInput& input) const {
  double sum = 0.0;
  for (const MetricRatio& metric : input.ratios) {
    sum += metric.ratio;
  }
  return scaleTo(input, sum / static_cast<double>(input.ratios.size()), kReasonAverageRatio);
}

Result<AlgorithmOutput> WeightedRatioAlgorithm::compute(const AlgorithmInput& input) const {
  auto weightOf = [&](const MetricRatio& metric) {
    const std::size_t slot = slotIndex(metric.slot);
    return slot < input.weights.size() ? input.weights[slot] : 1.0;
  };
  // Weights are scaled by the largest one first: the mean is the same, and
  // weights near DBL_MAX can no longer overflow the sums into Inf or NaN.
  double largest = 0.0;
  for (const MetricRatio& metric : input.ratios) {
    largest = std::max(largest, weightOf(metric));
  }
  double weightedSum = 0.0;
  double totalWeight = 0.0;
  for (const MetricRatio& metric : input.ratios) {
    const double weight = largest > 0.0 ? weightOf(metric) / largest : 0.0;
    weightedSum += weight * metric.ratio;
    totalWeight += weight;
  }
  if (!(totalWeight > 0.0)) {
    return AlgorithmOutput{input.currentReplicas, kReasonTotalWeightZero, std::nullopt, true, {}, {}};
  }
  return scaleTo(input, weightedSum / totalWeight, kReasonWeightedRatio);
}

const ScalingAlgorithm& fallbackAlgorithm() noexcept {
  static const MaxRatioAlgorithm kMaxRatio;
  return kMaxRatio;
}

}  // namespace kubeai::core
