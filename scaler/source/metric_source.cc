#include "source/metric_source.h"

namespace kubeai::source {

core::Observation MetricReading::observation(std::int32_t fallbackReplicas) const {
  core::Observation observation;
  observation.currentReplicas = currentReplicas.value_or(fallbackReplicas);
  observation.readyReplicas = readyReplicas;
  observation.latencyP99Ms = latencyP99Ms;
  observation.latencyP95Ms = latencyP95Ms;
  observation.gpuUtilizationPercent = gpuUtilizationPercent;
  observation.requestQueueDepth = requestQueueDepth;
  observation.custom = custom;
  return observation;
}

}  // namespace kubeai::source
