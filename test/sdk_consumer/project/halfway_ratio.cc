// halfway_ratio.cc: a kubeai-scaler plugin in C++ (C++17 or later).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>

#include <kubeai/scaler_plugin.hpp>

namespace {

using kubeai::plugin_sdk::Input;
using kubeai::plugin_sdk::Result;

// Moves part of the way (parameter "fraction", default 0.5) from the current
// replicas towards what the largest metric ratio asks for.
class HalfwayRatio {
 public:
  // Called from several threads at once: this class keeps no state.
  Result compute(const Input& input) const {
    double fraction = 0.5;
    if (auto text = input.parameter("fraction")) {
      // std::stod throws on bad text; the SDK turns any exception into an error.
      fraction = std::stod(std::string(*text));
      if (fraction <= 0.0 || fraction > 1.0) {
        throw std::invalid_argument("parameter fraction: must be in (0, 1], got " + std::string(*text));
      }
    }

    const std::int32_t current = input.currentReplicas();
    const auto ratio = input.maxRatio();
    if (!ratio) {
      return {current, "no metrics available", {}};
    }
    // At zero replicas there is nothing to hold: any load must wake the workload.
    if (current > 0 && *ratio >= 1.0 - input.tolerance() && *ratio <= 1.0 + input.tolerance()) {
      return {current, "within tolerance", {}};
    }
    const double target = std::max(current, 1) * *ratio;
    const double desired = std::min(std::ceil(current + (target - current) * fraction), 1e9);
    const int percent = static_cast<int>(std::lround(fraction * 100.0));
    return {static_cast<std::int32_t>(desired), "moved " + std::to_string(percent) + " % of the way", {}};
  }
};

}  // namespace

KUBEAI_SCALER_PLUGIN(HalfwayRatio, "HalfwayRatio");
