#include "source/prometheus/query_template.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "source/prometheus/engine_queries.h"

namespace kubeai::source::prometheus {
namespace {

constexpr std::string_view kRegexMeta = R"(\.+*?()|[]{}^$)";

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

bool isQuote(char c) { return c == '"' || c == '\'' || c == '`'; }

// Whether the string opening at `quote` is the operand of a regex matcher
// (label=~"..." or label!~"..."), looking back over blanks.
bool opensRegex(std::string_view tmpl, std::size_t quote) {
  std::size_t end = quote;
  while (end > 0 && (tmpl[end - 1] == ' ' || tmpl[end - 1] == '\t' || tmpl[end - 1] == '\n' ||
                     tmpl[end - 1] == '\r')) {
    --end;
  }
  return end >= 2 && tmpl[end - 1] == '~' && (tmpl[end - 2] == '=' || tmpl[end - 2] == '!');
}

std::string knownPlaceholders(bool withQuantile) {
  return withQuantile ? "${namespace}, ${target}, ${policy}, ${quantile}" : "${namespace}, ${target}, ${policy}";
}

// Joins pieces with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// A position for error messages, counted from 1 ("at character 12").
std::string at(std::size_t position) {
  std::string text = "at character ";
  text += std::to_string(position + 1);
  return text;
}

}  // namespace

core::Result<std::string> escapePromqlString(std::string_view value, char quote) {
  std::string out;
  out.reserve(value.size());
  if (quote == '`') {
    // A raw string has no escapes: it can hold anything but its delimiter.
    if (value.find('`') != std::string_view::npos) {
      return core::Error{"the value holds a backtick, which a raw `...` string cannot hold"};
    }
    out = value;
    return out;
  }
  for (const char c : value) {
    if (c == '\\' || c == quote) {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += hex;
    } else {
      out += c;  // UTF-8 passes through: PromQL strings are UTF-8
    }
  }
  return out;
}

std::string escapeRegex(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (kRegexMeta.find(c) != std::string_view::npos) {
      out += '\\';
    }
    out += c;
  }
  return out;
}

core::Result<std::string> expandTemplate(std::string_view tmpl, const TemplateValues& values) {
  std::string out;
  out.reserve(tmpl.size() + 64);
  char quote = 0;  // the open string's delimiter, 0 outside strings
  std::size_t stringStart = 0;
  bool regex = false;
  std::size_t i = 0;
  while (i < tmpl.size()) {
    const char c = tmpl[i];
    if (quote == 0 && c == '#') {
      // A comment runs to the end of the line; quotes in it open nothing.
      const std::size_t end = tmpl.find('\n', i);
      const std::size_t stop = end == std::string_view::npos ? tmpl.size() : end;
      out += tmpl.substr(i, stop - i);
      i = stop;
      continue;
    }
    if (quote == 0 && isQuote(c)) {
      quote = c;
      stringStart = i;
      regex = opensRegex(tmpl, i);
      out += c;
      ++i;
      continue;
    }
    if (quote != 0 && quote != '`' && c == '\\' && i + 1 < tmpl.size()) {
      // An escape is copied whole, so \" does not close the string.
      out += tmpl.substr(i, 2);
      i += 2;
      continue;
    }
    if (quote != 0 && c == quote) {
      quote = 0;
      out += c;
      ++i;
      continue;
    }
    if (c != '$' || i + 1 >= tmpl.size() || tmpl[i + 1] != '{') {
      out += c;
      ++i;
      continue;
    }

    std::size_t close = i + 2;
    while (close < tmpl.size() && isNameChar(tmpl[close])) {
      ++close;
    }
    if (close == tmpl.size() || tmpl[close] != '}') {
      std::string message = "unterminated placeholder ";
      message += at(i);
      message += ": write ${name}";
      return core::Error{std::move(message)};
    }
    const std::string_view name = tmpl.substr(i + 2, close - i - 2);
    const bool withQuantile = !values.quantile.empty();
    std::string_view value;
    bool isName = true;  // user data, allowed inside strings only
    if (name == "namespace") {
      value = values.namespace_;
    } else if (name == "target") {
      value = values.target;
    } else if (name == "policy") {
      value = values.policy;
    } else if (name == "quantile" && withQuantile) {
      value = values.quantile;
      isName = false;
    } else {
      std::string message = "unknown placeholder ${";
      message += name;
      message += "} ";
      message += at(i);
      if (name == "quantile") {
        message += ": ${quantile} is known in latency queries only";
      } else {
        message += " (known: ";
        message += knownPlaceholders(withQuantile);
        message += ")";
      }
      return core::Error{std::move(message)};
    }

    if (quote == 0) {
      if (isName) {
        std::string message = "${";
        message += name;
        message += "} ";
        message += at(i);
        message += " must be inside a quoted string, e.g. namespace=\"${namespace}\"";
        return core::Error{std::move(message)};
      }
      out += value;
    } else {
      const std::string literal = regex ? escapeRegex(value) : std::string(value);
      auto escaped = escapePromqlString(literal, quote);
      if (!escaped.ok()) {
        std::string context = "${";
        context += name;
        context += "} ";
        context += at(i);
        return escaped.error().withContext(context);
      }
      out += escaped.value();
    }
    i = close + 1;
  }
  if (quote != 0) {
    std::string message = "string opened ";
    message += at(stringStart);
    message += " is not closed";
    return core::Error{std::move(message)};
  }
  return out;
}

