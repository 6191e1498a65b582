#include "source/file_metric_source.h"

#include <utility>

namespace kubeai::source {

FileMetricSource::FileMetricSource(std::filesystem::path path) : path_(std::move(path)) {}

core::Status FileMetricSource::reload() {
  auto loaded = loadMetricsFile(path_);
  if (!loaded.ok()) {
    return loaded.error();
  }
  auto next = std::make_shared<const MetricsFile>(std::move(loaded).value());
  const std::lock_guard lock(mutex_);
  current_ = std::move(next);
  return core::Ok{};
}

std::vector<core::Result<MetricReading>> FileMetricSource::readPolicies(const core::PolicyList& policies) {
  std::shared_ptr<const MetricsFile> file;
  {
    const std::lock_guard lock(mutex_);
    file = current_;
  }
  std::vector<core::Result<MetricReading>> readings;
  readings.reserve(policies.size());
  for (const core::SharedPolicy& policy : policies) {
    const MetricsFileEntry* entry = file->find(policy->key());
    readings.emplace_back(entry != nullptr ? entry->readingFor(*policy) : MetricReading{});
  }
  return readings;
}

}  // namespace kubeai::source
