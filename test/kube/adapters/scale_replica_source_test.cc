#include "kube/scale_replica_source.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "fake_kube_client.h"
#include "support/wait.h"

namespace kubeai::kube {
namespace {

using testing::FakeKubeClient;

core::Policy policy(const std::string& ns, const std::string& name, const std::string& kind, const std::string& target) {
  core::Policy p;
  p.metadata.namespace_ = ns;
  p.metadata.name = name;
  p.spec.targetRef.kind = kind;
  p.spec.targetRef.name = target;
  p.spec.maxReplicas = 10;
  return p;
}

// The inner metric source: a reading with metrics (and replicas and ready
// replicas that the target's must replace), or an error, by policy name.
class StubMetrics final : public source::MetricSource {
 public:
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    std::vector<core::Result<source::MetricReading>> out;
    for (const auto& p : policies) {
      if (p->metadata.name == "no-metrics") {
        out.emplace_back(core::Error{"query failed"});
        continue;
      }
      source::MetricReading reading;
      reading.currentReplicas = 99;
      reading.readyReplicas = 98;
      reading.gpuUtilizationPercent = 50;
      out.emplace_back(reading);
    }
    return out;
  }
};

core::Policy withApiVersion(core::Policy p, const std::string& apiVersion) {
  p.spec.targetRef.apiVersion = apiVersion;
  return p;
}

TEST_CASE("ScaleReplicaSource reads an apps/v1 target itself, any other through its /scale") {
  struct Row {
    core::Policy policy;
    std::string expected;  // the path, or the error
    bool scale;            // read through /scale
  };
  core::Policy extensions = policy("default", "x", "Deployment", "old");
  extensions.spec.targetRef.apiVersion = "apps/v1beta2";
  const std::vector<Row> rows = {
      // Deployments and StatefulSets under apps/v1: the object, for its status.readyReplicas.
      {policy("default", "chat", "Deployment", "chat-server"), "/apis/apps/v1/namespaces/default/deployments/chat-server", false},
      {policy("team-a", "db", "StatefulSet", "vector-db"), "/apis/apps/v1/namespaces/team-a/statefulsets/vector-db", false},
      {withApiVersion(policy("default", "chat", "Deployment", "chat"), "apps/v1"), "/apis/apps/v1/namespaces/default/deployments/chat", false},
      // Another group/version: the targetRef's apiVersion is the path's, through the generic /scale.
      {extensions, "/apis/apps/v1beta2/namespaces/default/deployments/old/scale", true},
      {withApiVersion(policy("default", "k", "StatefulSet", "kruise"), "apps.kruise.io/v1beta1"),
       "/apis/apps.kruise.io/v1beta1/namespaces/default/statefulsets/kruise/scale", true},
      // A kind other than Deployment and StatefulSet is an error naming the field.
      {policy("default", "r", "ReplicaSet", "rs"), "spec.targetRef.kind ReplicaSet: only a Deployment's or StatefulSet's replicas are read", false},
      // The core group lives under /api.
      {withApiVersion(policy("default", "c", "Deployment", "core"), "v1"), "/api/v1/namespaces/default/deployments/core/scale", true},
      // Nothing but a valid segment reaches the path, even if validation was bypassed: an
      // apiVersion carrying a path of its own would read kube-system's coredns.
      {withApiVersion(policy("default", "x", "Deployment", "web"), "apps/v1/namespaces/kube-system/deployments/coredns/scale#"),
       "spec.targetRef.apiVersion \"apps/v1/namespaces/kube-system/deployments/coredns/scale#\": not an API group/version such as apps/v1; the target is not read", false},
      {withApiVersion(policy("default", "x", "Deployment", "web"), "apps/v1?x="),
       "spec.targetRef.apiVersion \"apps/v1?x=\": not an API group/version such as apps/v1; the target is not read", false},
      {policy("default", "x", "Deployment", "../../kube-system/deployments/coredns"),
       "spec.targetRef.name \"../../kube-system/deployments/coredns\": not an RFC 1123 subdomain; the target is not read", false},
      {policy("default", "x", "Deployment", "web#"), "spec.targetRef.name \"web#\": not an RFC 1123 subdomain; the target is not read", false},
      {policy("kube-system/deployments/coredns/scale#", "x", "Deployment", "web"),
       "metadata.namespace \"kube-system/deployments/coredns/scale#\": not an RFC 1123 label; the target is not read", false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.expected);
    auto read = ScaleReplicaSource::targetRead(row.policy);
    CHECK((read.ok() ? read.value().path : read.error().message) == row.expected);
    if (read.ok()) {
      CHECK(read.value().scale == row.scale);
    }
  }
}

TEST_CASE("ScaleReplicaSource through /scale: current replicas are the Scale's spec.replicas, never status.replicas") {
  struct Row {
    std::string scale;     // the /scale answer's body
    std::int32_t replicas;  // the current replicas read, or -1 for an error
    std::string error;     // the error's text after "GET <path>: ", for -1
  };
  const std::vector<Row> rows = {
      // A rolling update of a Deployment of 10 with maxSurge 30 %: 13 pods, 10 asked for.
      {R"({"kind":"Scale","spec":{"replicas":10},"status":{"replicas":13,"selector":"app=x"}})", 10, ""},
      // Scaling up, the pods not there yet: still what is asked for.
      {R"({"kind":"Scale","spec":{"replicas":5},"status":{"replicas":4}})", 5, ""},
      // A new target whose controller has not written status yet.
      {R"({"kind":"Scale","spec":{"replicas":3}})", 3, ""},
      // Scaled to zero: ScaleSpec.replicas is omitempty, so spec is empty; status says 0 too.
      {R"({"kind":"Scale","spec":{},"status":{"replicas":0}})", 0, ""},
      // Scaled to zero while pods still terminate: 0, not the 2 still counted.
      {R"({"kind":"Scale","spec":{},"status":{"replicas":2}})", 0, ""},
      // No spec at all, or a null one: nothing asked for.
      {R"({"kind":"Scale","status":{"replicas":4}})", 0, ""},
      {R"({"kind":"Scale","spec":null})", 0, ""},
      {R"({"kind":"Scale","spec":{"replicas":null}})", 0, ""},
      // The largest int32.
      {R"({"spec":{"replicas":2147483647}})", 2147483647, ""},
      // What is not a replica count is an error naming the field and the value, never a guess
      // (and never status.replicas instead).
      {R"({"spec":{"replicas":-1},"status":{"replicas":3}})", -1,
       "the Scale's spec.replicas -1 is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":"3"}})", -1, "the Scale's spec.replicas \"3\" is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2.5}})", -1, "the Scale's spec.replicas 2.5 is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2147483648}})", -1,
       "the Scale's spec.replicas 2147483648 is not an integer from 0 to 2147483647"},
      {R"({"spec":[1]})", -1, "the Scale's spec is not an object"},
      {R"([1,2])", -1, "the response is not a JSON object"},
      {R"(not json)", -1, "the response is not a JSON object"},
  };
  // A StatefulSet of another API (OpenKruise's): read through the generic /scale.
  constexpr const char* kPath = "/apis/apps.kruise.io/v1beta1/namespaces/default/statefulsets/web/scale";
  for (const Row& row : rows) {
    CAPTURE(row.scale);
    StubMetrics inner;
    FakeKubeClient client;
    client.onRequest = [&](std::string_view, const std::string& path) -> core::Result<KubeResponse> {
      CHECK(path == kPath);
      return KubeResponse{200, row.scale};
    };
    ScaleReplicaSource source(inner, client);
    auto readings = source.read({withApiVersion(policy("default", "web", "StatefulSet", "web"), "apps.kruise.io/v1beta1")});
    REQUIRE(readings.size() == 1);
    if (row.replicas >= 0) {
      REQUIRE(readings[0].ok());
      CHECK(readings[0].value().currentReplicas == row.replicas);  // the inner source's 99 replaced
      CHECK_FALSE(readings[0].value().readyReplicas.has_value());  // a Scale has none: unknown, not the inner 98
    } else {
      REQUIRE_FALSE(readings[0].ok());
      CHECK(readings[0].error().message == testing::concat("GET ", kPath, ": ", row.error));
    }
  }
}