std::string defaultMetricQuery(DefaultMetric metric, std::string_view podsRegex) {
  std::string query;
  switch (metric) {
    case DefaultMetric::kGpuUtilization:
      query = R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}",pod=~")";
      query += podsRegex;
      query += R"("}))";
      break;
    case DefaultMetric::kLatency:
      query = R"(histogram_quantile(${quantile}, sum by (le) )";
      query += R"((rate(inference_request_duration_seconds_bucket{namespace="${namespace}",pod=~")";
      query += podsRegex;
      query += R"("}[2m]))))";
      break;
    case DefaultMetric::kRequestQueueDepth:
      query = R"(sum(inference_request_queue_depth{namespace="${namespace}",pod=~")";
      query += podsRegex;
      query += R"("}))";
      break;
  }
  return query;
}

TargetPods targetPods(const core::TargetRef& target) {
  if (target.kind == "StatefulSet") {
    return {std::string(kStatefulSetPodsRegex), target.name};
  }
  const std::size_t length = target.name.size();
  if (length <= kMaxUncutDeploymentName) {
    return {std::string(kDeploymentPodsRegex), target.name};
  }
  const std::string letter = concat("[", kSafeAlphabet, "]");
  if (length >= kMaxGeneratedNamePrefix) {
    // The prefix <deployment>-<hash>- is cut inside the Deployment's own name:
    // its pods are its first 58 characters and the 5-character suffix.
    return {concat("${target}", letter, "{5}"), target.name.substr(0, kMaxGeneratedNamePrefix)};
  }
  // 47 to 57 characters: <deployment>-<hash>- is longer than 58 with a long
  // enough hash. Cut to 58, it keeps 57 - length characters of the hash and
  // no second dash: the pod is <deployment>-<62 - length characters>. A hash
  // of at most 56 - length characters is not cut.
  std::string regex;
  const std::size_t longestUncutHash =
      length + 2 < kMaxGeneratedNamePrefix ? std::min<std::size_t>(10, kMaxGeneratedNamePrefix - 2 - length) : 0;
  if (longestUncutHash >= 1) {
    regex = concat("${target}-", letter, "{1,", std::to_string(longestUncutHash), "}-", letter, "{5}|");
  }
  regex += concat("${target}-", letter, "{", std::to_string(kMaxGeneratedNamePrefix + 5 - 1 - length), "}");
  return {std::move(regex), target.name};
}

namespace {

// Expands the policy's own template `custom` when it set one, else the
// default `fallback` with `fallbackValues`; errors name `field`.
void expandInto(std::optional<std::string>& into, const std::string& custom, const TemplateValues& values,
                std::string_view fallback, const TemplateValues& fallbackValues, std::string_view field,
                std::vector<std::string>& errors) {
  auto expanded = custom.empty() ? expandTemplate(fallback, fallbackValues) : expandTemplate(custom, values);
  if (!expanded.ok()) {
    std::string message(field);
    message += ": ";
    message += expanded.error().message;
    errors.push_back(std::move(message));
    return;
  }
  into = std::move(expanded).value();
}

bool hasTarget(const std::optional<double>& target) { return target && *target > 0.0; }

}  // namespace

