#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/metric_slot.h"
#include "core/result.h"

namespace kubeai::core {

// One present metric: its slot and its current/target ratio (finite, >= 0).
struct MetricRatio {
  MetricSlot slot;
  double ratio;
};

using AlgorithmParameters = std::map<std::string, std::string, std::less<>>;

// Everything an algorithm may look at; the seed's ScalingInput plus the slots,
// the policy's weights and its algorithm.parameters. Views are valid only for
// the duration of compute().
struct AlgorithmInput {
  std::int32_t currentReplicas = 0;
  std::int32_t minReplicas = 0;
  std::int32_t maxReplicas = 0;
  std::span<const MetricRatio> ratios;  // present slots only, in slot order, never empty
  double tolerance = 0.1;
  std::span<const double> weights;
  std::string_view policyName;
  std::string_view policyNamespace;
  const AlgorithmParameters* parameters = nullptr;  // never null when called by decide()
};

struct AlgorithmOutput {
  std::int32_t desiredReplicas = 0;
  std::string reason;
  // The single value the decision turned on (max/mean/weighted ratio), when the
  // algorithm has one; plugins do not report it.
  std::optional<double> ratio;
  // The algorithm kept the current replicas on purpose (within tolerance, no
  // weight), rather than computing the same number: while our own change is on
  // its way to the workload, a hold keeps that change (core::decide()).
  bool held = false;
};

// A scaling algorithm: a built-in or a plugin. compute() may be called
// concurrently, for the same and for different policies.
class ScalingAlgorithm {
 public:
  virtual ~ScalingAlgorithm() = default;

  // The name policies use in spec.algorithm.name.
  [[nodiscard]] virtual std::string_view name() const noexcept = 0;

  // The desired replicas before behaviour and min/max, with a reason. An Error
  // makes the decision hold the current replicas and say why.
  [[nodiscard]] virtual Result<AlgorithmOutput> compute(const AlgorithmInput& input) const = 0;
};

}  // namespace kubeai::core
