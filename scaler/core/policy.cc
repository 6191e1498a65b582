#include "core/policy.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace kubeai::core {

std::string_view metricTargetTypeName(MetricTargetType type) noexcept {
  return type == MetricTargetType::kAverageValue ? "AverageValue" : "Value";
}

std::string_view metricName(const MetricsSpec& metrics, MetricSlot slot) noexcept {
  if (!isCustomSlot(slot)) {
    return metricSlotName(slot);
  }
  const std::size_t index = customIndex(slot);
  return index < metrics.custom.size() ? std::string_view(metrics.custom[index].name) : std::string_view("unknown");
}

const Policy* findInSortedSet(const std::vector<Policy>& set, const std::string& ns, const std::string& name) {
  const auto found = std::lower_bound(set.begin(), set.end(), std::pair{&ns, &name},
                                      [](const Policy& policy, const auto& key) {
                                        return std::tie(policy.metadata.namespace_, policy.metadata.name) <
                                               std::tie(*key.first, *key.second);
                                      });
  if (found == set.end() || found->metadata.namespace_ != ns || found->metadata.name != name) {
    return nullptr;
  }
  return &*found;
}

}  // namespace kubeai::core
