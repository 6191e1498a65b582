#include "simulate/metric_binding.h"

#include "core/engine_presets.h"
#include "core/metric_target.h"

namespace kubeai::simulate {
namespace {

// The seed four's signals; llm-d's queue is its EPP's, at the pool.
SlotSignal seedSignal(const core::Policy& policy, core::MetricSlot slot) {
  const std::string name(core::metricSlotName(slot));
  const bool podScoped = !(slot == core::MetricSlot::kRequestQueueDepth && policy.spec.metrics.engine == "llm-d");
  // Every seed name is one of the model's (engine_model_test).
  const core::MetricsSpec& metrics = policy.spec.metrics;
  bool emptyIsZero = false;
  switch (slot) {
    case core::MetricSlot::kLatencyP99:
    case core::MetricSlot::kLatencyP95: emptyIsZero = metrics.latency && metrics.latency->treatEmptyAsZero; break;
    case core::MetricSlot::kGpuUtilization:
      emptyIsZero = metrics.gpuUtilization && metrics.gpuUtilization->treatEmptyAsZero;
      break;
    case core::MetricSlot::kRequestQueueDepth:
      emptyIsZero = metrics.requestQueueDepth && metrics.requestQueueDepth->treatEmptyAsZero;
      break;
    default: break;
  }
  return SlotSignal{slot, name, name, engineSignalId(name, podScoped).value_or(EngineSignal::kRequestsWaiting),
                    emptyIsZero};
}

}  // namespace

core::Result<MetricBinding> bindMetrics(const core::Policy& policy) {
  MetricBinding binding;
  const core::MetricsSpec& metrics = policy.spec.metrics;
  const std::size_t count = core::slotCount(metrics);
  for (std::size_t i = 0; i < count; ++i) {
    const auto slot = static_cast<core::MetricSlot>(i);
    if (!core::metricTarget(metrics, slot).enabled) {
      continue;
    }
    if (!core::isCustomSlot(slot)) {
      binding.slots.push_back(seedSignal(policy, slot));
      continue;
    }
    const core::CustomMetricSpec& custom = metrics.custom[core::customIndex(slot)];
    const std::string field = "spec.metrics.custom[" + std::to_string(core::customIndex(slot)) + "]";
    if (custom.signal.empty()) {
      return core::Error{"policy " + policy.key() + ": metric " + custom.name + " (" + field +
                         "): the engine model cannot produce a metric from a PromQL query; give it an engine and "
                         "signal (docs/metrics.md) to simulate it"};
    }
    const core::EnginePreset* preset = core::findPreset(custom.engine, custom.signal);
    const bool podScoped = preset == nullptr || preset->podScoped;
    const std::optional<EngineSignal> id = engineSignalId(custom.signal, podScoped);
    if (!id) {
      return core::Error{"policy " + policy.key() + ": metric " + custom.name + " (" + field + "): the engine model " +
                         "cannot produce signal " + custom.signal + " of engine " + custom.engine +
                         " (docs/simulate.md lists what it produces)"};
    }
    binding.slots.push_back(SlotSignal{slot, custom.name, custom.signal, *id, custom.treatEmptyAsZero});
  }
  return binding;
}

core::Status checkModelInputs(const core::Policy& policy, const MetricBinding& binding, const Capacity& capacity,
                              bool tokenCountsKnown) {
  for (const SlotSignal& slot : binding.slots) {
    const std::string_view missing = engineSignalMissingInput(slot.id, capacity, tokenCountsKnown);
    if (!missing.empty()) {
      return core::Error{"policy " + policy.key() + ": metric " + slot.name + " (signal " + slot.signal +
                         "): the engine model needs " + std::string(missing) + " in the workload to produce it"};
    }
  }
  return core::Ok{};
}

core::Observation observe(const MetricBinding& binding, const EngineMetrics& metrics, std::int32_t currentReplicas,
                          std::int32_t readyReplicas) {
  core::Observation observation;
  observation.currentReplicas = currentReplicas;
  observation.readyReplicas = readyReplicas;
  for (const SlotSignal& slot : binding.slots) {
    std::optional<double> value = engineSignalValue(metrics, slot.id);
    if (!value && slot.emptyIsZero) {
      value = 0.0;
    }
    switch (slot.slot) {
      case core::MetricSlot::kLatencyP99: observation.latencyP99Ms = value; break;
      case core::MetricSlot::kLatencyP95: observation.latencyP95Ms = value; break;
      case core::MetricSlot::kGpuUtilization: observation.gpuUtilizationPercent = value; break;
      case core::MetricSlot::kRequestQueueDepth: observation.requestQueueDepth = value; break;
      default: observation.custom[core::customIndex(slot.slot)] = value; break;
    }
  }
  return observation;
}

}  // namespace kubeai::simulate
