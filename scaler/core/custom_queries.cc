#include "core/custom_queries.h"

#include <cstddef>
#include <utility>

namespace kubeai::core {

std::vector<std::string> ownQueryFields(const Policy& policy) {
  const MetricsSpec& metrics = policy.spec.metrics;
  std::vector<std::string> fields;
  if (metrics.latency && !metrics.latency->prometheusQuery.empty()) {
    fields.emplace_back("spec.metrics.latency.prometheusQuery");
  }
  if (metrics.gpuUtilization && !metrics.gpuUtilization->prometheusQuery.empty()) {
    fields.emplace_back("spec.metrics.gpuUtilization.prometheusQuery");
  }
  if (metrics.requestQueueDepth && !metrics.requestQueueDepth->prometheusQuery.empty()) {
    fields.emplace_back("spec.metrics.requestQueueDepth.prometheusQuery");
  }
  for (std::size_t i = 0; i < metrics.custom.size(); ++i) {
    if (!metrics.custom[i].prometheusQuery.empty()) {
      std::string field = "spec.metrics.custom[";
      field += std::to_string(i);
      field += "].prometheusQuery";
      fields.push_back(std::move(field));
    }
  }
  return fields;
}

Status checkNoOwnQueries(const Policy& policy) {
  const std::vector<std::string> fields = ownQueryFields(policy);
  if (fields.empty()) {
    return Ok{};
  }
  std::string message(kCustomQueryDeniedPrefix);
  for (std::size_t i = 0; i < fields.size(); ++i) {
    message += i == 0 ? "" : ", ";
    message += fields[i];
  }
  message += fields.size() == 1 ? " is" : " are";
  message += " PromQL of the policy's own, which this server refuses (serve ";
  message += kCustomQueriesFlag;
  message += "=deny); use the default queries, spec.metrics.engine, or a custom metric's engine + signal preset";
  return Error{std::move(message), std::string(kCustomQueryDeniedReason)};
}

}  // namespace kubeai::core