TEST_CASE("ScaleReplicaSource of an apps/v1 target: spec.replicas and status.readyReplicas of the object") {
  struct Row {
    std::string object;     // the Deployment's body
    std::int32_t replicas;  // the current replicas read, or -1 for an error
    std::int32_t ready;     // the ready replicas read
    std::string error;      // the error's text after "GET <path>: ", for -1
  };
  const std::vector<Row> rows = {
      // Scaled up from 2 to 5: 3 replicas still starting.
      {R"({"kind":"Deployment","spec":{"replicas":5},"status":{"replicas":5,"readyReplicas":2}})", 5, 2, ""},
      // A rolling update of 10 with maxSurge 30 %: 13 pods, 10 asked for, 12 of them ready.
      {R"({"kind":"Deployment","spec":{"replicas":10},"status":{"replicas":13,"readyReplicas":12}})", 10, 12, ""},
      // No pod ready: readyReplicas is omitempty, so 0 is sent as nothing.
      {R"({"kind":"Deployment","spec":{"replicas":3},"status":{"replicas":3,"unavailableReplicas":3}})", 3, 0, ""},
      // A new object whose controller has not written status yet; or a null one.
      {R"({"kind":"Deployment","spec":{"replicas":3}})", 3, 0, ""},
      {R"({"kind":"Deployment","spec":{"replicas":3},"status":null})", 3, 0, ""},
      {R"({"kind":"Deployment","spec":{"replicas":3},"status":{"readyReplicas":null}})", 3, 0, ""},
      // Scaled to zero: spec.replicas is a pointer, so 0 is sent; status is empty.
      {R"({"kind":"Deployment","spec":{"replicas":0},"status":{}})", 0, 0, ""},
      // spec.replicas absent or null: the API server's default, 1 (no real API server sends this).
      {R"({"kind":"Deployment","spec":{},"status":{"readyReplicas":1}})", 1, 1, ""},
      {R"({"kind":"Deployment","spec":{"replicas":null}})", 1, 0, ""},
      // The largest int32.
      {R"({"spec":{"replicas":2147483647},"status":{"readyReplicas":2147483647}})", 2147483647, 2147483647, ""},
      // What is not a replica count is an error naming the field and the value, never a guess.
      {R"({"spec":{"replicas":-1},"status":{"readyReplicas":3}})", -1, 0,
       "the Deployment's spec.replicas -1 is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2},"status":{"readyReplicas":-1}})", -1, 0,
       "the Deployment's status.readyReplicas -1 is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2},"status":{"readyReplicas":"2"}})", -1, 0,
       "the Deployment's status.readyReplicas \"2\" is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2},"status":{"readyReplicas":1.5}})", -1, 0,
       "the Deployment's status.readyReplicas 1.5 is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2},"status":{"readyReplicas":2147483648}})", -1, 0,
       "the Deployment's status.readyReplicas 2147483648 is not an integer from 0 to 2147483647"},
      {R"({"spec":{"replicas":2},"status":[1]})", -1, 0, "the Deployment's status is not an object"},
      // No spec: not a Deployment at all (its selector and template are required).
      {R"({"kind":"Deployment","status":{"readyReplicas":1}})", -1, 0, "the Deployment has no spec object"},
      {R"({"spec":[1]})", -1, 0, "the Deployment has no spec object"},
      {R"([1,2])", -1, 0, "the response is not a JSON object"},
      {R"(not json)", -1, 0, "the response is not a JSON object"},
  };
  constexpr const char* kPath = "/apis/apps/v1/namespaces/default/deployments/web";
  for (const Row& row : rows) {
    CAPTURE(row.object);
    StubMetrics inner;
    FakeKubeClient client;
    client.onRequest = [&](std::string_view, const std::string& path) -> core::Result<KubeResponse> {
      CHECK(path == kPath);
      return KubeResponse{200, row.object};
    };
    ScaleReplicaSource source(inner, client);
    auto readings = source.read({policy("default", "web", "Deployment", "web")});
    REQUIRE(readings.size() == 1);
    if (row.replicas >= 0) {
      REQUIRE(readings[0].ok());
      CHECK(readings[0].value().currentReplicas == row.replicas);  // the inner source's 99 replaced
      CHECK(readings[0].value().readyReplicas == row.ready);       // and its 98
      CHECK(readings[0].value().observation(0).readyReplicas == row.ready);
    } else {
      REQUIRE_FALSE(readings[0].ok());
      CHECK(readings[0].error().message == testing::concat("GET ", kPath, ": ", row.error));
    }
  }
  // A StatefulSet's errors name its kind.
  FakeKubeClient client;
  client.onRequest = [](std::string_view, const std::string& path) -> core::Result<KubeResponse> {
    CHECK(path == "/apis/apps/v1/namespaces/default/statefulsets/db");
    return KubeResponse{200, R"({"spec":{"replicas":2},"status":{"readyReplicas":-2}})"};
  };
  StubMetrics inner;
  ScaleReplicaSource source(inner, client);
  auto readings = source.read({policy("default", "db", "StatefulSet", "db")});
  REQUIRE_FALSE(readings[0].ok());
  CHECK(readings[0].error().message ==
        "GET /apis/apps/v1/namespaces/default/statefulsets/db: the StatefulSet's status.readyReplicas -2 is not an "
        "integer from 0 to 2147483647");
}

