#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace kubeai::core {

// The metric slots in their fixed order: the seed's four, then the policy's
// custom metrics (spec.metrics.custom[i] is slot 4 + i). WeightedRatio's
// positional `weights` index the seed four; the plugin ABI numbers the slots
// the same way (kubeai_metric_slot, KUBEAI_SLOT_CUSTOM_FIRST).
enum class MetricSlot : int {
  kLatencyP99 = 0,
  kLatencyP95 = 1,
  kGpuUtilization = 2,
  kRequestQueueDepth = 3,
};

// The seed's four slots.
inline constexpr std::size_t kMetricSlotCount = 4;
// spec.metrics.custom holds at most this many (the CRD's maxItems).
inline constexpr std::size_t kMaxCustomMetrics = 16;
// Every slot a policy can have.
inline constexpr std::size_t kMaxMetricSlots = kMetricSlotCount + kMaxCustomMetrics;

inline constexpr std::array<MetricSlot, kMetricSlotCount> kAllMetricSlots = {
    MetricSlot::kLatencyP99, MetricSlot::kLatencyP95, MetricSlot::kGpuUtilization,
    MetricSlot::kRequestQueueDepth};

constexpr std::size_t slotIndex(MetricSlot slot) noexcept { return static_cast<std::size_t>(slot); }

// The slot of spec.metrics.custom[index].
constexpr MetricSlot customSlot(std::size_t index) noexcept {
  return static_cast<MetricSlot>(kMetricSlotCount + index);
}
constexpr bool isCustomSlot(MetricSlot slot) noexcept { return slotIndex(slot) >= kMetricSlotCount; }
// The index into spec.metrics.custom of a custom slot.
constexpr std::size_t customIndex(MetricSlot slot) noexcept { return slotIndex(slot) - kMetricSlotCount; }

// A seed slot's name as status, JSON output and logs spell it; a custom slot's
// name is its spec.metrics.custom[].name (metricName() in policy.h).
constexpr std::string_view metricSlotName(MetricSlot slot) noexcept {
  switch (slot) {
    case MetricSlot::kLatencyP99: return "latencyP99";
    case MetricSlot::kLatencyP95: return "latencyP95";
    case MetricSlot::kGpuUtilization: return "gpuUtilization";
    case MetricSlot::kRequestQueueDepth: return "requestQueueDepth";
  }
  return "unknown";
}

// One value per slot, seed four first then the custom metrics; nullopt = the
// slot is not present (not configured, disabled, no target, or no data). A
// present 0 is data: idle load, a reason to scale down.
using SlotValues = std::array<std::optional<double>, kMaxMetricSlots>;
// current/target per slot.
using SlotRatios = SlotValues;

}  // namespace kubeai::core
