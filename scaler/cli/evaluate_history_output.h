#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "cli/evaluate_history.h"
#include "core/decision.h"
#include "core/policy.h"

// How `evaluate --history` prints its decisions, one per row.
namespace kubeai::cli {

// A JSON array, one object per row: the keys of `evaluate --output json`
// (decisionToJson, and policy) plus row (from 1) and time (as the file gave
// it: seconds from the start, or the RFC 3339 text).
nlohmann::json historyToJson(const std::string& policyKey, const std::vector<HistoryRow>& rows,
                             const std::vector<core::Decision>& decisions, const core::MetricsSpec& metrics);

// A table for people: a header line with the policy and algorithm, then one
// line per row (row, time, current, ready, ratio, recommended, desired,
// limited by, then the reason with what Predictive or Burst saw and our own
// change while it counts as current).
std::string historyToText(const std::string& policyKey, const std::vector<HistoryRow>& rows,
                          const std::vector<core::Decision>& decisions, const core::MetricsSpec& metrics);

}  // namespace kubeai::cli
