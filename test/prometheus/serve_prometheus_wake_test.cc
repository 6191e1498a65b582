// Scale to zero and back, through a real Prometheus (serve_prometheus_world.h),
// with examples/policies/queue-scale-to-zero.yaml as shipped: batch/batch-queue,
// minReplicas 0, woken by the gateway's queue for its Deployment
// (gateway_queue_depth{namespace,backend}), which exists while the Deployment
// has no pod at all. Its twin batch/batch-queue-strict is the same policy
// without treatEmptyAsZero.
//
// At 0 replicas with 3 requests waiting: 3 / (5 x max(0, 1)) = 0.6 ->
// ceil(0.6) = 1, IsActive true. The gateway drops the backend's series once
// its queue drains: the example reads "no series" as 0 -> 0 replicas,
// IsActive false; the twin reads no data and holds its 1 replica. The test
// plays KEDA: it sets the Deployment's replicas (kube-state-metrics) to what
// was decided.
#include "serve_prometheus_world.h"

#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace kubeai::testing {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::string readExample(const std::string& name) {
  std::ifstream stream(std::string(KUBEAI_EXAMPLES_DIR "/policies/") + name);
  REQUIRE_MESSAGE(stream, "cannot read the example ", name);
  std::ostringstream text;
  text << stream.rdbuf();
  return text.str();
}

// The example with another name and without treatEmptyAsZero.
std::string strictTwin(std::string policy) {
  const std::string name = "name: batch-queue\n";
  REQUIRE(policy.find(name) != std::string::npos);
  policy.replace(policy.find(name), name.size(), "name: batch-queue-strict\n");
  const std::string optIn = "      treatEmptyAsZero: true\n";
  REQUIRE(policy.find(optIn) != std::string::npos);
  policy.erase(policy.find(optIn), optIn.size());
  return policy;
}

long long millisecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

TEST_CASE("a minReplicas 0 policy at 0 replicas wakes on the gateway's queue and goes back to 0 when it drains") {
  const std::string example = readExample("queue-scale-to-zero.yaml");
  World world({example, strictTwin(example)});
  // The gateway in front of the Deployment, and kube-state-metrics: no pod exports anything.
  auto& gateway = ::prometheus::BuildGauge()
                      .Name("gateway_queue_depth")
                      .Help("Requests waiting at the gateway, per backend.")
                      .Register(world.exporter.registry());
  world.exporter.setDeploymentReplicas("batch", "batch-embedder", 0);
  const std::string query = R"(sum(gateway_queue_depth{namespace="batch",backend="batch-embedder"}))";

  // Asleep, nothing waiting (the gateway exports no series for the backend): 0, inactive.
  world.prometheus->waitForValue(R"(kube_deployment_spec_replicas{namespace="batch"})", 0, kFirstDecision);
  world.waitForDesired("batch", "batch-queue", 0, kFirstDecision);
  world.waitForDesired("batch", "batch-queue-strict", 0, kFollow);
  CHECK(world.isActive("batch", "batch-queue") == false);

  // Three requests wait at the gateway: one replica wakes, IsActive says so.
  auto& waiting = gateway.Add({{"namespace", "batch"}, {"backend", "batch-embedder"}});
  waiting.Set(3);
  const auto queued = Clock::now();
  world.waitForDesired("batch", "batch-queue", 1, kFollow);
  MESSAGE("woken: desired 1 ", millisecondsSince(queued),
          " ms after the gateway's queue held requests (scrape 1 s, --evaluation-interval 1s)");
  waitUntil([&] { return world.isActive("batch", "batch-queue") == true; }, kFollow, "IsActive true");
  world.waitForDesired("batch", "batch-queue-strict", 1, kFollow);

  // KEDA scales the Deployment to 1; the queue is still there: 3 / 5 -> 1.
  world.exporter.setDeploymentReplicas("batch", "batch-embedder", 1);
  world.prometheus->waitForValue(R"(kube_deployment_spec_replicas{namespace="batch"})", 1, kFollow);
  world.waitForDesired("batch", "batch-queue", 1, kFollow);

  // The queue drains and the gateway drops the backend's series: the query is empty...
  gateway.Remove(&waiting);
  const auto drained = Clock::now();
  world.prometheus->waitForQuery(
      query, [](const nlohmann::json& data) { return data.at("result").empty(); }, kFollow);
  // ... which the example reads as 0 waiting: back to zero, inactive.
  world.waitForDesired("batch", "batch-queue", 0, kFollow);
  MESSAGE("back to 0 ", millisecondsSince(drained), " ms after the gateway dropped the queue's series");
  CHECK(world.isActive("batch", "batch-queue") == false);
  // The twin without treatEmptyAsZero: no data is not zero, it holds the 1 replica it has.
  const Answer strict = world.getMetrics("batch", "batch-queue-strict");
  CAPTURE(strict.show());
  CHECK(strict.is(1));
  CHECK(world.isActive("batch", "batch-queue-strict") == true);

  // KEDA scales it to zero (after its own cooldownPeriod), and requests come
  // again: 4 / (5 x max(0, 1)) -> 1, active: it wakes from zero a second time.
  world.exporter.setDeploymentReplicas("batch", "batch-embedder", 0);
  world.prometheus->waitForValue(R"(kube_deployment_spec_replicas{namespace="batch"})", 0, kFollow);
  gateway.Add({{"namespace", "batch"}, {"backend", "batch-embedder"}}).Set(4);
  world.prometheus->waitForValue(query, 4, kFollow);
  const auto again = Clock::now();
  world.waitForDesired("batch", "batch-queue", 1, kFollow);
  MESSAGE("woken again ", millisecondsSince(again), " ms after Prometheus had the gateway's queue again");
  CHECK(world.isActive("batch", "batch-queue") == true);
}

}  // namespace
}  // namespace kubeai::testing
