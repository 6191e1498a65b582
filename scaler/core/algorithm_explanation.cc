#include "core/algorithm_explanation.h"

namespace kubeai::core {

std::string_view horizonSourceName(HorizonSource source) noexcept {
  switch (source) {
    case HorizonSource::kParameter: return "parameter";
    case HorizonSource::kMeasured: return "measured";
    case HorizonSource::kDefault: break;
  }
  return "default";
}

}  // namespace kubeai::core