TEST_CASE("ScaleReplicaSource sets replicas from the targets and reports missing ones") {
  StubMetrics inner;
  FakeKubeClient client;
  client.onRequest = [](std::string_view method, const std::string& path) -> core::Result<KubeResponse> {
    static const std::map<std::string, KubeResponse> answers = {
        // A rollout in progress: spec.replicas (5), not the 6 pods of status; 4 ready.
        {"/apis/apps/v1/namespaces/default/deployments/chat",
         {200, R"({"kind":"Deployment","spec":{"replicas":5},"status":{"replicas":6,"readyReplicas":4}})"}},
        // No status yet: spec.replicas, none ready.
        {"/apis/apps/v1/namespaces/default/statefulsets/db", {200, R"({"kind":"StatefulSet","spec":{"replicas":3}})"}},
        // Scaled to zero: spec.replicas 0, status.replicas 0.
        {"/apis/apps/v1/namespaces/default/deployments/idle",
         {200, R"({"kind":"Deployment","spec":{"replicas":0},"status":{"replicas":0}})"}},
        {"/apis/apps/v1/namespaces/default/deployments/forbidden",
         {403, R"({"kind":"Status","code":403,"message":"deployments.apps \"forbidden\" is forbidden"})"}},
        // Another API's StatefulSet: its /scale, which has no ready replicas.
        {"/apis/apps.kruise.io/v1beta1/namespaces/default/statefulsets/kruise/scale",
         {200, R"({"kind":"Scale","spec":{"replicas":7},"status":{"replicas":7}})"}},
    };
    CHECK(method == "GET");
    if (path == "/apis/apps/v1/namespaces/default/deployments/down") {
      return core::Error{testing::concat("GET ", path, ": connection refused")};
    }
    auto found = answers.find(path);
    if (found == answers.end()) {
      return KubeResponse{404, R"({"kind":"Status","code":404,"reason":"NotFound"})"};
    }
    return found->second;
  };
  ScaleReplicaSource source(inner, client, {4, std::chrono::milliseconds(1234)});
  const std::vector<core::Policy> policies = {
      policy("default", "chat", "Deployment", "chat"),     policy("default", "chat-2", "Deployment", "chat"),
      policy("default", "db", "StatefulSet", "db"),        policy("default", "idle", "Deployment", "idle"),
      policy("default", "missing", "Deployment", "ghost"), policy("default", "forbidden", "Deployment", "forbidden"),
      policy("default", "down", "Deployment", "down"),     policy("default", "no-metrics", "Deployment", "chat"),
      withApiVersion(policy("default", "kruise", "StatefulSet", "kruise"), "apps.kruise.io/v1beta1"),
      policy("default", "sts-missing", "StatefulSet", "ghost"),
  };
  auto readings = source.read(policies);
  REQUIRE(readings.size() == policies.size());
  auto replicas = [&](std::size_t i) { return readings[i].ok() ? readings[i].value().currentReplicas.value_or(-1) : -2; };
  auto ready = [&](std::size_t i) { return readings[i].ok() ? readings[i].value().readyReplicas.value_or(-1) : -2; };
  auto error = [&](std::size_t i) { return readings[i].ok() ? std::string() : readings[i].error().message; };
  CHECK(replicas(0) == 5);
  CHECK(ready(0) == 4);
  CHECK(replicas(1) == 5);
  CHECK(ready(1) == 4);
  CHECK(readings[0].value().gpuUtilizationPercent == 50);  // the inner source's metrics kept
  CHECK(replicas(2) == 3);
  CHECK(ready(2) == 0);
  CHECK(replicas(3) == 0);
  CHECK(ready(3) == 0);
  CHECK(error(4) == "TargetNotFound: target Deployment default/ghost not found");
  CHECK(isTargetNotFound(error(4)));
  CHECK(isTargetNotFound(testing::concat("no metrics yet: ", error(4))));
  CHECK(error(5) == "GET /apis/apps/v1/namespaces/default/deployments/forbidden: HTTP 403: deployments.apps "
                    "\"forbidden\" is forbidden");
  CHECK_FALSE(isTargetNotFound(error(5)));
  CHECK(error(6).find("connection refused") != std::string::npos);
  CHECK(error(7) == "query failed");  // a failed metrics read is not followed by a GET
  CHECK(replicas(8) == 7);
  CHECK(ready(8) == -1);  // unknown: not the inner source's 98
  CHECK(error(9) == "TargetNotFound: target StatefulSet default/ghost not found");

  // One GET per distinct target, each with the configured timeout.
  const auto requests = client.requests();
  CHECK(requests.size() == 8);
  CHECK(std::count(requests.begin(), requests.end(), "GET /apis/apps/v1/namespaces/default/deployments/chat") == 1);
  for (auto timeout : client.timeouts()) {
    CHECK(timeout == std::chrono::milliseconds(1234));
  }
}

