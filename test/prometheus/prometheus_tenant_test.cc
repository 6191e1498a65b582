// serve --prometheus-tenant-from-namespace: each policy's queries go out as its
// namespace's tenant (X-Scope-OrgID, as Mimir, Cortex and Loki read it), one
// HTTP query per distinct expression and tenant; the replicas and ready
// replicas (kube-state-metrics, the platform's series) with no tenant header.
// A real Prometheus has no
// tenants: a stub HTTP server records the headers and answers by tenant.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/policy.h"
#include "source/prometheus/client/prometheus_client.h"
#include "source/prometheus/prometheus_metric_source.h"
#include "support/stub_http_server.h"

namespace {

using kubeai::core::Policy;
using kubeai::source::prometheus::PrometheusClient;
using kubeai::source::prometheus::PrometheusClientOptions;
using kubeai::source::prometheus::PrometheusMetricSource;
using kubeai::source::prometheus::PrometheusSourceOptions;
using kubeai::testing::StubHttpServer;
using kubeai::testing::StubRequest;
using kubeai::testing::StubResponse;

// The same query in both namespaces: no ${namespace} in it, so without tenants
// the two policies share one HTTP query (and one tenant's data).
Policy policyIn(const std::string& ns) {
  Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = ns;
  policy.spec.targetRef = {"apps/v1", "Deployment", "chat"};
  policy.spec.maxReplicas = 10;
  policy.spec.metrics.gpuUtilization = kubeai::core::GpuUtilizationMetricSpec{true, 80.0, "avg(gpu_busy_percent)"};
  return policy;
}

// Answers with the tenant's own value: team-a 10, team-b 20, anyone else 99.
StubResponse byTenant(const StubRequest& request) {
  const std::optional<std::string> tenant = request.header("x-scope-orgid");
  const std::string value = tenant == "team-a" ? "10" : tenant == "team-b" ? "20" : "99";
  StubResponse response;
  response.body = R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,")" +
                  value + R"("]}]}})";
  return response;
}

struct World {
  explicit World(bool tenantFromNamespace, std::vector<std::pair<std::string, std::string>> headers = {},
                 bool queryReplicas = false)
      : stub(byTenant) {
    PrometheusClientOptions options;
    options.url = stub.url();
    options.headers = std::move(headers);
    auto created = PrometheusClient::create(std::move(options));
    REQUIRE(created.ok());
    client = std::move(created).value();
    PrometheusSourceOptions sourceOptions;
    // Mostly the replicas come from elsewhere: only the metric is asked.
    sourceOptions.queries.queryReplicas = queryReplicas;
    sourceOptions.tenantFromNamespace = tenantFromNamespace;
    source = std::make_unique<PrometheusMetricSource>(*client, std::move(sourceOptions));
  }

  StubHttpServer stub;
  std::unique_ptr<PrometheusClient> client;
  std::unique_ptr<PrometheusMetricSource> source;
};

TEST_CASE("two namespaces, the same query: two requests, each with its namespace as X-Scope-OrgID") {
  World world(/*tenantFromNamespace=*/true, {{"X-Extra", "kept"}});
  const auto readings = world.source->read(std::vector<Policy>{policyIn("team-a"), policyIn("team-b")});
  REQUIRE(readings.size() == 2);
  REQUIRE(readings[0].ok());
  REQUIRE(readings[1].ok());
  // Each policy reads its own tenant's answer.
  CHECK(readings[0].value().gpuUtilizationPercent == 10.0);
  CHECK(readings[1].value().gpuUtilizationPercent == 20.0);

  const auto requests = world.stub.requests();
  REQUIRE(requests.size() == 2);
  std::set<std::string> tenants;
  for (const StubRequest& request : requests) {
    CHECK(request.query() == "avg(gpu_busy_percent)");
    CHECK(request.header("x-extra") == "kept");  // --prometheus-header still goes along
    tenants.insert(request.header("x-scope-orgid").value_or("<none>"));
  }
  CHECK(tenants == std::set<std::string>{"team-a", "team-b"});
}

TEST_CASE("with tenants, policies of one namespace still share one query per cycle") {
  World world(/*tenantFromNamespace=*/true);
  Policy other = policyIn("team-a");
  other.metadata.name = "other";
  const auto readings = world.source->read(std::vector<Policy>{policyIn("team-a"), other, policyIn("team-b")});
  REQUIRE(readings.size() == 3);
  for (const auto& reading : readings) {
    REQUIRE(reading.ok());
  }
  CHECK(readings[1].value().gpuUtilizationPercent == 10.0);
  std::multiset<std::string> tenants;
  for (const StubRequest& request : world.stub.requests()) {
    tenants.insert(request.header("x-scope-orgid").value_or("<none>"));
  }
  CHECK(tenants == std::multiset<std::string>{"team-a", "team-b"});
}

TEST_CASE("with tenants, the replicas and ready-replicas queries go with no X-Scope-OrgID, other headers kept") {
  World world(/*tenantFromNamespace=*/true, {{"X-Extra", "kept"}}, /*queryReplicas=*/true);
  const auto readings = world.source->read(std::vector<Policy>{policyIn("team-a"), policyIn("team-b")});
  REQUIRE(readings.size() == 2);
  REQUIRE(readings[0].ok());
  REQUIRE(readings[1].ok());
  CHECK(readings[0].value().gpuUtilizationPercent == 10.0);  // the namespace's tenant
  CHECK(readings[1].value().gpuUtilizationPercent == 20.0);
  CHECK(readings[0].value().currentReplicas == 99);  // no tenant's answer
  CHECK(readings[1].value().readyReplicas == 99);

  // Per namespace: the metric as its tenant, the two kube-state-metrics
  // queries (which name the namespace) with none.
  std::multiset<std::string> metricTenants;
  std::size_t replicaQueries = 0;
  for (const StubRequest& request : world.stub.requests()) {
    CHECK(request.header("x-extra") == "kept");
    if (request.query() == "avg(gpu_busy_percent)") {
      metricTenants.insert(request.header("x-scope-orgid").value_or("<none>"));
      continue;
    }
    ++replicaQueries;
    CHECK(request.query().value_or("").find("kube_deployment_") != std::string::npos);
    CHECK_FALSE(request.header("x-scope-orgid").has_value());
  }
  CHECK(metricTenants == std::multiset<std::string>{"team-a", "team-b"});
  CHECK(replicaQueries == 4);  // replicas and ready replicas, of each namespace
}

TEST_CASE("without tenants: one request for both namespaces, no X-Scope-OrgID") {
  World world(/*tenantFromNamespace=*/false);
  const auto readings = world.source->read(std::vector<Policy>{policyIn("team-a"), policyIn("team-b")});
  REQUIRE(readings.size() == 2);
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().gpuUtilizationPercent == 99.0);
  const auto requests = world.stub.requests();
  REQUIRE(requests.size() == 1);
  CHECK_FALSE(requests[0].header("x-scope-orgid").has_value());
}

}  // namespace
