#include "cli/decision_output.h"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

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

nlohmann::json decisionToJson(const core::Decision& decision) {
  nlohmann::json ratios = nlohmann::json::object();
  for (core::MetricSlot slot : core::kAllMetricSlots) {
    if (const auto& ratio = decision.ratios[core::slotIndex(slot)]) {
      ratios[std::string(core::metricSlotName(slot))] = *ratio;
    }
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
      {"ratio", decision.ratio ? nlohmann::json(*decision.ratio) : nlohmann::json(nullptr)},
      {"limitedBy", limitedBy.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(limitedBy))},
      {"algorithmError",
       decision.algorithmError.empty() ? nlohmann::json(nullptr) : nlohmann::json(decision.algorithmError)},
  };
}

std::string decisionToText(const std::string& policyKey, const core::Decision& decision) {
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
  for (core::MetricSlot slot : core::kAllMetricSlots) {
    if (const auto& ratio = decision.ratios[core::slotIndex(slot)]) {
      out << " " << core::metricSlotName(slot) << "=" << formatRatio(*ratio);
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
