#include "core/validation.h"

#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "core/burst_algorithm.h"
#include "core/custom_metric_validation.h"
#include "core/json_escape.h"
#include "core/metric_slot.h"

namespace kubeai::core {
namespace {

bool isAlnumLower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

class Collector {
 public:
  explicit Collector(ValidationReport& report) : report_(report) {}
  void error(std::string field, std::string message) {
    report_.errors.push_back({std::move(field), std::move(message)});
  }
  void warning(std::string field, std::string message) {
    report_.warnings.push_back({std::move(field), std::move(message)});
  }

 private:
  ValidationReport& report_;
};


void validateMetadata(const PolicyMetadata& metadata, Collector& out) {
  if (metadata.name.empty()) {
    out.error("metadata.name", "required");
  } else if (!isDns1123Subdomain(metadata.name)) {
    out.error("metadata.name",
              "must be a lowercase RFC 1123 subdomain (a-z, 0-9, '-', '.', at most 253 characters), got \"" +
                  metadata.name + "\"");
  }
  if (!isDns1123Label(metadata.namespace_)) {
    out.error("metadata.namespace",
              "must be a lowercase RFC 1123 label (a-z, 0-9, '-', at most 63 characters), got \"" +
                  metadata.namespace_ + "\"");
  }
}

void validateTarget(const TargetRef& target, Collector& out) {
  if (target.kind.empty()) {
    out.error("spec.targetRef.kind", "required (Deployment or StatefulSet)");
  } else if (target.kind != "Deployment" && target.kind != "StatefulSet") {
    out.error("spec.targetRef.kind", "must be Deployment or StatefulSet, got \"" + target.kind + "\"");
  }
  if (target.name.empty()) {
    out.error("spec.targetRef.name", "required");
  } else if (!isDns1123Subdomain(target.name)) {
    out.error("spec.targetRef.name", "must be a lowercase RFC 1123 subdomain, got \"" + target.name + "\"");
  }
  if (target.apiVersion.empty()) {
    out.error("spec.targetRef.apiVersion", "must not be empty (omit it for apps/v1)");
  } else if (!isApiGroupVersion(target.apiVersion)) {
    // It becomes part of the /scale URL: anything but group/version could
    // point the server at another namespace's object.
    out.error("spec.targetRef.apiVersion",
              "must be an API group/version such as apps/v1 (lowercase group, version vN, vNalphaM or "
              "vNbetaM), got \"" + target.apiVersion + "\"");
  }
}

void validateTarget(const std::optional<double>& target, const std::string& field, Collector& out) {
  if (target && !(std::isfinite(*target) && *target >= 0.0)) {
    out.error(field, "must be >= 0");
  }
}

void validateMetrics(const MetricsSpec& metrics, Collector& out) {
  bool anyEnabled = false;
  if (metrics.latency && metrics.latency->enabled) {
    anyEnabled = true;
    const auto& latency = *metrics.latency;
    validateTarget(latency.targetP99Ms, "spec.metrics.latency.targetP99Ms", out);
    validateTarget(latency.targetP95Ms, "spec.metrics.latency.targetP95Ms", out);
    const bool hasP99 = latency.targetP99Ms && *latency.targetP99Ms > 0.0;
    const bool hasP95 = latency.targetP95Ms && *latency.targetP95Ms > 0.0;
    if (!hasP99 && !hasP95) {
      out.error("spec.metrics.latency", "enabled latency metric needs targetP99Ms or targetP95Ms greater than 0");
    }
  }
  if (metrics.gpuUtilization && metrics.gpuUtilization->enabled) {
    anyEnabled = true;
    const auto& target = metrics.gpuUtilization->targetPercentage;
    if (!target) {
      out.error("spec.metrics.gpuUtilization.targetPercentage", "required when gpuUtilization is enabled");
    } else if (!(std::isfinite(*target) && *target >= 1.0 && *target <= 100.0)) {
      out.error("spec.metrics.gpuUtilization.targetPercentage", "must be between 1 and 100");
    }
  }
  if (metrics.requestQueueDepth && metrics.requestQueueDepth->enabled) {
    anyEnabled = true;
    const auto& target = metrics.requestQueueDepth->targetDepth;
    validateTarget(target, "spec.metrics.requestQueueDepth.targetDepth", out);
    if (!target || *target == 0.0) {
      out.warning("spec.metrics.requestQueueDepth.targetDepth",
                  "not set or 0: the queue depth metric is enabled but will never be used");
    }
  }
  if (!anyEnabled && metrics.custom.empty()) {
    out.error("spec.metrics", "at least one metric must be enabled");
  }
}

void validateAlgorithm(const AlgorithmSpec& algorithm, Collector& out) {
  if (algorithm.name.empty()) {
    out.error("spec.algorithm.name", "must not be empty (omit it for MaxRatio)");
  }
  if (!(std::isfinite(algorithm.tolerance) && algorithm.tolerance >= 0.0 && algorithm.tolerance <= 1.0)) {
    out.error("spec.algorithm.tolerance", "must be between 0 and 1");
  }
  for (std::size_t i = 0; i < algorithm.weights.size(); ++i) {
    const double weight = algorithm.weights[i];
    if (!(std::isfinite(weight) && weight >= 0.0)) {
      out.error("spec.algorithm.weights[" + std::to_string(i) + "]", "must be a finite number >= 0");
    }
  }
  if (algorithm.weights.size() > kMetricSlotCount) {
    out.warning("spec.algorithm.weights",
                "has " + std::to_string(algorithm.weights.size()) +
                    " entries; only the first 4 are used (latencyP99, latencyP95, gpuUtilization, "
                    "requestQueueDepth; a custom metric has its own weight)");
  }
}

void validateRules(const std::optional<ScalingRules>& rules, const std::string& field, Collector& out) {
  if (!rules) {
    return;
  }
  if (rules->stabilizationWindowSeconds < 0) {
    out.error(field + ".stabilizationWindowSeconds", "must be >= 0");
  } else if (rules->stabilizationWindowSeconds > kMaxStabilizationWindowSeconds) {
    out.error(field + ".stabilizationWindowSeconds", "must be <= " + std::to_string(kMaxStabilizationWindowSeconds));
  }
  if (rules->policies.size() > kMaxScalingPolicies) {
    out.error(field + ".policies", "must have at most " + std::to_string(kMaxScalingPolicies) + " entries, got " +
                                       std::to_string(rules->policies.size()));
  }
  for (std::size_t i = 0; i < rules->policies.size(); ++i) {
    const ScalingPolicy& policy = rules->policies[i];
    const std::string path = field + ".policies[" + std::to_string(i) + "]";
    if (policy.value <= 0) {
      out.error(path + ".value", "must be greater than 0");
    }
    if (policy.periodSeconds <= 0) {
      out.error(path + ".periodSeconds", "must be greater than 0");
    } else if (policy.periodSeconds > kMaxPeriodSeconds) {
      out.error(path + ".periodSeconds", "must be <= " + std::to_string(kMaxPeriodSeconds));
    }
  }
}

}  // namespace

bool isDns1123Label(const std::string& value) {
  if (value.empty() || value.size() > 63 || !isAlnumLower(value.front()) || !isAlnumLower(value.back())) {
    return false;
  }
  for (char c : value) {
    if (!isAlnumLower(c) && c != '-') {
      return false;
    }
  }
  return true;
}

bool isDns1123Subdomain(const std::string& value) {
  if (value.empty() || value.size() > 253) {
    return false;
  }
  std::size_t start = 0;
  while (start <= value.size()) {
    const std::size_t dot = value.find('.', start);
    const std::string label = value.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || !isAlnumLower(label.front()) || !isAlnumLower(label.back())) {
      return false;
    }
    for (char c : label) {
      if (!isAlnumLower(c) && c != '-') {
        return false;
      }
    }
    if (dot == std::string::npos) {
      break;
    }
    start = dot + 1;
  }
  return true;
}

