// CappedSmoothRatio, the seed's example algorithm, as a C++ plugin.
//
// Per policy (keyed by namespace/name) it smooths the largest present metric
// ratio exponentially, holds within tolerance, and otherwise scales to
// ceil(max(current, 1) x smoothed), capped per cycle to +50 % / -25 % of the
// current replicas. Parameters (spec.algorithm.parameters, all strings):
//
//   smoothingFactor      weight of the new ratio, 0 < x <= 1      (default "0.3")
//   maxScaleUpPercent    largest increase per cycle, in PERCENT   (default "50")
//   maxScaleDownPercent  largest decrease per cycle, in PERCENT,  (default "25")
//                        0..100
//
// Percent means "50" for 50 %, not "0.5". A cap of 0 blocks that direction; any
// other cap allows at least one replica of change, so that small deployments
// are not frozen by rounding (25 % of 3 replicas is less than one replica).
//
// Unlike the Go original, it scales down at idle: the original started its max
// at 1.0, so ratios below 1 never counted; here only present ratios count.
// It does not clamp to min/max replicas: the host does, and says so in the
// decision's explanation. It rounds as the built-ins do (the SDK's
// ceilReplicas and withinTolerance), checks its parameters at validate time
// (ABI 1.1 validateParameters) and names the smoothed ratio it decided on.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>

#include <kubeai/scaler_plugin.hpp>

namespace {

using kubeai::plugin_sdk::ceilReplicas;
using kubeai::plugin_sdk::Input;
using kubeai::plugin_sdk::Result;
using kubeai::plugin_sdk::ValidateInput;

constexpr double kDefaultSmoothingFactor = 0.3;
constexpr double kDefaultMaxScaleUpPercent = 50.0;
constexpr double kDefaultMaxScaleDownPercent = 25.0;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) {
    return {};
  }
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// The whole text as a finite number, or nullopt.
std::optional<double> parseNumber(std::string_view text) {
  text = trim(text);
  double value = 0.0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

std::string formatNumber(double value, int decimals) {
  char buffer[64];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed, decimals);
  return ec == std::errc() ? std::string(buffer, ptr) : std::string("?");
}

// Shortest form: 50 -> "50", 12.5 -> "12.5".
std::string formatShort(double value) {
  char buffer[64];
  const auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  return ec == std::errc() ? std::string(buffer, ptr) : std::string("?");
}

struct Settings {
  double smoothingFactor = kDefaultSmoothingFactor;
  double maxScaleUpPercent = kDefaultMaxScaleUpPercent;
  double maxScaleDownPercent = kDefaultMaxScaleDownPercent;
};

// Reads one parameter into `out` when the policy sets it; returns the error
// text when its value is not a number in [low, high] (low excluded if asked).
template <typename AnyInput>  // Input (compute) or ValidateInput (validateParameters)
std::optional<std::string> readParameter(const AnyInput& input, std::string_view key, double low, bool lowExcluded,
                                         double high, std::string_view expected, double& out) {
  const std::optional<std::string_view> text = input.parameter(key);
  if (!text) {
    return std::nullopt;
  }
  const std::optional<double> value = parseNumber(*text);
  if (!value || *value > high || *value < low || (lowExcluded && *value == low)) {
    return "parameter " + std::string(key) + ": invalid value \"" + std::string(*text) + "\", want " +
           std::string(expected);
  }
  out = *value;
  return std::nullopt;
}

// All three parameters, or the first one's error.
template <typename AnyInput>
std::optional<std::string> readSettings(const AnyInput& input, Settings& settings) {
  if (auto error = readParameter(input, "smoothingFactor", 0.0, true, 1.0, "a number with 0 < x <= 1 (e.g. \"0.3\")",
                                 settings.smoothingFactor)) {
    return error;
  }
  if (auto error = readParameter(input, "maxScaleUpPercent", 0.0, false, std::numeric_limits<double>::max(),
                                 "a percentage >= 0 (e.g. \"50\" for 50 %)", settings.maxScaleUpPercent)) {
    return error;
  }
  return readParameter(input, "maxScaleDownPercent", 0.0, false, 100.0,
                       "a percentage from 0 to 100 (e.g. \"25\" for 25 %)", settings.maxScaleDownPercent);
}

