#include "source/metric_source.h"

#include <memory>

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

namespace {

core::PolicyList shareCopies(const auto& policies) {
  core::PolicyList shared;
  shared.reserve(policies.size());
  for (const core::Policy& policy : policies) {
    shared.push_back(std::make_shared<const core::Policy>(policy));
  }
  return shared;
}

}  // namespace

std::vector<core::Result<MetricReading>> MetricSource::read(const std::vector<core::Policy>& policies) {
  return readPolicies(shareCopies(policies));
}

std::vector<core::Result<MetricReading>> MetricSource::read(std::initializer_list<core::Policy> policies) {
  return readPolicies(shareCopies(policies));
}

}  // namespace kubeai::source
