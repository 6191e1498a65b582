#include "source/file_metric_source.h"

#include <doctest/doctest.h>

#include "support/temp_dir.h"

namespace kubeai::source {
namespace {

core::Policy policyNamed(const std::string& ns, const std::string& name) {
  core::Policy policy;
  policy.metadata.namespace_ = ns;
  policy.metadata.name = name;
  return policy;
}

TEST_CASE("FileMetricSource reads by namespace/name and keeps the last good file on a bad edit") {
  testing::TempDir dir;
  const auto file =
      dir.write("metrics.yaml", "default/chat: {currentReplicas: 2, readyReplicas: 1, gpuUtilizationPercent: 90}\n");
  FileMetricSource source(file);
  REQUIRE(source.reload().ok());
  const std::vector<core::Policy> policies = {policyNamed("default", "chat"), policyNamed("llm", "other")};

  auto readings = source.read(policies);
  REQUIRE(readings.size() == 2);
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().gpuUtilizationPercent == 90.0);
  CHECK(readings[0].value().currentReplicas == 2);
  CHECK(readings[0].value().readyReplicas == 1);
  REQUIRE(readings[1].ok());  // not in the file: no data, not an error
  CHECK_FALSE(readings[1].value().gpuUtilizationPercent.has_value());
  CHECK_FALSE(readings[1].value().readyReplicas.has_value());

  dir.write("metrics.yaml", "default/chat: {gpuUtilizationPercent: lots}\n");
  const core::Status bad = source.reload();
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message.find("default/chat.gpuUtilizationPercent: must be a number") != std::string::npos);
  CHECK(source.read(policies)[0].value().gpuUtilizationPercent == 90.0);  // still the last good

  dir.write("metrics.yaml", "default/chat: {gpuUtilizationPercent: 10}\n");
  REQUIRE(source.reload().ok());
  CHECK(source.read(policies)[0].value().gpuUtilizationPercent == 10.0);
  CHECK_FALSE(source.read(policies)[0].value().currentReplicas.has_value());
  CHECK_FALSE(source.read(policies)[0].value().readyReplicas.has_value());  // the new file has none
}

TEST_CASE("FileMetricSource before any good load has no data for anyone") {
  FileMetricSource source("/nonexistent/metrics.yaml");
  CHECK_FALSE(source.reload().ok());
  const auto readings = source.read({policyNamed("default", "chat")});
  REQUIRE(readings[0].ok());
  CHECK_FALSE(readings[0].value().gpuUtilizationPercent.has_value());
}

}  // namespace
}  // namespace kubeai::source
