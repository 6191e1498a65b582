// The scale-to-zero wake check of validation.h: which metrics a policy reads
// from its target's own pods, which at 0 replicas do not exist.
#include "core/validation.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine_presets.h"

namespace kubeai::core {
namespace {

bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == ':';
}

bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// The end of the string opened at `open` (one past its closing quote, or the
// end of the text); its contents go to `contents`.
std::size_t skipString(std::string_view text, std::size_t open, std::string_view& contents) {
  const char quote = text[open];
  std::size_t i = open + 1;
  while (i < text.size() && text[i] != quote) {
    const bool escape = quote != '`' && text[i] == '\\' && i + 1 < text.size();
    i += escape ? 2U : 1U;
  }
  contents = text.substr(open + 1, std::min(i, text.size()) - open - 1);
  return i < text.size() ? i + 1 : text.size();
}

bool isPodLabel(std::string_view name) { return name == "pod" || name == "exported_pod" || name == "pod_name"; }

// What reads a metric, for the warning: its default query, or its own query
// when that selects the target's pods; nullopt when it is read from elsewhere.
// `engineDefault` is spec.metrics.engine's default for the metric, if any.
std::optional<std::string> podScoped(const std::string& query, const std::string& field,
                                     std::string_view engineDefault = {}) {
  if (query.empty()) {
    if (!engineDefault.empty() && engineDefault.find("${pods}") == std::string_view::npos) {
      return std::nullopt;  // a pool-level default (llm-d's gateway queue)
    }
    return field + ": the default query";
  }
  if (selectsTargetPods(query)) {
    return field + ".prometheusQuery: a matcher on the target's pods";
  }
  return std::nullopt;
}

}  // namespace

bool selectsTargetPods(std::string_view query) {
  std::size_t i = 0;
  while (i < query.size()) {
    const char c = query[i];
    if (c == '#') {
      const std::size_t end = query.find('\n', i);
      i = end == std::string_view::npos ? query.size() : end;
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      std::string_view ignored;
      i = skipString(query, i, ignored);
      continue;
    }
    if (!isLabelChar(c)) {
      ++i;
      continue;
    }
    std::size_t end = i;
    while (end < query.size() && isLabelChar(query[end])) {
      ++end;
    }
    const std::string_view name = query.substr(i, end - i);
    i = end;
    if (!isPodLabel(name)) {
      continue;
    }
    std::size_t j = end;
    while (j < query.size() && isSpace(query[j])) {
      ++j;
    }
    // = or =~, not == (a comparison) nor != / !~ (those exclude the pods)
    if (j >= query.size() || query[j] != '=' || (j + 1 < query.size() && query[j + 1] == '=')) {
      continue;
    }
    ++j;
    if (j < query.size() && query[j] == '~') {
      ++j;
    }
    while (j < query.size() && isSpace(query[j])) {
      ++j;
    }
    if (j < query.size() && (query[j] == '"' || query[j] == '\'' || query[j] == '`')) {
      std::string_view contents;
      i = skipString(query, j, contents);
      if (contents.find("${target}") != std::string_view::npos) {
        return true;
      }
    }
  }
  return false;
}

std::optional<FieldError> scaleToZeroWakeWarning(const Policy& policy) {
  const PolicySpec& spec = policy.spec;
  if (spec.effectiveMinReplicas() != 0) {
    return std::nullopt;
  }
  const auto used = [](const std::optional<double>& target) { return target && *target > 0.0; };
  std::vector<std::string> scoped;
  bool any = false;
  const auto consider = [&](const std::string& query, const std::string& field,
                            std::string_view engineDefault = {}) {
    any = true;
    auto reason = podScoped(query, field, engineDefault);
    if (!reason) {
      return false;  // read from outside the pods: it can wake the policy
    }
    scoped.push_back(std::move(*reason));
    return true;
  };
  const MetricsSpec& metrics = spec.metrics;
  const EngineDefaults defaults = metrics.engine.empty() ? EngineDefaults{} : engineDefaults(metrics.engine);
  if (metrics.latency && metrics.latency->enabled &&
      (used(metrics.latency->targetP99Ms) || used(metrics.latency->targetP95Ms)) &&
      !consider(metrics.latency->prometheusQuery, "spec.metrics.latency", defaults.latency)) {
    return std::nullopt;
  }
  if (metrics.gpuUtilization && metrics.gpuUtilization->enabled && used(metrics.gpuUtilization->targetPercentage) &&
      !consider(metrics.gpuUtilization->prometheusQuery, "spec.metrics.gpuUtilization", defaults.gpuUtilization)) {
    return std::nullopt;
  }
  if (metrics.requestQueueDepth && metrics.requestQueueDepth->enabled &&
      used(metrics.requestQueueDepth->targetDepth) &&
      !consider(metrics.requestQueueDepth->prometheusQuery, "spec.metrics.requestQueueDepth",
                defaults.requestQueueDepth)) {
    return std::nullopt;
  }
  for (std::size_t i = 0; i < metrics.custom.size(); ++i) {
    const CustomMetricSpec& custom = metrics.custom[i];
    if (!(custom.targetValue > 0.0)) {
      continue;
    }
    const std::string field = "spec.metrics.custom[" + std::to_string(i) + "]";
    if (!custom.prometheusQuery.empty()) {
      if (!consider(custom.prometheusQuery, field)) {
        return std::nullopt;
      }
      continue;
    }
    const EnginePreset* preset = findPreset(custom.engine, custom.signal);
    if (preset == nullptr) {
      continue;  // an error of its own
    }
    any = true;
    if (!preset->podScoped) {
      return std::nullopt;
    }
    scoped.push_back(field + ": the " + custom.engine + " preset " + custom.signal + " (its pods)");
  }
  if (!any) {
    return std::nullopt;
  }
  std::string message = "0, but every metric in use is read from the target's own pods (";
  for (std::size_t i = 0; i < scoped.size(); ++i) {
    message += i == 0 ? "" : "; ";
    message += scoped[i];
  }
  message +=
      "), so at 0 replicas no series exists and nothing can wake the policy: add a metric read from outside the "
      "pods, e.g. a gateway's or broker's queue for the target (examples/policies/queue-scale-to-zero.yaml)";
  return FieldError{"spec.minReplicas", std::move(message)};
}

}  // namespace kubeai::core
