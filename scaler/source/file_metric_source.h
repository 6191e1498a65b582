#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/result.h"
#include "source/metric_source.h"
#include "source/metrics_file.h"

namespace kubeai::source {

// The embedded metric source: `--metrics-file`, read again on every change.
// A bad edit is reported and the last good contents keep serving, so a typo
// never takes every policy's metrics away.
class FileMetricSource final : public MetricSource {
 public:
  explicit FileMetricSource(std::filesystem::path path);

  // Reads the file again. On error the last good contents stay in force and
  // the error (naming the file) is returned. `changed`, when given, gets the
  // keys ("namespace/name") whose entries were added, changed or removed:
  // the policies to evaluate again, and only those.
  core::Status reload(std::vector<std::string>* changed = nullptr);

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  // Readings for the policies, by "<namespace>/<name>"; a policy not in the
  // file has no data. Never an error: the file's contents are local.
  std::vector<core::Result<MetricReading>> readPolicies(const core::PolicyList& policies) override;

  const std::filesystem::path path_;
  std::mutex mutex_;
  std::shared_ptr<const MetricsFile> current_ = std::make_shared<const MetricsFile>();
};

}  // namespace kubeai::source
