// ScaleReplicaSource over a TargetCache whose watch keeps failing: the
// replicas last listed until options.targetsUnhealthyAfter, then an Error
// naming the watch and its last failure (so the loop's staleness follows, as
// it did when a failing GET made the reading an error), and no GET instead.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fake_kube_client.h"
#include "kube/scale_replica_source.h"

namespace kubeai::kube {
namespace {

using std::chrono::milliseconds;
using testing::FakeKubeClient;

core::Policy policy(const std::string& ns, const std::string& name, const std::string& kind) {
  core::Policy p;
  p.metadata.namespace_ = ns;
  p.metadata.name = name;
  p.spec.targetRef.kind = kind;
  p.spec.targetRef.name = name;
  p.spec.maxReplicas = 10;
  return p;
}

class StubMetrics final : public source::MetricSource {
 public:
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    std::vector<core::Result<source::MetricReading>> out;
    for (std::size_t i = 0; i < policies.size(); ++i) {
      source::MetricReading reading;
      reading.gpuUtilizationPercent = 50;
      out.emplace_back(reading);
    }
    return out;
  }
};

TEST_CASE("ScaleReplicaSource: a watch failing past targetsUnhealthyAfter makes its policies' readings errors") {
  StubMetrics inner;
  FakeKubeClient client;
  std::atomic<std::int64_t> nowMs{0};
  TargetCache cache({"default"}, [&] { return std::chrono::steady_clock::time_point(milliseconds(nowMs.load())); });
  TargetCache::Namespaces deployments;
  deployments["default"]["chat"] = detail::TargetState{5, 3, ""};
  cache.replace(TargetKind::kDeployment, "default", std::move(deployments));
  TargetCache::Namespaces statefulSets;
  statefulSets["default"]["db"] = detail::TargetState{3, 1, ""};
  cache.replace(TargetKind::kStatefulSet, "default", std::move(statefulSets));

  ScaleReplicaSourceOptions options;
  options.targets = &cache;
  options.targetsUnhealthyAfter = std::chrono::seconds(45);
  ScaleReplicaSource source(inner, client, options);
  const std::vector<core::Policy> policies = {policy("default", "chat", "Deployment"),
                                              policy("default", "db", "StatefulSet")};

  nowMs = 1'000;
  cache.setFailing(TargetKind::kDeployment, "default", true, "GET /apis/apps/v1/namespaces/default/deployments?watch=1: HTTP 403");
  nowMs = 30'000;
  cache.setFailing(TargetKind::kDeployment, "default", true, "watch /apis/apps/v1/namespaces/default/deployments: connection refused");
  nowMs = 46'000;  // failing for 45 s: not longer than the bound
  auto readings = source.read(policies);
  REQUIRE(readings.size() == 2);
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().currentReplicas == 5);

  nowMs = 48'500;  // 47.5 s
  readings = source.read(policies);
  REQUIRE_FALSE(readings[0].ok());
  CHECK(readings[0].error().message ==
        "target Deployment default/chat: the deployments watch of namespace default has failed for 47s: "
        "watch /apis/apps/v1/namespaces/default/deployments: connection refused");
  CHECK_FALSE(isTargetNotFound(readings[0].error().message));
  REQUIRE(readings[1].ok());  // the StatefulSets' watch is fine
  CHECK(readings[1].value().currentReplicas == 3);
  CHECK(client.requests().empty());  // no GET in place of the failing watch

  // Working again: the replicas, at once.
  cache.setFailing(TargetKind::kDeployment, "default", false, {});
  readings = source.read(policies);
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().readyReplicas == 3);

  // Without a bound: the replicas held, however long the watch fails.
  cache.setFailing(TargetKind::kDeployment, "default", true, "HTTP 403");
  nowMs = 10'000'000;
  ScaleReplicaSourceOptions unbounded;
  unbounded.targets = &cache;
  ScaleReplicaSource lenient(inner, client, unbounded);
  readings = lenient.read(policies);
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().currentReplicas == 5);
}

}  // namespace
}  // namespace kubeai::kube