TEST_CASE("ScaleReplicaSource reads many targets with bounded parallelism") {
  StubMetrics inner;
  FakeKubeClient client;
  std::mutex mutex;
  int inFlight = 0;
  int most = 0;
  client.onRequest = [&](std::string_view, const std::string&) -> core::Result<KubeResponse> {
    {
      const std::lock_guard lock(mutex);
      most = std::max(most, ++inFlight);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    {
      const std::lock_guard lock(mutex);
      --inFlight;
    }
    return KubeResponse{200, R"({"spec":{"replicas":2},"status":{"replicas":3}})"};
  };
  std::vector<core::Policy> policies;
  for (int i = 0; i < 64; ++i) {
    policies.push_back(policy("default", testing::concat("p", std::to_string(i)), "Deployment", testing::concat("t", std::to_string(i))));
  }
  ScaleReplicaSource source(inner, client, {8, std::chrono::seconds(5)});
  const auto started = std::chrono::steady_clock::now();
  auto readings = source.read(policies);
  for (const auto& reading : readings) {
    REQUIRE(reading.ok());
    CHECK(reading.value().currentReplicas == 2);
  }
  CHECK(most <= 8);
  CHECK(most >= 2);
  // 64 x 5 ms one at a time would be 320 ms.
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(300));
  CHECK(source.read({}).empty());
}

