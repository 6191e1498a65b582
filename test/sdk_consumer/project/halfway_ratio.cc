// halfway_ratio.cc: a kubeai-scaler plugin in C++ (C++17 or later).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

#include <kubeai/scaler_plugin.hpp>

namespace {

using kubeai::plugin_sdk::ceilReplicas;
using kubeai::plugin_sdk::Input;
using kubeai::plugin_sdk::Result;
using kubeai::plugin_sdk::ValidateInput;
using kubeai::plugin_sdk::withinTolerance;

// Parameter "fraction": a number in (0, 1], default 0.5; throws on anything else.
double fractionOf(std::optional<std::string_view> text) {
  if (!text) {
    return 0.5;
  }
  double value = 0.0;
  const char* end = text->data() + text->size();
  const auto [stop, error] = std::from_chars(text->data(), end, value);
  if (error != std::errc() || stop != end || !(value > 0.0 && value <= 1.0)) {
    throw std::invalid_argument("parameter fraction: must be a number in (0, 1], got \"" + std::string(*text) + "\"");
  }
  return value;
}

// Moves part of the way (parameter "fraction") from the current replicas
// towards what the largest metric ratio asks for.
class HalfwayRatio {
 public:
  // Before a policy's first use (validate, evaluate, serve): an exception
  // refuses the policy there, with its message.
  void validateParameters(const ValidateInput& input) const { (void)fractionOf(input.parameter("fraction")); }

  // Called from several threads at once: this class keeps no state.
  Result compute(const Input& input) const {
    const double fraction = fractionOf(input.parameter("fraction"));
    const std::int32_t current = input.currentReplicas();
    const auto ratio = input.maxRatio();
    if (!ratio) {
      return {current, "no metrics available", {}};
    }
    Result result{current, "within tolerance", {}};
    result.decidedRatio = *ratio;  // shown in status and by evaluate
    // At zero replicas there is nothing to hold: any load must wake the workload.
    if (current > 0 && withinTolerance(*ratio, input.tolerance())) {
      result.held = true;
      return result;
    }
    // The built-ins' target, part of the way there, rounded up as they round.
    const double target = std::max(current, 1) * *ratio;
    result.desiredReplicas = ceilReplicas(current + (target - current) * fraction);
    result.held = false;
    result.reason = "moved " + std::to_string(std::lround(fraction * 100.0)) + " % of the way";
    return result;
  }
};

}  // namespace

KUBEAI_SCALER_PLUGIN(HalfwayRatio, "HalfwayRatio");
