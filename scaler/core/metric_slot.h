#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace kubeai::core {

// The metric slots in their fixed order. WeightedRatio's `weights` index them
// and the plugin ABI numbers them the same way (kubeai_metric_slot).
enum class MetricSlot : int {
  kLatencyP99 = 0,
  kLatencyP95 = 1,
  kGpuUtilization = 2,
  kRequestQueueDepth = 3,
};

inline constexpr std::size_t kMetricSlotCount = 4;

inline constexpr std::array<MetricSlot, kMetricSlotCount> kAllMetricSlots = {
    MetricSlot::kLatencyP99, MetricSlot::kLatencyP95, MetricSlot::kGpuUtilization,
    MetricSlot::kRequestQueueDepth};

// The slot's name as status, JSON output and logs spell it.
constexpr std::string_view metricSlotName(MetricSlot slot) noexcept {
  switch (slot) {
    case MetricSlot::kLatencyP99: return "latencyP99";
    case MetricSlot::kLatencyP95: return "latencyP95";
    case MetricSlot::kGpuUtilization: return "gpuUtilization";
    case MetricSlot::kRequestQueueDepth: return "requestQueueDepth";
  }
  return "unknown";
}

constexpr std::size_t slotIndex(MetricSlot slot) noexcept { return static_cast<std::size_t>(slot); }

// current/target per slot; nullopt = the slot is not present (disabled, no
// target, or no data). A present 0 is data: idle load, a reason to scale down.
using SlotRatios = std::array<std::optional<double>, kMetricSlotCount>;

}  // namespace kubeai::core
