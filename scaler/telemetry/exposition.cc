#include "telemetry/exposition.h"

#include <algorithm>
#include <utility>

namespace kubeai::telemetry::detail {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type) {
  prometheus::MetricFamily result;
  result.name = name;
  result.help = help;
  result.type = type;
  return result;
}

std::vector<prometheus::ClientMetric::Label> policyLabels(const PolicyKey& key, const char* extraName,
                                                          std::string_view extraValue) {
  std::vector<prometheus::ClientMetric::Label> labels;
  labels.reserve(3);
  labels.push_back({"namespace", key.ns});
  labels.push_back({"policy", key.name});
  if (extraName != nullptr) {
    const auto at = std::find_if(labels.begin(), labels.end(),
                                 [&](const prometheus::ClientMetric::Label& label) { return label.name > extraName; });
    labels.insert(at, {extraName, std::string(extraValue)});
  }
  return labels;
}

void addCounter(prometheus::MetricFamily& to, std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.counter.value = value;
  to.metric.push_back(std::move(metric));
}

void addGauge(prometheus::MetricFamily& to, std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  to.metric.push_back(std::move(metric));
}

}  // namespace kubeai::telemetry::detail
