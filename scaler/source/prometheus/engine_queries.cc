#include "source/prometheus/engine_queries.h"

#include <utility>

namespace kubeai::source::prometheus {
namespace {

constexpr std::string_view kPodsPlaceholder = "${pods}";

// `tmpl` with each ${pods} replaced by `regex`. The regex is template text
// itself (it holds ${target}), expanded later inside the =~ string it lands in.
core::Result<std::string> substitutePods(std::string_view tmpl, std::string_view regex) {
  std::string out;
  out.reserve(tmpl.size() + 4 * regex.size());
  std::size_t from = 0;
  while (true) {
    const std::size_t at = tmpl.find(kPodsPlaceholder, from);
    if (at == std::string_view::npos) {
      break;
    }
    if (regex.empty()) {
      return core::Error{"${pods}: the target has no pods' regex to scope the query to"};
    }
    out += tmpl.substr(from, at - from);
    out += regex;
    from = at + kPodsPlaceholder.size();
  }
  out += tmpl.substr(from);
  return out;
}

bool holdsPods(std::string_view tmpl) { return tmpl.find(kPodsPlaceholder) != std::string_view::npos; }

}  // namespace

core::Result<std::string> presetTemplate(const core::EnginePreset& preset, const TargetPods& pods) {
  auto substituted = substitutePods(preset.query, pods.regex);
  if (!substituted.ok()) {
    std::string context = "engine ";
    context += preset.engine;
    context += " signal ";
    context += preset.signal;
    return substituted.error().withContext(context);
  }
  return substituted;
}

std::string_view presetTargetName(const core::EnginePreset& preset, const core::TargetRef& target,
                                  const TargetPods& pods) noexcept {
  return preset.podScoped ? std::string_view(pods.name) : std::string_view(target.name);
}

core::Result<EngineDefaultTemplates> engineDefaultTemplates(std::string_view engine, const TargetPods& pods) {
  const core::EngineDefaults defaults = core::engineDefaults(engine);
  EngineDefaultTemplates out;
  struct Field {
    std::string_view from;
    std::string* into;
    std::string_view name;
  };
  for (const Field& field : {Field{defaults.latency, &out.latency, "latency"},
                             Field{defaults.gpuUtilization, &out.gpuUtilization, "gpuUtilization"},
                             Field{defaults.requestQueueDepth, &out.requestQueueDepth, "requestQueueDepth"}}) {
    auto substituted = substitutePods(field.from, pods.regex);
    if (!substituted.ok()) {
      std::string context = "engine ";
      context += engine;
      context += " default ";
      context += field.name;
      return substituted.error().withContext(context);
    }
    *field.into = std::move(substituted).value();
  }
  out.requestQueueDepthPodScoped = defaults.requestQueueDepth.empty() || holdsPods(defaults.requestQueueDepth);
  return out;
}

}  // namespace kubeai::source::prometheus
