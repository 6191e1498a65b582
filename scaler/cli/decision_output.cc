#include "cli/decision_output.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/metric_target.h"

namespace kubeai::cli {
namespace {

std::string formatRatio(double ratio) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", ratio);
  return buffer;
}

std::string direction(const core::Decision& decision) {
  if (decision.desiredReplicas > decision.currentReplicas) {
    return "scale up";
  }
  if (decision.desiredReplicas < decision.currentReplicas) {
    return "scale down";
  }
  return "hold";
}

}  // namespace

nlohmann::json decisionToJson(const core::Decision& decision, const core::MetricsSpec& metrics) {
  nlohmann::json ratios = nlohmann::json::object();
  nlohmann::json details = nlohmann::json::array();
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  const auto orNull = [](const std::optional<double>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<core::MetricSlot>(i);
    const core::MetricTarget target = core::metricTarget(metrics, slot);
    if (const auto& ratio = decision.ratios[i]) {
      ratios[std::string(target.name)] = *ratio;
    }
    if (!target.enabled || !(target.target && *target.target > 0.0)) {
      continue;
    }
    details.push_back(nlohmann::json{{"name", target.name},
                                     {"value", orNull(decision.values[i])},
                                     {"unit", target.unit},
                                     {"target", *target.target},
                                     {"targetType", target.targetType},
                                     {"ratio", orNull(decision.ratios[i])}});
  }
  const std::string_view limitedBy = core::limitedByName(decision.limitedBy);
  return nlohmann::json{
      {"desiredReplicas", decision.desiredReplicas},
      {"currentReplicas", decision.currentReplicas},
      {"recommendedReplicas", decision.recommendedReplicas},
      {"algorithm", decision.algorithm},
      {"requestedAlgorithm", decision.requestedAlgorithm},
      {"algorithmValid", decision.algorithmValid},
      {"reason", decision.reason},
      {"ratios", ratios},
      {"metrics", details},
      {"ratio", decision.ratio ? nlohmann::json(*decision.ratio) : nlohmann::json(nullptr)},
      {"limitedBy", limitedBy.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(limitedBy))},
      {"algorithmError",
       decision.algorithmError.empty() ? nlohmann::json(nullptr) : nlohmann::json(decision.algorithmError)},
  };
}

std::string decisionToText(const std::string& policyKey, const core::Decision& decision,
                           const core::MetricsSpec& metrics) {
  std::ostringstream out;
  out << "policy:      " << policyKey << "\n";
  out << "replicas:    " << decision.currentReplicas << " -> " << decision.desiredReplicas << " ("
      << direction(decision) << ")\n";
  out << "algorithm:   " << decision.algorithm;
  if (!decision.algorithmValid) {
    out << " (requested \"" << decision.requestedAlgorithm << "\" is not registered; fell back to "
        << decision.algorithm << ")";
  }
  out << "\n";
  out << "reason:      " << decision.reason << "\n";
  out << "ratios:     ";
  bool any = false;
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < slots; ++i) {
    if (const auto& ratio = decision.ratios[i]) {
      out << " " << core::metricName(metrics, static_cast<core::MetricSlot>(i)) << "=" << formatRatio(*ratio);
      any = true;
    }
  }
  out << (any ? "\n" : " none\n");
  if (decision.ratio) {
    out << "ratio:       " << formatRatio(*decision.ratio) << "\n";
  }
  if (decision.recommendedReplicas != decision.desiredReplicas) {
    out << "recommended: " << decision.recommendedReplicas << "\n";
  }
  const std::string_view limitedBy = core::limitedByName(decision.limitedBy);
  out << "limited by:  " << (limitedBy.empty() ? "nothing" : limitedBy) << "\n";
  return out.str();
}

}  // namespace kubeai::cli
