#include "policy/metrics_decoder.h"

#include <string>

#include "core/engine_presets.h"

namespace kubeai::policy::detail {
namespace {

using nlohmann::json;

template <typename MetricSpec>
void decodeMetricCommon(Decoder& in, const json& object, const std::string& path, MetricSpec& metric) {
  if (auto enabled = in.boolean(object, "enabled", path + ".enabled")) {
    metric.enabled = *enabled;
  }
  metric.prometheusQuery = in.string(object, "prometheusQuery", path + ".prometheusQuery").value_or("");
  if (auto zero = in.boolean(object, "treatEmptyAsZero", path + ".treatEmptyAsZero")) {
    metric.treatEmptyAsZero = *zero;
  }
}

void decodeTarget(Decoder& in, const json& metric, const std::string& path, core::CustomMetricSpec& custom) {
  const std::string field = path + ".target";
  const json* target = in.object(metric, "target", field);
  if (target == nullptr) {
    if (!metric.contains("target") || metric["target"].is_null()) {  // else a type error said so
      in.error(field, "required: {type: Value | AverageValue, value: N}");
    }
    return;
  }
  if (auto type = in.string(*target, "type", field + ".type")) {
    if (*type == "Value") {
      custom.targetType = core::MetricTargetType::kValue;
    } else if (*type == "AverageValue") {
      custom.targetType = core::MetricTargetType::kAverageValue;
    } else {
      in.error(field + ".type", "must be Value or AverageValue, got \"" + *type + "\"");
    }
  } else {
    in.error(field + ".type", "required: Value (ratio = value / target) or AverageValue (per replica)");
  }
  // Not a number is a type error; absent is said here, as "required" is
  // plainer than validation's "greater than 0" (which the error silences).
  if (auto value = in.number(*target, "value", field + ".value")) {
    custom.targetValue = *value;
  } else if (!target->contains("value") || (*target)["value"].is_null()) {
    in.error(field + ".value", "required: a number greater than 0");
  }
  in.unknownFields(*target, field, {"type", "value"});
}

void decodeCustom(Decoder& in, const json& metrics, std::vector<core::CustomMetricSpec>& out) {
  const json* list = in.array(metrics, "custom", "spec.metrics.custom");
  if (list == nullptr) {
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = "spec.metrics.custom[" + std::to_string(i) + "]";
    const json& item = (*list)[i];
    // Emplaced even when it is not an object, so that validation's paths
    // (custom[i], by the index in the model) stay the manifest's.
    core::CustomMetricSpec& custom = out.emplace_back();
    if (!item.is_object()) {
      in.error(path, "must be an object, got " + typeName(item));
      continue;
    }
    custom.name = in.string(item, "name", path + ".name").value_or("");
    custom.prometheusQuery = in.string(item, "prometheusQuery", path + ".prometheusQuery").value_or("");
    custom.engine = in.string(item, "engine", path + ".engine").value_or("");
    custom.signal = in.string(item, "signal", path + ".signal").value_or("");
    if (const core::EnginePreset* preset = core::findPreset(custom.engine, custom.signal)) {
      custom.unit = preset->unit;
    }
    decodeTarget(in, item, path, custom);
    if (auto weight = in.number(item, "weight", path + ".weight")) {
      custom.weight = *weight;
    }
    if (auto zero = in.boolean(item, "treatEmptyAsZero", path + ".treatEmptyAsZero")) {
      custom.treatEmptyAsZero = *zero;
    }
    in.unknownFields(item, path,
                     {"name", "prometheusQuery", "engine", "signal", "target", "weight", "treatEmptyAsZero"});
  }
}

}  // namespace

void decodeMetrics(Decoder& in, const json& spec, core::MetricsSpec& metrics) {
  const json* object = in.object(spec, "metrics", "spec.metrics");
  if (object == nullptr) {
    in.error("spec.metrics", "required: at least one metric must be enabled");
    return;
  }
  if (const json* latency = in.object(*object, "latency", "spec.metrics.latency")) {
    core::LatencyMetricSpec& spec_ = metrics.latency.emplace();
    decodeMetricCommon(in, *latency, "spec.metrics.latency", spec_);
    spec_.targetP99Ms = in.number(*latency, "targetP99Ms", "spec.metrics.latency.targetP99Ms");
    spec_.targetP95Ms = in.number(*latency, "targetP95Ms", "spec.metrics.latency.targetP95Ms");
    in.unknownFields(*latency, "spec.metrics.latency",
                     {"enabled", "targetP99Ms", "targetP95Ms", "prometheusQuery", "treatEmptyAsZero"});
  }
  if (const json* gpu = in.object(*object, "gpuUtilization", "spec.metrics.gpuUtilization")) {
    core::GpuUtilizationMetricSpec& spec_ = metrics.gpuUtilization.emplace();
    decodeMetricCommon(in, *gpu, "spec.metrics.gpuUtilization", spec_);
    spec_.targetPercentage = in.number(*gpu, "targetPercentage", "spec.metrics.gpuUtilization.targetPercentage");
    in.unknownFields(*gpu, "spec.metrics.gpuUtilization",
                     {"enabled", "targetPercentage", "prometheusQuery", "treatEmptyAsZero"});
  }
  if (const json* queue = in.object(*object, "requestQueueDepth", "spec.metrics.requestQueueDepth")) {
    core::RequestQueueDepthMetricSpec& spec_ = metrics.requestQueueDepth.emplace();
    decodeMetricCommon(in, *queue, "spec.metrics.requestQueueDepth", spec_);
    spec_.targetDepth = in.number(*queue, "targetDepth", "spec.metrics.requestQueueDepth.targetDepth");
    in.unknownFields(*queue, "spec.metrics.requestQueueDepth",
                     {"enabled", "targetDepth", "prometheusQuery", "treatEmptyAsZero"});
  }
  metrics.engine = in.string(*object, "engine", "spec.metrics.engine").value_or("");
  decodeCustom(in, *object, metrics.custom);
  in.unknownFields(*object, "spec.metrics", {"latency", "gpuUtilization", "requestQueueDepth", "engine", "custom"});
}

}  // namespace kubeai::policy::detail
