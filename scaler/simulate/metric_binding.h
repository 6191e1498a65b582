#pragma once

#include <string>
#include <vector>

#include "core/metric_slot.h"
#include "core/observation.h"
#include "core/policy.h"
#include "core/result.h"
#include "simulate/engine_model.h"

namespace kubeai::simulate {

// Which engine-model signal feeds each metric slot of one policy.
struct SlotSignal {
  core::MetricSlot slot;
  std::string name;    // the policy's metric name (core::metricName)
  std::string signal;  // the engine model's signal, as the policy names it
  EngineSignal id;     // resolved once
  // spec.metrics.custom[].treatEmptyAsZero: no data reads 0, as serve's
  // Prometheus source reads an empty result.
  bool emptyIsZero = false;
};

struct MetricBinding {
  std::vector<SlotSignal> slots;  // every enabled slot, in slot order
};

// Binds every enabled metric of `policy` to the model. The seed four mean what
// their names say whatever query they carry (latencyP99 is the e2e p99, ...);
// a custom metric needs engine + signal. A custom PromQL query, or a signal the
// model cannot produce, is an error naming the policy and the metric.
core::Result<MetricBinding> bindMetrics(const core::Policy& policy);

// A bound metric the workload lacks an input for ("capacity.kvCacheTokens"):
// an error naming the policy, the metric and the field; Ok when none.
core::Status checkModelInputs(const core::Policy& policy, const MetricBinding& binding, const Capacity& capacity,
                              bool tokenCountsKnown);

// What the policy's metric and replica sources would report at the end of an
// interval: the requested replicas as current, the ready ones that served it.
core::Observation observe(const MetricBinding& binding, const EngineMetrics& metrics, std::int32_t currentReplicas,
                          std::int32_t readyReplicas);

}  // namespace kubeai::simulate