core::Result<PolicyQueries> policyQueries(const core::Policy& policy, const QueryOptions& options) {
  const core::MetricsSpec& metrics = policy.spec.metrics;
  TemplateValues values{policy.metadata.namespace_, policy.spec.targetRef.name, policy.metadata.name, {}};
  // The defaults name the target as its pods' names hold it (targetPods()).
  const TargetPods pods = targetPods(policy.spec.targetRef);
  TemplateValues podValues = values;
  podValues.target = pods.name;
  PolicyQueries queries;
  std::vector<std::string> errors;

  // spec.metrics.engine's defaults where it has them, else the seed's.
  EngineDefaultTemplates engine;
  if (!metrics.engine.empty()) {
    auto templates = engineDefaultTemplates(metrics.engine, pods);
    if (!templates.ok()) {
      errors.push_back("spec.metrics.engine: " + templates.error().message);
    } else {
      engine = std::move(templates).value();
    }
  }
  auto defaultQuery = [&](DefaultMetric metric, const std::string& engineDefault) {
    return engineDefault.empty() ? defaultMetricQuery(metric, pods.regex) : engineDefault;
  };

  if (metrics.latency && metrics.latency->enabled) {
    const core::LatencyMetricSpec& latency = *metrics.latency;
    constexpr std::string_view kField = "spec.metrics.latency.prometheusQuery";
    const std::string fallback = defaultQuery(DefaultMetric::kLatency, engine.latency);
    const std::size_t before = errors.size();
    if (hasTarget(latency.targetP99Ms)) {
      values.quantile = podValues.quantile = kQuantileP99;
      expandInto(queries.latencyP99, latency.prometheusQuery, values, fallback, podValues, kField, errors);
    }
    // One custom query serves both quantiles; report its error once.
    if (hasTarget(latency.targetP95Ms) && errors.size() == before) {
      values.quantile = podValues.quantile = kQuantileP95;
      expandInto(queries.latencyP95, latency.prometheusQuery, values, fallback, podValues, kField, errors);
    }
    values.quantile = podValues.quantile = {};
  }
  if (metrics.gpuUtilization && metrics.gpuUtilization->enabled && hasTarget(metrics.gpuUtilization->targetPercentage)) {
    expandInto(queries.gpuUtilization, metrics.gpuUtilization->prometheusQuery, values,
               defaultQuery(DefaultMetric::kGpuUtilization, engine.gpuUtilization), podValues,
               "spec.metrics.gpuUtilization.prometheusQuery", errors);
  }
  if (metrics.requestQueueDepth && metrics.requestQueueDepth->enabled &&
      hasTarget(metrics.requestQueueDepth->targetDepth)) {
    // A pool-level default (llm-d) names the pool by the target's full name.
    expandInto(queries.requestQueueDepth, metrics.requestQueueDepth->prometheusQuery, values,
               defaultQuery(DefaultMetric::kRequestQueueDepth, engine.requestQueueDepth),
               engine.requestQueueDepthPodScoped ? podValues : values,
               "spec.metrics.requestQueueDepth.prometheusQuery", errors);
  }
  const std::size_t customCount = std::min(metrics.custom.size(), queries.custom.size());
  for (std::size_t i = 0; i < customCount; ++i) {
    const core::CustomMetricSpec& custom = metrics.custom[i];
    if (!(custom.targetValue > 0.0)) {
      continue;
    }
    std::string field = "spec.metrics.custom[" + std::to_string(i) + "]";
    if (!custom.prometheusQuery.empty()) {
      expandInto(queries.custom[i], custom.prometheusQuery, values, {}, values, field + ".prometheusQuery", errors);
      continue;
    }
    const core::EnginePreset* preset = core::findPreset(custom.engine, custom.signal);
    if (preset == nullptr) {
      errors.push_back(field + ": engine " + custom.engine + " has no signal " + custom.signal);
      continue;
    }
    auto preset_ = presetTemplate(*preset, pods);
    if (!preset_.ok()) {
      errors.push_back(field + ": " + preset_.error().message);
      continue;
    }
    TemplateValues presetValues = values;
    presetValues.target = presetTargetName(*preset, policy.spec.targetRef, pods);
    expandInto(queries.custom[i], {}, values, preset_.value(), presetValues, field, errors);
  }

  const bool statefulSet = policy.spec.targetRef.kind == "StatefulSet";
  const std::string_view replicasDefault =
      statefulSet ? kDefaultStatefulSetReplicasQuery : kDefaultDeploymentReplicasQuery;
  std::optional<std::string> replicas;
  std::optional<std::string> readyReplicas;
  if (options.queryReplicas) {
    expandInto(replicas, options.replicasQuery, values, replicasDefault, values, "--replicas-query", errors);
    // Always the default: --replicas-query stands in for the requested
    // replicas only, and a target kube-state-metrics does not export has no
    // ready series, which is "unknown".
    expandInto(readyReplicas, {}, values,
               statefulSet ? kDefaultStatefulSetReadyReplicasQuery : kDefaultDeploymentReadyReplicasQuery, values,
               "the ready replicas query", errors);
  }

  if (!errors.empty()) {
    std::string message;
    for (const std::string& error : errors) {
      if (!message.empty()) {
        message += "; ";
      }
      message += error;
    }
    return core::Error{std::move(message)};
  }
  queries.replicas = std::move(replicas);
  queries.readyReplicas = std::move(readyReplicas);
  return queries;
}

core::Status checkReplicasQuery(std::string_view tmpl) {
  auto expanded = expandTemplate(tmpl, TemplateValues{"namespace", "target", "policy", {}});
  if (!expanded.ok()) {
    return expanded.error();
  }
  return core::Ok{};
}

}  // namespace kubeai::source::prometheus
