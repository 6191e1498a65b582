// ScaleReplicaSource over the real KubeClient against the API emulator
// (test/kube/emulator): a Deployment and a StatefulSet created there, their
// status written as their controllers would, read as current (spec.replicas)
// and ready (status.readyReplicas) replicas; a scale-up by /scale (KEDA's
// HPA, kubectl scale) seen with its replicas still starting, then ready; a
// missing target; one GET of the object per target, never of /scale.
// With the TargetWatcher: the same read from its list + watch, a `kubectl
// scale` seen within a second, and no request per target in the steady state.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../client/emulator_process.h"
#include "kube/client/kube_client.h"
#include "kube/scale_replica_source.h"
#include "kube/target_watcher.h"
#include "support/temp_dir.h"

namespace kubeai::kube {
namespace {

using testing::concat;

constexpr const char* kApps = "/apis/apps/v1/namespaces/default";
const std::string kToken = "T";

// The metrics, without replicas: what the file or Prometheus gives under --kubernetes.
class GpuOnly final : public source::MetricSource {
 public:
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    std::vector<core::Result<source::MetricReading>> out;
    for (std::size_t i = 0; i < policies.size(); ++i) {
      source::MetricReading reading;
      reading.gpuUtilizationPercent = 90;
      out.emplace_back(reading);
    }
    return out;
  }
};

core::Policy policy(const std::string& name, const std::string& kind, const std::string& target) {
  core::Policy p;
  p.metadata.namespace_ = "default";
  p.metadata.name = name;
  p.spec.targetRef.kind = kind;
  p.spec.targetRef.name = target;
  p.spec.maxReplicas = 10;
  return p;
}

std::string workload(const std::string& kind, const std::string& name, int replicas) {
  const nlohmann::json labels = {{"app", name}};
  return nlohmann::json{{"apiVersion", "apps/v1"},
                        {"kind", kind},
                        {"metadata", {{"name", name}}},
                        {"spec",
                         {{"replicas", replicas},
                          {"selector", {{"matchLabels", labels}}},
                          {"template",
                           {{"metadata", {{"labels", labels}}},
                            {"spec", {{"containers", {{{"name", "server"}, {"image", "example"}}}}}}}}}}}
      .dump();
}

void call(KubeClient& client, const std::string& method, const std::string& path, const std::string& body,
          long expected) {
  const auto response = client.request(method, path, body,
                                       method == "PATCH" ? "application/merge-patch+json" : "application/json");
  REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
  REQUIRE_MESSAGE(response.value().status == expected, concat(method, " ", path, ": ", response.value().body));
}

TEST_CASE("ScaleReplicaSource against the API emulator: spec.replicas and status.readyReplicas of the target") {
  testing::EmulatorProcess emulator(KUBEAI_EMULATOR_SCRIPT, {"--token", kToken});
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  config.token = kToken;  // copied from a string: GCC 12 warns falsely (-Wrestrict) on a literal here
  auto created = KubeClient::create(config);
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
  KubeClient& client = *created.value();

  call(client, "POST", concat(kApps, "/deployments"), workload("Deployment", "chat", 2), 201);
  call(client, "PATCH", concat(kApps, "/deployments/chat/status"), R"({"status":{"replicas":2,"readyReplicas":2}})",
       200);
  call(client, "POST", concat(kApps, "/statefulsets"), workload("StatefulSet", "db", 3), 201);  // no status yet
  call(client, "POST", "/_emulator/requests/clear", "", 200);

  GpuOnly inner;
  ScaleReplicaSource source(inner, client);
  const std::vector<core::Policy> policies = {policy("chat", "Deployment", "chat"),
                                              policy("chat-too", "Deployment", "chat"),
                                              policy("db", "StatefulSet", "db"), policy("ghost", "Deployment", "ghost")};
  auto readings = source.read(policies);
  REQUIRE(readings.size() == policies.size());
  for (std::size_t i = 0; i < 2; ++i) {  // two policies, one target
    REQUIRE(readings[i].ok());
    CHECK(readings[i].value().currentReplicas == 2);
    CHECK(readings[i].value().readyReplicas == 2);
    CHECK(readings[i].value().gpuUtilizationPercent == 90.0);
  }
  REQUIRE(readings[2].ok());
  CHECK(readings[2].value().currentReplicas == 3);
  CHECK(readings[2].value().readyReplicas == 0);  // not reconciled: none ready, not unknown
  REQUIRE_FALSE(readings[3].ok());
  CHECK(readings[3].error().message == "TargetNotFound: target Deployment default/ghost not found");

  // One GET of each object: none of /scale, the shared target once.
  const auto log = client.request("GET", "/_emulator/requests");
  REQUIRE(log.ok());
  std::vector<std::string> gets;
  for (const auto& request : nlohmann::json::parse(log.value().body)) {
    if (request.value("path", "").rfind("/_emulator", 0) != 0) {
      gets.push_back(concat(request.value("method", ""), " ", request.value("path", "")));
    }
  }
  std::sort(gets.begin(), gets.end());
  CHECK(gets == std::vector<std::string>{concat("GET ", kApps, "/deployments/chat"),
                                         concat("GET ", kApps, "/deployments/ghost"),
                                         concat("GET ", kApps, "/statefulsets/db")});

  // KEDA's HPA scales up through /scale: 5 asked for, the 2 ready so far, 3 starting.
  call(client, "PATCH", concat(kApps, "/deployments/chat/scale"), R"({"spec":{"replicas":5}})", 200);
  readings = source.read({policies[0]});
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().currentReplicas == 5);
  CHECK(readings[0].value().readyReplicas == 2);
  // The new pods become ready.
  call(client, "PATCH", concat(kApps, "/deployments/chat/status"), R"({"status":{"replicas":5,"readyReplicas":5}})",
       200);
  readings = source.read({policies[0]});
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().currentReplicas == 5);
  CHECK(readings[0].value().readyReplicas == 5);
}