bool isApiGroupVersion(const std::string& value) {
  // ^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$, the CRD's pattern.
  const auto isDigit = [](char c) { return c >= '0' && c <= '9'; };
  std::string_view version(value);
  if (const std::size_t slash = version.find('/'); slash != std::string_view::npos) {
    const std::string_view group = version.substr(0, slash);
    if (group.empty() || !isAlnumLower(group.front()) || !isAlnumLower(group.back())) {
      return false;
    }
    for (char c : group) {
      if (!isAlnumLower(c) && c != '-' && c != '.') {
        return false;
      }
    }
    version.remove_prefix(slash + 1);
  }
  if (version.empty() || version.front() != 'v') {
    return false;
  }
  version.remove_prefix(1);
  const auto digits = [&] {
    std::size_t n = 0;
    while (n < version.size() && isDigit(version[n])) {
      ++n;
    }
    version.remove_prefix(n);
    return n > 0;
  };
  if (!digits()) {
    return false;
  }
  if (version.empty()) {
    return true;
  }
  if (version.starts_with("alpha")) {
    version.remove_prefix(5);
  } else if (version.starts_with("beta")) {
    version.remove_prefix(4);
  } else {
    return false;
  }
  return digits() && version.empty();
}

ValidationReport validatePolicy(const Policy& policy) {
  ValidationReport report;
  Collector out(report);
  const PolicySpec& spec = policy.spec;

  validateMetadata(policy.metadata, out);
  validateTarget(spec.targetRef, out);

  if (spec.minReplicas && *spec.minReplicas < 0) {
    out.error("spec.minReplicas", "must be >= 0");
  }
  if (spec.maxReplicas < 1) {
    out.error("spec.maxReplicas", "must be >= 1");
  } else if (spec.maxReplicas < spec.effectiveMinReplicas()) {
    out.error("spec.maxReplicas", "must be >= minReplicas (" + std::to_string(spec.effectiveMinReplicas()) + ")");
  }
  if (spec.cooldownPeriod && *spec.cooldownPeriod < 0) {
    out.error("spec.cooldownPeriod", "must be >= 0");
  }

  validateMetrics(spec.metrics, out);
  validateCustomMetrics(spec.metrics, report);
  validateAlgorithm(spec.algorithm, out);
  validateRules(spec.scaleUp, "spec.scaleUp", out);
  validateRules(spec.scaleDown, "spec.scaleDown", out);
  if (auto wake = scaleToZeroWakeWarning(policy)) {
    report.warnings.push_back(std::move(*wake));
  }
  if (spec.algorithm.name == BurstAlgorithm::kName && spec.effectiveCooldownSeconds() > 0) {
    // The cooldown holds every change, so a panic could scale up once per
    // cooldown: what panic mode is for is undone, and silently.
    const std::int32_t cooldown = spec.effectiveCooldownSeconds();
    report.warnings.push_back(
        {"spec.cooldownPeriod",
         std::to_string(cooldown) + " s" + (spec.cooldownPeriod ? "" : " (the default)") +
             " holds every change that long, a panic's scale-ups too; Burst's stable window already keeps it "
             "from scaling down while a burst lasts: 0 lets a panic scale up at each decision"});
  }
  return report;
}

Status checkAlgorithmParameters(const Policy& policy, const ScalingAlgorithm& algorithm) {
  const AlgorithmSpec& spec = policy.spec.algorithm;
  const Status verdict = algorithm.validateParameters(ValidateInput{
      .policyName = policy.metadata.name,
      .policyNamespace = policy.metadata.namespace_,
      .parameters = &spec.parameters,
      .weights = spec.weights,
  });
  if (verdict.ok()) {
    return verdict;
  }
  // A plugin may quote a user's value with a line end in it: one line
  // still (a built-in's message is escaped already).
  const std::string message = withControlCharactersEscaped(verdict.error().message);
  // A built-in names the parameter and itself already.
  if (message.starts_with("spec.algorithm.parameters.")) {
    return Error{message, verdict.error().reason};
  }
  return Error{"spec.algorithm.parameters: refused by " + std::string(algorithm.name()) + ": " + message,
               verdict.error().reason};
}

}  // namespace kubeai::core