TEST_CASE("ScaleReplicaSource reads apps/v1 targets from the watch's cache, with no request, and GETs the rest") {
  StubMetrics inner;
  FakeKubeClient client;
  client.onRequest = [](std::string_view, const std::string& path) -> core::Result<KubeResponse> {
    if (path == "/apis/apps.kruise.io/v1beta1/namespaces/default/statefulsets/kruise/scale") {
      return KubeResponse{200, R"({"kind":"Scale","spec":{"replicas":7}})"};
    }
    if (path == "/apis/apps/v1/namespaces/elsewhere/deployments/web") {
      return KubeResponse{200, R"({"kind":"Deployment","spec":{"replicas":2},"status":{"readyReplicas":1}})"};
    }
    return KubeResponse{404, R"({"kind":"Status","code":404})"};
  };
  TargetCache cache({"default"});
  ScaleReplicaSourceOptions options;
  options.targets = &cache;
  ScaleReplicaSource source(inner, client, options);
  const std::vector<core::Policy> policies = {
      policy("default", "chat", "Deployment", "chat"),
      policy("default", "db", "StatefulSet", "db"),
      policy("default", "ghost", "Deployment", "ghost"),
      policy("default", "bad", "Deployment", "bad"),
      withApiVersion(policy("default", "kruise", "StatefulSet", "kruise"), "apps.kruise.io/v1beta1"),
      policy("elsewhere", "web", "Deployment", "web"),  // a namespace the watch does not cover
  };
  auto error = [](const core::Result<source::MetricReading>& reading) {
    return reading.ok() ? std::string() : reading.error().message;
  };

  // Before the first lists: not known yet, which is not "not found".
  auto readings = source.read(policies);
  REQUIRE(readings.size() == policies.size());
  CHECK(error(readings[0]) ==
        "target Deployment default/chat: the deployments of namespace default are not listed yet from the Kubernetes API");
  CHECK(error(readings[1]) ==
        "target StatefulSet default/db: the statefulsets of namespace default are not listed yet from the Kubernetes API");
  CHECK_FALSE(isTargetNotFound(error(readings[0])));

  TargetCache::Namespaces deployments;
  deployments["default"]["chat"] = detail::TargetState{5, 3, ""};
  deployments["default"]["bad"] = detail::TargetState{0, 0, "the Deployment's spec.replicas -1 is not an integer from 0 to 2147483647"};
  cache.replace(TargetKind::kDeployment, "default", std::move(deployments));
  TargetCache::Namespaces statefulSets;
  statefulSets["default"]["db"] = detail::TargetState{3, 0, ""};
  cache.replace(TargetKind::kStatefulSet, "default", std::move(statefulSets));
  readings = source.read(policies);
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().currentReplicas == 5);  // the inner source's 99 replaced
  CHECK(readings[0].value().readyReplicas == 3);    // and its 98
  CHECK(readings[0].value().gpuUtilizationPercent == 50);
  REQUIRE(readings[1].ok());
  CHECK(readings[1].value().currentReplicas == 3);
  CHECK(readings[1].value().readyReplicas == 0);
  CHECK(error(readings[2]) == "TargetNotFound: target Deployment default/ghost not found");
  CHECK(isTargetNotFound(error(readings[2])));
  CHECK(error(readings[3]) ==
        "target Deployment default/bad: the Deployment's spec.replicas -1 is not an integer from 0 to 2147483647");
  REQUIRE(readings[4].ok());
  CHECK(readings[4].value().currentReplicas == 7);
  CHECK_FALSE(readings[4].value().readyReplicas.has_value());
  REQUIRE(readings[5].ok());
  CHECK(readings[5].value().currentReplicas == 2);

  // Requests: only what the watch cannot serve, once per read.
  auto requests = client.requests();
  std::sort(requests.begin(), requests.end());  // a read's GETs run in parallel
  CHECK(requests == std::vector<std::string>{
                        "GET /apis/apps.kruise.io/v1beta1/namespaces/default/statefulsets/kruise/scale",
                        "GET /apis/apps.kruise.io/v1beta1/namespaces/default/statefulsets/kruise/scale",
                        "GET /apis/apps/v1/namespaces/elsewhere/deployments/web",
                        "GET /apis/apps/v1/namespaces/elsewhere/deployments/web"});
}

}  // namespace
}  // namespace kubeai::kube
