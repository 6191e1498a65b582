#include "core/custom_metric_validation.h"

#include <array>
#include <cmath>
#include <set>
#include <string>

#include "core/engine_presets.h"

namespace kubeai::core {
namespace {

// The seed's names, as spec.metrics keys, slot names and metrics-file keys: a
// custom metric of one of these names would be ambiguous wherever names show.
constexpr std::array<std::string_view, 12> kReservedNames = {
    "latency",        "latencyP99",        "latencyP95",      "gpuUtilization",
    "requestQueueDepth", "latencyP99Ms",   "latencyP95Ms",    "gpuUtilizationPercent",
    "currentReplicas", "readyReplicas",    "engine",          "custom"};

constexpr std::size_t kMaxNameLength = 63;

std::string quoted(std::string_view text) {
  std::string out = "\"";
  out += text;
  out += '"';
  return out;
}

std::string reservedList() {
  std::string out;
  for (const std::string_view name : kReservedNames) {
    out += out.empty() ? "" : ", ";
    out += name;
  }
  return out;
}

std::string engineList() {
  std::string out;
  for (const std::string_view engine : knownEngines()) {
    out += out.empty() ? "" : ", ";
    out += engine;
  }
  return out;
}

void validateEngine(std::string_view engine, const std::string& field, ValidationReport& report) {
  if (!isKnownEngine(engine)) {
    report.errors.push_back({field, "unknown engine " + quoted(engine) + " (known: " + engineList() + ")"});
  }
}

void validateSource(const CustomMetricSpec& metric, const std::string& path, ValidationReport& report) {
  const bool hasQuery = !metric.prometheusQuery.empty();
  const bool hasPreset = !metric.engine.empty() || !metric.signal.empty();
  if (hasQuery && hasPreset) {
    report.errors.push_back(
        {path, "set either prometheusQuery or engine + signal, not both"});
    return;
  }
  if (!hasQuery && !hasPreset) {
    report.errors.push_back({path, "needs prometheusQuery, or engine + signal (a preset, docs/metrics.md)"});
    return;
  }
  if (hasQuery) {
    return;
  }
  if (metric.engine.empty()) {
    report.errors.push_back({path + ".engine", "required with signal (known: " + engineList() + ")"});
    return;
  }
  if (!isKnownEngine(metric.engine)) {
    validateEngine(metric.engine, path + ".engine", report);
    return;
  }
  if (metric.signal.empty()) {
    report.errors.push_back(
        {path + ".signal", "required with engine; " + metric.engine + " offers " + engineSignalList(metric.engine)});
    return;
  }
  if (findPreset(metric.engine, metric.signal) == nullptr) {
    report.errors.push_back({path + ".signal", "engine " + metric.engine + " has no signal " + quoted(metric.signal) +
                                                   "; it offers " + engineSignalList(metric.engine)});
  }
}

bool isCamelCaseIdentifier(std::string_view name) noexcept {
  if (name.empty() || name.size() > kMaxNameLength || !(name.front() >= 'a' && name.front() <= 'z')) {
    return false;
  }
  for (const char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

bool isReservedMetricName(std::string_view name) noexcept {
  for (const std::string_view reserved : kReservedNames) {
    if (name == reserved) {
      return true;
    }
  }
  return false;
}

}  // namespace

bool isCustomMetricName(std::string_view name) noexcept {
  return isCamelCaseIdentifier(name) && !isReservedMetricName(name);
}

void validateCustomMetrics(const MetricsSpec& metrics, ValidationReport& report) {
  if (!metrics.engine.empty()) {
    validateEngine(metrics.engine, "spec.metrics.engine", report);
  }
  if (metrics.custom.size() > kMaxCustomMetrics) {
    report.errors.push_back({"spec.metrics.custom", "must have at most " + std::to_string(kMaxCustomMetrics) +
                                                        " entries, got " + std::to_string(metrics.custom.size())});
  }
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < metrics.custom.size(); ++i) {
    const CustomMetricSpec& metric = metrics.custom[i];
    const std::string path = "spec.metrics.custom[" + std::to_string(i) + "]";
    if (metric.name.empty()) {
      report.errors.push_back({path + ".name", "required (a camelCase name such as kvCache)"});
    } else if (!isCamelCaseIdentifier(metric.name)) {
      report.errors.push_back(
          {path + ".name", "must be a camelCase identifier (a-z first, then letters and digits, at most " +
                               std::to_string(kMaxNameLength) + " characters), got " + quoted(metric.name)});
    } else if (isReservedMetricName(metric.name)) {
      // camelCase already, so the rule above would not explain the refusal.
      report.errors.push_back({path + ".name", "must not be one of the seed's metric names (" + reservedList() +
                                                   "), got " + quoted(metric.name)});
    } else if (!seen.insert(metric.name).second) {
      report.errors.push_back({path + ".name", "duplicate name " + quoted(metric.name) + " (names are unique)"});
    }
    validateSource(metric, path, report);
    if (!(std::isfinite(metric.targetValue) && metric.targetValue > 0.0)) {
      report.errors.push_back({path + ".target.value", "must be a number greater than 0"});
    }
    if (!(std::isfinite(metric.weight) && metric.weight >= 0.0)) {
      report.errors.push_back({path + ".weight", "must be a finite number >= 0"});
    }
  }
}

}  // namespace kubeai::core
