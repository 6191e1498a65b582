#include "core/decision.h"

namespace kubeai::core {

std::string_view limitedByName(LimitedBy limitedBy) noexcept {
  switch (limitedBy) {
    case LimitedBy::kNone: return "";
    case LimitedBy::kMinReplicas: return "minReplicas";
    case LimitedBy::kMaxReplicas: return "maxReplicas";
    case LimitedBy::kScaleUpPolicy: return "scaleUpPolicy";
    case LimitedBy::kScaleDownPolicy: return "scaleDownPolicy";
    case LimitedBy::kStabilization: return "stabilization";
    case LimitedBy::kCooldown: return "cooldown";
  }
  return "";
}

}  // namespace kubeai::core
