#include "cli/evaluate_history_output.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/decision_output.h"
#include "core/metric_target.h"
#include "kube/client/kube_time.h"

namespace kubeai::cli {
namespace {

std::string formatSeconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.15gs", seconds);  // %g: 1000001.5 would be 1e+06
  return buffer;
}

std::string rowTimeText(const HistoryRow& row) { return row.seconds ? formatSeconds(*row.seconds) : row.timestamp; }

// The reason, then what the decision's explanation adds to it, briefly: the
// full text is `evaluate` without --history, or --output json.
std::string explanation(const core::Decision& decision, const core::MetricsSpec& metrics) {
  std::string text = decision.reason;
  if (decision.anchorReplicas != decision.currentReplicas) {
    text += "; our ";
    text += std::to_string(decision.anchorReplicas);
    text += " on its way counts as current";
  }
  if (const auto& forecast = decision.forecast) {
    text += "; forecast ";
    text += core::metricName(metrics, forecast->slot);
    text += " ";
    text += formatReplicas(forecast->demandReplicas);
    text += " -> ";
    text += formatReplicas(forecast->forecastReplicas);
    text += " in ";
    text += formatSeconds(forecast->horizonSeconds);
    text += " (";
    text += core::horizonSourceName(forecast->horizonSource);
    text += "), ";
    text += core::forecastOutcome(*forecast, decision.recommendedReplicas);
  }
  if (hasModelsOnly(decision, metrics)) {
    // A hold without metrics or Predictive's error: the reason before says which.
    text += "; no forecast, the models kept";
  }
  if (const auto& panic = decision.panic) {
    text += panic->panicking ? "; panic on" : "; panic off";
    if (panic->panicking && panic->since) {
      text += " since ";
      text += kube::formatTime(*panic->since);
    }
  }
  if (!decision.algorithmError.empty()) {
    text += "; error: ";
    text += decision.algorithmError;
  }
  return text;
}

}  // namespace

nlohmann::json historyToJson(const std::string& policyKey, const std::vector<HistoryRow>& rows,
                             const std::vector<core::Decision>& decisions, const core::MetricsSpec& metrics) {
  nlohmann::json out = nlohmann::json::array();
  const std::size_t count = std::min(rows.size(), decisions.size());
  for (std::size_t i = 0; i < count; ++i) {
    nlohmann::json json = decisionToJson(decisions[i], metrics);
    json["policy"] = policyKey;
    json["row"] = i + 1;
    json["time"] = rows[i].seconds ? nlohmann::json(*rows[i].seconds) : nlohmann::json(rows[i].timestamp);
    out.push_back(std::move(json));
  }
  return out;
}

std::string historyToText(const std::string& policyKey, const std::vector<HistoryRow>& rows,
                          const std::vector<core::Decision>& decisions, const core::MetricsSpec& metrics) {
  std::ostringstream out;
  out << "policy: " << policyKey;
  if (!decisions.empty()) {
    const core::Decision& first = decisions.front();
    out << " (" << first.algorithm;
    if (!first.algorithmValid) {
      out << "; requested \"" << first.requestedAlgorithm << "\" is not registered";
    }
    out << ")";
  }
  out << "\n";
  std::vector<std::vector<std::string>> table;
  table.push_back({"ROW", "TIME", "CURRENT", "READY", "RATIO", "RECOMMENDED", "DESIRED", "LIMITED BY", "REASON"});
  const std::size_t count = std::min(rows.size(), decisions.size());
  for (std::size_t i = 0; i < count; ++i) {
    const core::Decision& decision = decisions[i];
    const std::string_view limitedBy = core::limitedByName(decision.limitedBy);
    table.push_back({std::to_string(i + 1), rowTimeText(rows[i]), std::to_string(decision.currentReplicas),
                     decision.readyReplicas ? std::to_string(*decision.readyReplicas) : "-",
                     decision.ratio ? formatRatio(*decision.ratio) : "-", std::to_string(decision.recommendedReplicas),
                     std::to_string(decision.desiredReplicas), limitedBy.empty() ? "-" : std::string(limitedBy),
                     explanation(decision, metrics)});
  }
  // Every column but the last as wide as its widest cell.
  std::vector<std::size_t> widths(table.front().size(), 0);
  for (const auto& line : table) {
    for (std::size_t column = 0; column + 1 < line.size(); ++column) {
      widths[column] = std::max(widths[column], line[column].size());
    }
  }
  for (const auto& line : table) {
    for (std::size_t column = 0; column < line.size(); ++column) {
      out << line[column];
      if (column + 1 < line.size()) {
        out << std::string(widths[column] - line[column].size() + 2, ' ');
      }
    }
    out << "\n";
  }
  return out.str();
}

}  // namespace kubeai::cli
