#include "source/metrics_file.h"

#include <doctest/doctest.h>

#include <cmath>

#include "support/temp_dir.h"

namespace kubeai::source {
namespace {

TEST_CASE("the metrics file maps namespace/policy to values, a key left out is no data") {
  auto parsed = parseMetricsFile(R"(
default/chat:
  currentReplicas: 3
  latencyP99Ms: 420
  gpuUtilizationPercent: 81.5
llm/embed:
  requestQueueDepth: 0
batch/idle:
)");
  REQUIRE(parsed.ok());
  const MetricsFile& file = parsed.value();
  CHECK(file.entries.size() == 3);
  const MetricsFileEntry* chat = file.find("default/chat");
  REQUIRE(chat != nullptr);
  CHECK(chat->currentReplicas == 3);
  CHECK(chat->latencyP99Ms == 420.0);
  CHECK_FALSE(chat->latencyP95Ms.has_value());
  CHECK(chat->gpuUtilizationPercent == 81.5);

  const core::Observation embed = file.find("llm/embed")->reading().observation(2);
  CHECK(embed.currentReplicas == 2);         // not in the file: the fallback
  CHECK(embed.requestQueueDepth == 0.0);     // a real zero
  CHECK_FALSE(embed.gpuUtilizationPercent.has_value());

  const MetricsFileEntry* idle = file.find("batch/idle");
  REQUIRE(idle != nullptr);
  CHECK_FALSE(idle->gpuUtilizationPercent.has_value());
  CHECK(file.find("default/other") == nullptr);
}

TEST_CASE("the metrics file's readyReplicas are the target's ready replicas, apart from current") {
  auto parsed = parseMetricsFile(R"(
default/starting:
  currentReplicas: 5
  readyReplicas: 2
  gpuUtilizationPercent: 90
default/unknown:
  currentReplicas: 3
default/none-ready:
  readyReplicas: 0
default/empty:
  readyReplicas:
)");
  REQUIRE(parsed.ok());
  CHECK(parsed.value().warnings.empty());  // a replica count, not an unknown field
  const MetricsFileEntry* starting = parsed.value().find("default/starting");
  REQUIRE(starting != nullptr);
  CHECK(starting->readyReplicas == 2);
  CHECK(starting->named.empty());  // never a custom metric's value, though camelCase
  const MetricReading reading = starting->reading();
  CHECK(reading.currentReplicas == 5);
  CHECK(reading.readyReplicas == 2);
  const core::Observation observation = reading.observation(1);
  CHECK(observation.currentReplicas == 5);
  CHECK(observation.readyReplicas == 2);

  core::Policy policy;
  policy.metadata.name = "starting";
  CHECK(starting->readingFor(policy).readyReplicas == 2);

  // Left out: unknown, never 0 (nor current).
  CHECK_FALSE(parsed.value().find("default/unknown")->reading().observation(3).readyReplicas.has_value());
  // A real 0: every replica still starting.
  CHECK(parsed.value().find("default/none-ready")->reading().readyReplicas == 0);
  // Written but empty: unknown, like a key left out.
  CHECK_FALSE(parsed.value().find("default/empty")->readyReplicas.has_value());
}

TEST_CASE("every problem in the metrics file is reported with its path, and nothing is half-loaded") {
  auto parsed = parseMetricsFile(R"(
default/chat:
  currentReplicas: 2.5
  readyReplicas: -1
  latencyP99Ms: fast
  gpuUtilizationPercent: -4
default/ready:
  readyReplicas: many
default/large:
  readyReplicas: 2147483648
no-slash: {}
default/list: [1, 2]
)");
  REQUIRE_FALSE(parsed.ok());
  const std::string& message = parsed.error().message;
  CHECK(message.rfind("8 errors: ", 0) == 0);
  for (const char* part : {"default/chat.currentReplicas: must be an integer >= 0",
                           "default/chat.readyReplicas: must be an integer >= 0",
                           "default/ready.readyReplicas: must be an integer >= 0",
                           "default/large.readyReplicas: must be an integer >= 0",
                           "default/chat.latencyP99Ms: must be a number",
                           "default/chat.gpuUtilizationPercent: must be >= 0",
                           "no-slash: key must be \"<namespace>/<policyName>\"",
                           "default/list: must be a mapping of metric names to values"}) {
    CAPTURE(part);
    CHECK(message.find(part) != std::string::npos);
  }
}

TEST_CASE("metrics file edge cases") {
  CHECK(parseMetricsFile("").value().entries.empty());
  CHECK(parseMetricsFile("# nothing yet\n").value().entries.empty());
  CHECK_FALSE(parseMetricsFile("- a\n- b\n").ok());
  CHECK_FALSE(parseMetricsFile("a: 1\n---\nb: 2\n").ok());
  CHECK_FALSE(parseMetricsFile("default/chat: {latencyP99Ms: [").ok());
  CHECK_FALSE(parseMetricsFile(",").ok());  // yaml-cpp's endless loop, guarded

  auto nan = parseMetricsFile("default/chat: {gpuUtilizationPercent: .nan}\n");
  REQUIRE(nan.ok());
  CHECK(std::isnan(*nan.value().find("default/chat")->gpuUtilizationPercent));  // passed on: no data

  auto unknown = parseMetricsFile("default/chat: {gpu_utilisation: 50}\n");
  REQUIRE(unknown.ok());
  REQUIRE(unknown.value().warnings.size() == 1);
  CHECK(unknown.value().warnings[0].toString() ==
        "default/chat.gpu_utilisation: unknown field, ignored (not a seed metric, nor a custom metric's name)");
}

TEST_CASE("loadMetricsFile names the file in its errors") {
  testing::TempDir dir;
  const auto bad = dir.write("metrics.yaml", "default/chat: {latencyP99Ms: slow}\n");
  auto loaded = loadMetricsFile(bad);
  REQUIRE_FALSE(loaded.ok());
  CHECK(loaded.error().message.rfind("metrics file " + bad.string() + ": ", 0) == 0);
  CHECK(loadMetricsFile(dir.path() / "absent.yaml").error().message ==
        "no such file: " + (dir.path() / "absent.yaml").string());
}

TEST_CASE("the example metrics file loads") {
  auto loaded = loadMetricsFile(KUBEAI_EXAMPLES_DIR "/metrics.yaml");
  REQUIRE(loaded.ok());
  CHECK(loaded.value().warnings.empty());
  const MetricsFileEntry* maxRatio = loaded.value().find("default/llm-max-ratio");
  REQUIRE(maxRatio != nullptr);
  CHECK(maxRatio->readyReplicas == 3);  // the example documents the key
}


TEST_CASE("metrics file: a custom metric's value sits under its name, read by the policy that names it") {
  auto parsed = parseMetricsFile("default/chat:\n  gpuUtilizationPercent: 50\n  kvCache: 72\n  waiting: 0\n");
  REQUIRE(parsed.ok());
  CHECK(parsed.value().warnings.empty());
  const MetricsFileEntry* chat = parsed.value().find("default/chat");
  REQUIRE(chat != nullptr);
  CHECK(chat->named.at("kvCache") == 72.0);

  core::Policy policy;
  policy.metadata.name = "chat";
  policy.spec.metrics.custom.resize(3);
  policy.spec.metrics.custom[0].name = "ttft";     // not in the file: no data
  policy.spec.metrics.custom[1].name = "waiting";  // a real 0
  policy.spec.metrics.custom[2].name = "kvCache";
  const MetricReading reading = chat->readingFor(policy);
  CHECK(reading.gpuUtilizationPercent == 50.0);
  CHECK_FALSE(reading.custom[0].has_value());
  CHECK(reading.custom[1] == 0.0);
  CHECK(reading.custom[2] == 72.0);
  CHECK_FALSE(reading.custom[3].has_value());
  CHECK(reading.observation(1).custom[2] == 72.0);
}

}  // namespace
}  // namespace kubeai::source
