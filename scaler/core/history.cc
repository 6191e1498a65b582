#include "core/history.h"

namespace kubeai::core {

std::int32_t History::publishedAt(TimePoint at) const {
  for (auto it = changes.rbegin(); it != changes.rend(); ++it) {
    if (it->at <= at) {
      return it->replicas;
    }
  }
  return publishedBeforeChanges;
}

}  // namespace kubeai::core
