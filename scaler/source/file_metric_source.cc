#include "source/file_metric_source.h"

#include <utility>

namespace kubeai::source {

FileMetricSource::FileMetricSource(std::filesystem::path path) : path_(std::move(path)) {}

core::Status FileMetricSource::reload(std::vector<std::string>* changed) {
  auto loaded = loadMetricsFile(path_);
  if (!loaded.ok()) {
    return loaded.error();
  }
  auto next = std::make_shared<const MetricsFile>(std::move(loaded).value());
  std::shared_ptr<const MetricsFile> previous;
  {
    const std::lock_guard lock(mutex_);
    previous = std::exchange(current_, next);
  }
  if (changed != nullptr) {
    // Both maps in key order: one merge walk.
    auto before = previous->entries.begin();
    auto after = next->entries.begin();
    while (before != previous->entries.end() || after != next->entries.end()) {
      if (after == next->entries.end() || (before != previous->entries.end() && before->first < after->first)) {
        changed->push_back((before++)->first);
      } else if (before == previous->entries.end() || after->first < before->first) {
        changed->push_back((after++)->first);
      } else {
        if (!(before->second == after->second)) {
          changed->push_back(after->first);
        }
        ++before;
        ++after;
      }
    }
  }
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