// The emulator's request log since the last clear: "METHOD path?query" of the API's requests.
std::vector<std::string> apiRequests(KubeClient& client) {
  const auto log = client.request("GET", "/_emulator/requests");
  REQUIRE(log.ok());
  std::vector<std::string> out;
  for (const auto& request : nlohmann::json::parse(log.value().body)) {
    const std::string path = request.value("path", "");
    if (path.rfind("/_emulator", 0) != 0) {
      out.push_back(concat(request.value("method", ""), " ", path, "?", request.value("query", "")));
    }
  }
  return out;
}

TEST_CASE("ScaleReplicaSource over the TargetWatcher against the API emulator: kubectl scale seen within a second, no GET per cycle") {
  // No token: kubectl sends none over plain HTTP (client-go keeps bearer tokens for TLS).
  testing::EmulatorProcess emulator(KUBEAI_EMULATOR_SCRIPT, {});
  KubeConfig config;
  config.server = concat("http://127.0.0.1:", std::to_string(emulator.port()));
  auto created = KubeClient::create(config);
  REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
  KubeClient& client = *created.value();

  call(client, "POST", concat(kApps, "/deployments"), workload("Deployment", "chat", 2), 201);
  call(client, "PATCH", concat(kApps, "/deployments/chat/status"), R"({"status":{"replicas":2,"readyReplicas":2}})",
       200);
  call(client, "POST", concat(kApps, "/statefulsets"), workload("StatefulSet", "db", 3), 201);

  TargetWatcherOptions options;
  options.namespaces = {"default"};
  TargetWatcher watcher(client, options);
  watcher.start();
  REQUIRE(watcher.waitSynced());

  GpuOnly inner;
  ScaleReplicaSourceOptions replicaOptions;
  replicaOptions.targets = &watcher.cache();
  ScaleReplicaSource source(inner, client, replicaOptions);
  const std::vector<core::Policy> policies = {policy("chat", "Deployment", "chat"), policy("db", "StatefulSet", "db"),
                                              policy("ghost", "Deployment", "ghost")};
  // The watches are open once each has asked for its stream.
  testing::waitUntil([&] {
    const auto requests = apiRequests(client);
    return std::count_if(requests.begin(), requests.end(),
                         [](const std::string& r) { return r.find("watch=1") != std::string::npos; }) >= 2;
  }, testing::stretched(std::chrono::seconds(10)), "both watches started");
  call(client, "POST", "/_emulator/requests/clear", "", 200);

  // Steady state: several cycles, and not one request of a Deployment or StatefulSet.
  for (int cycle = 0; cycle < 5; ++cycle) {
    auto readings = source.read(policies);
    REQUIRE(readings.size() == policies.size());
    REQUIRE(readings[0].ok());
    CHECK(readings[0].value().currentReplicas == 2);
    CHECK(readings[0].value().readyReplicas == 2);
    REQUIRE(readings[1].ok());
    CHECK(readings[1].value().currentReplicas == 3);
    CHECK(readings[1].value().readyReplicas == 0);
    REQUIRE_FALSE(readings[2].ok());
    CHECK(readings[2].error().message == "TargetNotFound: target Deployment default/ghost not found");
  }
  for (const std::string& request : apiRequests(client)) {
    CHECK_MESSAGE(request.find("watch=1") != std::string::npos, request);  // only (re)started watches, if any
  }

  // The real kubectl scales the Deployment (GET and PATCH of its /scale): seen through the watch within 1 s.
  testing::TempDir home;
  const auto kubeconfig = home.path() / "kubeconfig";
  {
    std::ofstream out(kubeconfig);
    out << "apiVersion: v1\nkind: Config\ncurrent-context: emulator\n"
        << "clusters: [{name: emulator, cluster: {server: \"" << config.server << "\"}}]\n"
        << "users: [{name: tester, user: {}}]\n"
        << "contexts: [{name: emulator, context: {cluster: emulator, user: tester, namespace: default}}]\n";
  }
  const std::string command = concat("env HOME=", home.path().string(), " KUBECONFIG=", kubeconfig.string(),
                                     " kubectl scale deployment chat --replicas=5 > ", (home.path() / "out").string(),
                                     " 2>&1");
  const int exit = std::system(command.c_str());
  if (exit != 0) {
    std::ifstream output(home.path() / "out");
    FAIL(command, ": ", std::string(std::istreambuf_iterator<char>(output), {}));
  }
  const auto scaled = std::chrono::steady_clock::now();
  testing::waitUntil([&] { return watcher.cache().lookup(TargetKind::kDeployment, "default", "chat").replicas == 5; },
                     testing::stretched(std::chrono::seconds(1)), "kubectl scale seen in the cache", nullptr,
                     std::chrono::milliseconds(1));
  const auto seenMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - scaled);
  MESSAGE("kubectl scale seen through the watch after ", seenMs.count(), " ms");
  CHECK(seenMs < testing::stretched(std::chrono::milliseconds(1000)));
  auto readings = source.read({policies[0]});
  REQUIRE(readings[0].ok());
  CHECK(readings[0].value().currentReplicas == 5);
  CHECK(readings[0].value().readyReplicas == 2);  // the new pods still starting

  // Deleted: TargetNotFound at once, with no request.
  call(client, "DELETE", concat(kApps, "/statefulsets/db"), "", 200);
  testing::waitUntil([&] {
    return watcher.cache().lookup(TargetKind::kStatefulSet, "default", "db").state == TargetLookup::State::kNotFound;
  }, testing::stretched(std::chrono::seconds(2)), "the StatefulSet's deletion seen");
  readings = source.read({policies[1]});
  REQUIRE_FALSE(readings[0].ok());
  CHECK(readings[0].error().message == "TargetNotFound: target StatefulSet default/db not found");
  watcher.stop();
}

}  // namespace
}  // namespace kubeai::kube
