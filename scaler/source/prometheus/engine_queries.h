#pragma once

#include <string>
#include <string_view>

#include "core/engine_presets.h"
#include "core/policy.h"
#include "core/result.h"
#include "source/prometheus/query_template.h"

namespace kubeai::source::prometheus {

// The engine presets (core/engine_presets.h) as templates that
// expandTemplate() accepts: ${pods} replaced by the target's pods' regex.
//
// The value of ${target} then differs by preset: a pod-scoped preset holds
// ${target} only inside that regex, where it must be TargetPods::name (the
// name as the pods carry it, cut for long Deployment names), as for the
// default queries; a pool-level preset (llm-d) names the InferencePool with
// ${target}, which is the target's full name. presetTargetName() gives it.

// `preset.query` with every ${pods} replaced by `pods.regex`. Errors when the
// preset holds ${pods} and the regex is empty (no target to scope to).
core::Result<std::string> presetTemplate(const core::EnginePreset& preset, const TargetPods& pods);

// What ${target} stands for when expanding presetTemplate(preset, pods).
std::string_view presetTargetName(const core::EnginePreset& preset, const core::TargetRef& target,
                                  const TargetPods& pods) noexcept;

// The seed four's defaults under spec.metrics.engine, ${pods} replaced; each
// empty where core::engineDefaults() is (the seed's default stays).
struct EngineDefaultTemplates {
  std::string latency;  // seconds, holds ${quantile}
  std::string gpuUtilization;
  std::string requestQueueDepth;
  // False when requestQueueDepth is pool-level (llm-d): expand it with the
  // target's full name as ${target}, not TargetPods::name.
  bool requestQueueDepthPodScoped = true;
};
core::Result<EngineDefaultTemplates> engineDefaultTemplates(std::string_view engine, const TargetPods& pods);

}  // namespace kubeai::source::prometheus
