#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "kube/policy_status.h"

// The policy's status as JSON: read from what the API holds, written as a
// merge patch.
namespace kubeai::kube {
namespace {

using nlohmann::json;

json metricValue(const std::optional<double>& value) {
  return value ? json(detail::roundedToCents(*value)) : json(nullptr);
}

// Readers of an object's status from the API: a field missing or of another
// type is absent (never an exception: the text comes from outside).
std::optional<std::string> stringAt(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? std::optional<std::string>(it->get<std::string>()) : std::nullopt;
}

std::optional<std::int64_t> int64At(const json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) {
    return std::nullopt;
  }
  if (it->is_number_unsigned()) {
    const auto value = it->get<std::uint64_t>();
    if (value > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<std::int64_t>(value);
  }
  return it->is_number_integer() ? std::optional<std::int64_t>(it->get<std::int64_t>()) : std::nullopt;
}

std::optional<std::int32_t> int32At(const json& object, const char* name) {
  const std::optional<std::int64_t> value = int64At(object, name);
  using Limits = std::numeric_limits<std::int32_t>;
  if (!value || *value < Limits::min() || *value > Limits::max()) {
    return std::nullopt;
  }
  return static_cast<std::int32_t>(*value);
}

std::optional<double> numberAt(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number() ? std::optional<double>(it->get<double>()) : std::nullopt;
}

// status.metrics as the API holds it: an entry without a name or a numeric
// target is skipped (it names nothing this server wrote), and only the first
// core::kMaxMetricSlots are read.
std::vector<MetricStatus> metricStatusesAt(const json& list) {
  std::vector<MetricStatus> out;
  for (const json& item : list) {
    if (out.size() == core::kMaxMetricSlots) {
      break;
    }
    if (!item.is_object()) {
      continue;
    }
    std::optional<std::string> name = stringAt(item, "name");
    const std::optional<double> target = numberAt(item, "target");
    if (!name || name->empty() || !target) {
      continue;
    }
    out.push_back(MetricStatus{std::move(*name), numberAt(item, "value"), *target,
                               stringAt(item, "targetType").value_or(""), stringAt(item, "unit").value_or(""),
                               numberAt(item, "ratio")});
  }
  return out;
}

json metricStatusesJson(const std::vector<MetricStatus>& metrics) {
  json list = json::array();
  // The CRD's maxItems: one more and the API would refuse the whole patch.
  const std::size_t count = std::min(metrics.size(), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < count; ++i) {
    const MetricStatus& metric = metrics[i];
    json item{{"name", metric.name},
              {"value", metricValue(metric.value)},
              {"target", metricValue(metric.target)},
              {"targetType", metric.targetType},
              {"ratio", metricValue(metric.ratio)}};
    if (!metric.unit.empty()) {
      item["unit"] = metric.unit;
    }
    list.push_back(std::move(item));
  }
  return list;
}

json millisValue(const std::optional<double>& value) {
  return value ? json(detail::roundedToMillis(*value)) : json(nullptr);
}

json stringOrNull(const std::optional<std::string>& value) { return value ? json(*value) : json(nullptr); }

std::optional<bool> boolAt(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_boolean() ? std::optional<bool>(it->get<bool>()) : std::nullopt;
}

// status.forecast as the API holds it. A field missing or of another type
// reads as absent (compared with what would be written, it differs, and is
// written again): models alone are Predictive without a forecast (a hold
// without metrics, or its error); a model without a metric name, a numeric
// level and trend, a time or a count >= 1 is skipped: it could not be
// resumed.
ForecastStatus forecastAt(const json& object) {
  ForecastStatus out;
  out.metric = stringAt(object, "metric").value_or("");
  out.horizonSeconds = numberAt(object, "horizonSeconds");
  out.horizonSource = stringAt(object, "horizonSource").value_or("");
  out.demandReplicas = numberAt(object, "demandReplicas");
  out.forecastReplicas = numberAt(object, "forecastReplicas");
  out.trendPerMinute = numberAt(object, "trendPerMinute");
  out.reactiveReplicas = int32At(object, "reactiveReplicas");
  out.forecastDesiredReplicas = int32At(object, "forecastDesiredReplicas");
  out.decided = boolAt(object, "decided");
  const auto models = object.find("models");
  if (models == object.end() || !models->is_array()) {
    return out;
  }
  for (const json& item : *models) {
    if (out.models.size() == core::kMaxMetricSlots) {
      break;
    }
    if (!item.is_object()) {
      continue;
    }
    std::optional<std::string> metric = stringAt(item, "metric");
    const std::optional<double> level = numberAt(item, "level");
    const std::optional<double> trend = numberAt(item, "trendPerSecond");
    std::optional<std::string> observedAt = stringAt(item, "observedAt");
    const std::optional<std::int32_t> observations = int32At(item, "observations");
    if (!metric || metric->empty() || !level || !trend || !observedAt || !observations || *observations < 1) {
      continue;
    }
    out.models.push_back(
        ForecastModelStatus{std::move(*metric), *level, *trend, std::move(*observedAt), *observations});
  }
  return out;
}

PanicStatus panicAt(const json& object) {
  PanicStatus out;
  out.panicking = boolAt(object, "panicking").value_or(false);
  out.since = stringAt(object, "since");
  out.lastOverThreshold = stringAt(object, "lastOverThreshold");
  out.stableReplicas = numberAt(object, "stableReplicas");
  out.panicReplicas = numberAt(object, "panicReplicas");
  out.panicRatio = numberAt(object, "panicRatio");
  out.panicThreshold = numberAt(object, "panicThreshold");
  out.saturated = boolAt(object, "saturated").value_or(false);
  out.maxPanicReplicas = int32At(object, "maxPanicReplicas").value_or(0);
  return out;
}

// Every field, null when absent: a merge patch merges an object key by key,
// so a field left out would keep the previous decision's value.
json forecastJson(const ForecastStatus& forecast) {
  json models = json::array();
  const std::size_t count = std::min(forecast.models.size(), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < count; ++i) {
    const ForecastModelStatus& model = forecast.models[i];
    // Whole, not to cents: the state a restart resumes. nlohmann writes a
    // double so that it reads back the same.
    models.push_back(json{{"metric", model.metric},
                          {"level", model.level},
                          {"trendPerSecond", model.trendPerSecond},
                          {"observedAt", model.observedAt},
                          {"observations", model.observations}});
  }
  // Without a forecast (Predictive held without metrics, the models alone)
  // every other field is null, so that the status holds the models alone and
  // no 0 or false reads as an answer; "" is no horizonSource the CRD's enum
  // allows anyway, and the API would refuse the whole patch.
  const auto textOrNull = [](const std::string& text) { return text.empty() ? json(nullptr) : json(text); };
  const auto orNull = [](const auto& value) { return value ? json(*value) : json(nullptr); };
  return json{{"metric", textOrNull(forecast.metric)},
              {"horizonSeconds", millisValue(forecast.horizonSeconds)},
              {"horizonSource", textOrNull(forecast.horizonSource)},
              {"demandReplicas", metricValue(forecast.demandReplicas)},
              {"forecastReplicas", metricValue(forecast.forecastReplicas)},
              {"trendPerMinute", metricValue(forecast.trendPerMinute)},
              {"reactiveReplicas", orNull(forecast.reactiveReplicas)},
              {"forecastDesiredReplicas", orNull(forecast.forecastDesiredReplicas)},
              {"decided", orNull(forecast.decided)},
              {"models", std::move(models)}};
}

json panicJson(const PanicStatus& panic) {
  return json{{"panicking", panic.panicking},
              {"since", stringOrNull(panic.since)},
              {"lastOverThreshold", stringOrNull(panic.lastOverThreshold)},
              {"stableReplicas", metricValue(panic.stableReplicas)},
              {"panicReplicas", metricValue(panic.panicReplicas)},
              {"panicRatio", metricValue(panic.panicRatio)},
              {"panicThreshold", metricValue(panic.panicThreshold)},
              {"saturated", panic.saturated},
              {"maxPanicReplicas", panic.maxPanicReplicas}};
}

}  // namespace

std::optional<PolicyStatus> parseApiStatus(std::string_view statusJson) {
  if (statusJson.empty()) {
    return PolicyStatus{};
  }
  const json body = json::parse(statusJson, nullptr, false);
  if (body.is_null()) {
    return PolicyStatus{};
  }
  if (!body.is_object()) {
    return std::nullopt;  // not JSON (parse errors come back as discarded), or not an object
  }
  PolicyStatus status;
  status.currentReplicas = int32At(body, "currentReplicas");
  status.desiredReplicas = int32At(body, "desiredReplicas");
  status.lastScaleTime = stringAt(body, "lastScaleTime");
  if (const auto metrics = body.find("currentMetrics"); metrics != body.end() && metrics->is_object()) {
    status.currentMetrics = CurrentMetrics{numberAt(*metrics, "latencyP99Ms"), numberAt(*metrics, "latencyP95Ms"),
                                           numberAt(*metrics, "gpuUtilizationPercent"),
                                           numberAt(*metrics, "requestQueueDepth")};
  }
  if (const auto metrics = body.find("metrics"); metrics != body.end() && metrics->is_array()) {
    status.metrics = metricStatusesAt(*metrics);
  }
  status.lastAlgorithm = stringAt(body, "lastAlgorithm");
  status.lastScaleReason = stringAt(body, "lastScaleReason");
  status.decidedRatio = numberAt(body, "decidedRatio");
  status.readyReplicas = int32At(body, "readyReplicas");
  status.startupSeconds = numberAt(body, "startupSeconds");
  if (const auto forecast = body.find("forecast"); forecast != body.end() && forecast->is_object()) {
    status.forecast = forecastAt(*forecast);
  }
  if (const auto panic = body.find("panic"); panic != body.end() && panic->is_object()) {
    status.panic = panicAt(*panic);
  }
  status.observedGeneration = int64At(body, "observedGeneration").value_or(0);
  status.shard = stringAt(body, "shard");
  if (const auto conditions = body.find("conditions"); conditions != body.end() && conditions->is_array()) {
    for (const json& item : *conditions) {
      if (!item.is_object()) {
        continue;
      }
      status.conditions.push_back(Condition{stringAt(item, "type").value_or(""), stringAt(item, "status").value_or(""),
                                            stringAt(item, "reason").value_or(""),
                                            stringAt(item, "message").value_or(""),
                                            stringAt(item, "lastTransitionTime").value_or(""),
                                            int64At(item, "observedGeneration").value_or(0)});
    }
  }
  return status;
}

std::string statusMergePatch(const PolicyStatus& status) {
  json body = json::object();
  if (status.clearDecision) {
    // null deletes in a merge patch (RFC 7386); the values set below win.
    for (const char* field :
         {"currentReplicas", "desiredReplicas", "currentMetrics", "metrics", "lastAlgorithm", "lastScaleReason",
          "decidedRatio", "readyReplicas", "startupSeconds", "forecast", "panic"}) {
      body[field] = nullptr;
    }
  }
  if (status.currentReplicas) {
    body["currentReplicas"] = *status.currentReplicas;
  }
  if (status.desiredReplicas) {
    body["desiredReplicas"] = *status.desiredReplicas;
  }
  if (status.lastScaleTime) {
    body["lastScaleTime"] = *status.lastScaleTime;
  }
  if (status.currentMetrics) {
    body["currentMetrics"] = json{{"latencyP99Ms", metricValue(status.currentMetrics->latencyP99Ms)},
                                  {"latencyP95Ms", metricValue(status.currentMetrics->latencyP95Ms)},
                                  {"gpuUtilizationPercent", metricValue(status.currentMetrics->gpuUtilizationPercent)},
                                  {"requestQueueDepth", metricValue(status.currentMetrics->requestQueueDepth)}};
  }
  if (status.metrics) {
    // A merge patch replaces a list whole: sent complete, absent values as null.
    body["metrics"] = metricStatusesJson(*status.metrics);
  }
  if (status.lastAlgorithm) {
    body["lastAlgorithm"] = *status.lastAlgorithm;
  }
  if (status.lastScaleReason) {
    body["lastScaleReason"] = *status.lastScaleReason;
  }
  if (status.decidedRatio || status.lastAlgorithm) {
    // null with a decision that names no ratio: the previous one's is deleted.
    body["decidedRatio"] = metricValue(status.decidedRatio);
  }
  // As decidedRatio: null with a decision that has none, so that a decision of
  // another algorithm (or without ready replicas) does not keep the last one's.
  const bool decision = status.lastAlgorithm.has_value();
  if (status.readyReplicas || decision) {
    body["readyReplicas"] = status.readyReplicas ? json(*status.readyReplicas) : json(nullptr);
  }
  if (status.startupSeconds || decision) {
    body["startupSeconds"] = millisValue(status.startupSeconds);
  }
  if (status.forecast || decision) {
    body["forecast"] = status.forecast ? forecastJson(*status.forecast) : json(nullptr);
  }
  if (status.panic || decision) {
    body["panic"] = status.panic ? panicJson(*status.panic) : json(nullptr);
  }
  body["observedGeneration"] = status.observedGeneration;
  if (status.shard) {
    body["shard"] = *status.shard;
  }
  json conditions = json::array();
  for (const Condition& condition : status.conditions) {
    conditions.push_back(json{{"type", condition.type},
                              {"status", condition.status},
                              {"reason", condition.reason},
                              {"message", condition.message},
                              {"lastTransitionTime", condition.lastTransitionTime},
                              {"observedGeneration", condition.observedGeneration}});
  }
  // A merge patch replaces a list whole: the conditions are always sent complete.
  body["conditions"] = std::move(conditions);
  return json{{"status", std::move(body)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace kubeai::kube
