// The replicas and ready replicas (issue 14) through PrometheusMetricSource
// and the libcurl client from a real Prometheus scraping kube-state-metrics'
// series as our exporter serves them: a Deployment exported by two
// kube-state-metrics replicas (max() gives one value), a decoy Deployment of a
// longer name beside it, a StatefulSet, a Deployment whose ready series does
// not exist (unknown, and the reading stands) and one with 0 ready; then the
// ready series moving as a scale-up's replicas become ready.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "source/prometheus/client/prometheus_client.h"
#include "source/prometheus/prometheus_metric_source.h"
#include "support/prometheus_server.h"
#include "support/snapshot_exporter.h"
#include "support/wait.h"

namespace kubeai::testing {
namespace {

using Labels = SnapshotExporter::Labels;

core::Policy replicasOnly(const std::string& name, const std::string& kind, const std::string& target) {
  core::Policy p;
  p.metadata.namespace_ = "llm";
  p.metadata.name = name;
  p.spec.targetRef.kind = kind;
  p.spec.targetRef.name = target;
  p.spec.maxReplicas = 10;  // no metric enabled: only the two replicas queries go out
  return p;
}

Labels deployment(const std::string& name, const std::string& ksm) {
  return {{"namespace", "llm"}, {"deployment", name}, {"ksm", ksm}};
}

// Every series of kube-state-metrics the test exports; `llamaReady` is the
// one that moves.
void exportReplicas(SnapshotExporter::Batch& b, double llamaReady) {
  for (const char* ksm : {"a", "b"}) {  // two kube-state-metrics replicas: the same series twice
    b.gauge("kube_deployment_spec_replicas", deployment("llama", ksm), 5);
    b.gauge("kube_deployment_status_replicas_ready", deployment("llama", ksm), llamaReady);
  }
  b.gauge("kube_deployment_spec_replicas", deployment("llama-70b", "a"), 9);  // the decoy
  b.gauge("kube_deployment_status_replicas_ready", deployment("llama-70b", "a"), 9);
  b.gauge("kube_statefulset_replicas", {{"namespace", "llm"}, {"statefulset", "vllm"}}, 3);
  b.gauge("kube_statefulset_status_replicas_ready", {{"namespace", "llm"}, {"statefulset", "vllm"}}, 1);
  b.gauge("kube_deployment_spec_replicas", deployment("fresh", "a"), 4);  // no ready series at all
  b.gauge("kube_deployment_spec_replicas", deployment("cold", "a"), 2);
  b.gauge("kube_deployment_status_replicas_ready", deployment("cold", "a"), 0);
}
constexpr int kSeries = 11;

std::unique_ptr<source::prometheus::PrometheusClient> clientOf(const PrometheusServer& prometheus) {
  source::prometheus::PrometheusClientOptions options;
  options.url = prometheus.url();
  auto client = source::prometheus::PrometheusClient::create(options);
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(client).value();
}

TEST_CASE("ready replicas from kube-state-metrics through a real Prometheus, beside the replicas") {
  SnapshotExporter exporter;
  exporter.batch([](SnapshotExporter::Batch& b) { exportReplicas(b, 2); });
  PrometheusServerOptions options;
  options.targets = {exporter.address()};
  PrometheusServer prometheus(options);
  const auto timeout = stretched(std::chrono::seconds(60));
  // One scrape holds every series: once all are there, every query has its answer.
  prometheus.waitForValue(R"(count({__name__=~"kube_.*",namespace="llm"}))", kSeries, timeout);

  const auto client = clientOf(prometheus);
  source::prometheus::PrometheusMetricSource source(*client);
  const std::vector<core::Policy> policies = {
      replicasOnly("llama", "Deployment", "llama"),     replicasOnly("llama-too", "Deployment", "llama"),
      replicasOnly("vllm", "StatefulSet", "vllm"),      replicasOnly("fresh", "Deployment", "fresh"),
      replicasOnly("cold", "Deployment", "cold"),
  };
  const auto readings = source.read(policies);
  REQUIRE(readings.size() == policies.size());
  struct Row {
    const char* what;
    std::int32_t current;
    std::optional<std::int32_t> ready;
  };
  const Row rows[] = {
      // Two kube-state-metrics: one value; never the decoy llama-70b's 9.
      {"a Deployment, 3 of 5 starting", 5, 2},
      // Another policy on the same target: the same answers.
      {"the same target", 5, 2},
      // kube_statefulset_status_replicas_ready.
      {"a StatefulSet", 3, 1},
      // No series: unknown, never 0, and not an error.
      {"no ready series", 4, std::nullopt},
      // A real 0: every replica starting.
      {"none ready", 2, 0},
  };
  for (std::size_t i = 0; i < policies.size(); ++i) {
    CAPTURE(rows[i].what);
    REQUIRE_MESSAGE(readings[i].ok(), (readings[i].ok() ? "" : readings[i].error().message));
    CHECK(readings[i].value().currentReplicas == rows[i].current);
    CHECK(readings[i].value().readyReplicas == rows[i].ready);
  }

  // The scale-up's replicas become ready: the next reads follow the series.
  exporter.batch([](SnapshotExporter::Batch& b) { exportReplicas(b, 5); });
  std::optional<std::int32_t> ready;
  waitUntil(
      [&] {
        const auto again = source.read({policies[0]});
        ready = again.at(0).ok() ? again[0].value().readyReplicas : std::nullopt;
        return ready == 5;
      },
      timeout, "the ready replicas to follow the series to 5",
      [&] { return concat("last read: ", ready ? std::to_string(*ready) : "none"); },
      std::chrono::milliseconds(100));
  CHECK(ready == 5);
}

}  // namespace
}  // namespace kubeai::testing