class CappedSmoothRatio {
 public:
  // Before a policy's first use: a bad parameter refuses the policy where it
  // is checked (validate, evaluate, serve) rather than failing every decision.
  std::optional<std::string> validateParameters(const ValidateInput& input) const {
    Settings settings;
    return readSettings(input, settings);
  }

  Result compute(const Input& input) {
    Settings settings;
    if (auto error = readSettings(input, settings)) {  // also checked here: compute must stand on its own
      return Result::failure(std::move(*error));
    }

    const std::int32_t current = input.currentReplicas();
    const std::optional<double> maxRatio = input.maxRatio();
    if (!maxRatio) {
      return {current, "no metrics available", {}};
    }

    const double smoothed = smooth(input, *maxRatio, settings.smoothingFactor);
    const double tolerance = input.tolerance();
    Result result{current, {}, {}};
    result.decidedRatio = smoothed;
    // Both bounds included, as with the built-ins. At zero replicas there is
    // nothing to hold: any load wakes the workload, as with the built-ins.
    if (current > 0 && kubeai::plugin_sdk::withinTolerance(smoothed, tolerance)) {
      result.held = true;
      result.reason = "within tolerance after smoothing (smoothed ratio " + formatNumber(smoothed, 2) + ")";
      return result;
    }

    const std::int32_t base = std::max<std::int32_t>(current, 1);
    const double baseReal = static_cast<double>(base);
    const std::int32_t uncapped = ceilReplicas(baseReal * smoothed);

    std::int32_t upLimit = ceilReplicas(baseReal * (1.0 + settings.maxScaleUpPercent / 100.0));
    if (settings.maxScaleUpPercent > 0.0 && base < std::numeric_limits<std::int32_t>::max()) {
      upLimit = std::max(upLimit, base + 1);
    }
    std::int32_t downLimit = ceilReplicas(baseReal * (1.0 - settings.maxScaleDownPercent / 100.0));
    if (settings.maxScaleDownPercent > 0.0) {
      downLimit = std::min(downLimit, base - 1);
    }

    std::string reason = "scaled with capped smoothing (smoothed ratio " + formatNumber(smoothed, 2);
    std::int32_t desired = uncapped;
    if (uncapped > upLimit) {
      desired = upLimit;
      reason += ", capped at +" + formatShort(settings.maxScaleUpPercent) + " %";
    } else if (uncapped < downLimit) {
      desired = downLimit;
      reason += ", capped at -" + formatShort(settings.maxScaleDownPercent) + " %";
    }
    reason += ")";
    result.desiredReplicas = desired;
    result.held = false;
    result.reason = std::move(reason);
    return result;
  }

 private:
  // Folds this cycle's ratio into the policy's smoothed ratio and returns it.
  // compute() runs concurrently for many policies: the map is shared state.
  double smooth(const Input& input, double ratio, double factor) {
    std::string key;
    key.reserve(input.policyNamespace().size() + 1 + input.policyName().size());
    key.append(input.policyNamespace()).append("/").append(input.policyName());

    const std::lock_guard<std::mutex> lock(mutex_);
    // The first cycle of a policy starts from its ratio, not from 1.0.
    const auto [it, inserted] = smoothed_.try_emplace(std::move(key), ratio);
    if (!inserted) {
      it->second = factor * ratio + (1.0 - factor) * it->second;
    }
    return it->second;
  }

  std::mutex mutex_;
  // One entry per policy ever seen; a few dozen bytes each, so not pruned.
  std::unordered_map<std::string, double> smoothed_;
};

}  // namespace

KUBEAI_SCALER_PLUGIN(CappedSmoothRatio, "CappedSmoothRatio");
