#pragma once

#include "core/algorithm.h"

namespace kubeai::core {

inline constexpr const char* kReasonBurstStable = "scaled on the stable window";
inline constexpr const char* kReasonBurstPanic = "panic: scaled on the panic window";

// Burst: Knative's panic mode over our metrics. Each decision adds the
// demand (the largest present ratio, in replicas' worth) to a window; the
// stable window's mean (stableWindowSeconds, default 60) decides, unless the
// panic window's mean (panicWindowSeconds, default 6; it always holds the
// latest observation) reaches panicThreshold (default 2.0) times the replicas
// serving. Then it panics: it scales on the larger of the two means and never
// lower than the most it asked for since the panic began, nor than the
// current replicas. A metric in percent at 100 % (saturated: it cannot show a
// load of 2x) counts as over the threshold, and the load as at least the
// threshold times the replicas serving. Each decision still over the threshold extends the panic;
// it ends only once a stable window has passed without one.
//
// Parameters: stableWindowSeconds [1, 3600], panicWindowSeconds [1,
// stableWindowSeconds], panicThreshold (1, 100]. Without a memory (evaluate)
// both windows hold the one observation.
class BurstAlgorithm final : public ScalingAlgorithm {
 public:
  static constexpr const char* kName = "Burst";
  [[nodiscard]] std::string_view name() const noexcept override { return kName; }
  [[nodiscard]] Result<AlgorithmOutput> compute(const AlgorithmInput& input) const override;
  [[nodiscard]] Status validateParameters(const ValidateInput& input) const override;
};

}  // namespace kubeai::core
