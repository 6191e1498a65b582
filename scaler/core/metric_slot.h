#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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
// present 0 is data: idle load, a reason to scale down. Doubles and a bit
// each rather than optionals: every policy's decision holds two of these.
class SlotValues {
 public:
  [[nodiscard]] std::optional<double> operator[](std::size_t slot) const noexcept {
    return has(slot) ? std::optional<double>(values_[slot]) : std::nullopt;
  }
  [[nodiscard]] bool has(std::size_t slot) const noexcept { return slot < kMaxMetricSlots && ((present_ >> slot) & 1U); }
  void set(std::size_t slot, double value) noexcept {
    if (slot < kMaxMetricSlots) {
      values_[slot] = value;
      present_ |= 1U << slot;
    }
  }
  void set(std::size_t slot, const std::optional<double>& value) noexcept {
    if (value) {
      set(slot, *value);
    } else {
      reset(slot);
    }
  }
  void reset(std::size_t slot) noexcept {
    if (slot < kMaxMetricSlots) {
      present_ &= ~(1U << slot);
    }
  }
  [[nodiscard]] bool operator==(const SlotValues& other) const noexcept {
    for (std::size_t i = 0; i < kMaxMetricSlots; ++i) {
      if ((*this)[i] != other[i]) {
        return false;
      }
    }
    return true;
  }

 private:
  static_assert(kMaxMetricSlots <= 32);
  std::array<double, kMaxMetricSlots> values_{};
  std::uint32_t present_ = 0;
};
// current/target per slot.
using SlotRatios = SlotValues;

}  // namespace kubeai::core
