// KEDA's side of the ExternalScaler contract against the real `kubeai-scaler
// serve` (a child process), with a client built from the same proto: every
// RPC with values worked out by hand, the metadata defaults, metric-name
// matching, every error code, and both streams (first message at once, a
// change of the metrics file pushed).
//
// Decisions (MaxRatio: ceil(current x value / target), clamped to min/max):
//   default/gpu      GPU 140 of 70 at 2 replicas -> ratio 2.0 -> 4
//   team-a/latency   p99 250 of 500 ms at 3 replicas -> ratio 0.5 -> 2
//   batch/idle       queue 0, minReplicas 0 -> 0 (inactive)
//   batch/wake       queue 12 of 5 per replica at 1 -> ratio 2.4 -> 3
//   default/broken-spec  minReplicas 5 > maxReplicas 2: invalid, UNAVAILABLE
//
// Stale metrics (UNAVAILABLE) cannot happen with the metrics-file source,
// which never fails a read; see serve_time_test.py (a hung Prometheus).
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "externalscaler.grpc.pb.h"
#include "serve_process.h"
#include "support/temp_dir.h"

namespace kubeai::testing {
namespace {

using externalscaler::ExternalScaler;
using externalscaler::GetMetricSpecResponse;
using externalscaler::GetMetricsRequest;
using externalscaler::GetMetricsResponse;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;
using namespace std::chrono_literals;

// A unary call answers from memory: generous, only reached when broken.
constexpr auto kRpcDeadline = 5s;
// A stream's first message must not wait for an evaluation (every 15 s here).
const auto kFirstMessage = scaled(1s);
// A change on disk is seen within 1 s (inotify), answered within 2.
const auto kReload = scaled(2s);

std::string policyYaml(const std::string& name, const std::string& ns, const std::string& metrics, int minReplicas,
                       int maxReplicas) {
  return "apiVersion: kubeai.io/v1alpha1\n"
         "kind: AIInferenceAutoscalerPolicy\n"
         "metadata:\n"
         "  name: " + name + "\n"
         "  namespace: " + ns + "\n"
         "spec:\n"
         "  targetRef:\n"
         "    kind: Deployment\n"
         "    name: workload\n"
         "  minReplicas: " + std::to_string(minReplicas) + "\n"
         "  maxReplicas: " + std::to_string(maxReplicas) + "\n"
         "  cooldownPeriod: 0\n"
         "  metrics:\n" + metrics;
}

const std::string kGpu70 = "    gpuUtilization:\n      targetPercentage: 70\n";
const std::string kP99Of500 = "    latency:\n      targetP99Ms: 500\n";
const std::string kQueue5 = "    requestQueueDepth:\n      enabled: true\n      targetDepth: 5\n";

// Written to a hidden name and renamed over the file, as editors do.
void writeAtomically(const std::filesystem::path& path, const std::string& text) {
  // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "." + std::string.
  std::string hidden = ".";
  hidden += path.filename().string();
  hidden += ".tmp";
  const auto temporary = path.parent_path() / hidden;
  std::ofstream(temporary, std::ios::binary) << text;
  std::filesystem::rename(temporary, path);
}

// `probeGpu`: see World::awaitWatches.
std::string metricsYaml(const std::string& wakeQueueDepth, const std::string& probeGpu = "70") {
  return "default/gpu:\n  currentReplicas: 2\n  gpuUtilizationPercent: 140\n"
         "team-a/latency:\n  currentReplicas: 3\n  latencyP99Ms: 250\n"
         "batch/idle:\n  currentReplicas: 0\n  requestQueueDepth: 0\n"
         "batch/wake:\n  currentReplicas: 1\n  requestQueueDepth: " +
         wakeQueueDepth +
         "\n"
         "default/probe:\n  currentReplicas: 2\n  gpuUtilizationPercent: " +
         probeGpu + "\n";
}

// A policy directory, a metrics file and a server over them, with a client.
struct World {
  TempDir dir;
  std::filesystem::path policyDir = dir.path() / "policies";
  std::filesystem::path metricsFile = dir.path() / "metrics.yaml";
  std::unique_ptr<ServeProcess> serve;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<ExternalScaler::Stub> stub;

  World() {
    std::filesystem::create_directories(policyDir);
    writeAtomically(policyDir / "gpu.yaml", policyYaml("gpu", "default", kGpu70, 1, 10));
    writeAtomically(policyDir / "latency.yaml", policyYaml("latency", "team-a", kP99Of500, 1, 10));
    writeAtomically(policyDir / "idle.yaml", policyYaml("idle", "batch", kQueue5, 0, 8));
    writeAtomically(policyDir / "wake.yaml", policyYaml("wake", "batch", kQueue5, 0, 8));
    writeAtomically(policyDir / "broken-spec.yaml", policyYaml("broken-spec", "default", kGpu70, 5, 2));
    writeAtomically(policyDir / "probe.yaml", policyYaml("probe", "default", kGpu70, 1, 10));
    writeAtomically(metricsFile, metricsYaml("12"));
    serve = std::make_unique<ServeProcess>(
        KUBEAI_SCALER_BIN,
        std::vector<std::string>{"--policy-dir", policyDir.string(), "--metrics-file", metricsFile.string(),
                                 "--evaluation-interval", "15s"},
        dir.path() / "serve.log", dir.path());
    channel = grpc::CreateChannel(serve->grpcAddress(), grpc::InsecureChannelCredentials());
    stub = ExternalScaler::NewStub(channel);
  }

  // Waits until serve sees a change of the metrics file (its last watch):
  // serve sets its watches up only after it serves (a known bug, see
  // StartupRaceTest in serve_contract_test.py), so a change made sooner would
  // be lost. default/probe goes from GPU 70 (2 replicas) to 140 (4).
  void awaitWatches();
};

ScaledObjectRef ref(const std::string& name, const std::string& ns = "default",
                    const std::map<std::string, std::string>& metadata = {}) {
  ScaledObjectRef out;
  out.set_name(name);
  out.set_namespace_(ns);
  for (const auto& [key, value] : metadata) {
    (*out.mutable_scalermetadata())[key] = value;
  }
  return out;
}

void setDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kRpcDeadline);
}

struct Metrics {
  grpc::Status status;
  GetMetricsResponse response;
};

Metrics getMetrics(World& world, const ScaledObjectRef& scaledObject, const std::string& metricName) {
  grpc::ClientContext context;
  setDeadline(context);
  GetMetricsRequest request;
  *request.mutable_scaledobjectref() = scaledObject;
  request.set_metricname(metricName);
  Metrics out;
  out.status = world.stub->GetMetrics(&context, request, &out.response);
  return out;
}

// GetMetrics' one value, checked to be the same in both fields; nullopt on an error.
std::optional<std::int64_t> desired(World& world, const ScaledObjectRef& scaledObject, const std::string& metricName) {
  const Metrics metrics = getMetrics(world, scaledObject, metricName);
  if (!metrics.status.ok()) {
    return std::nullopt;
  }
  REQUIRE(metrics.response.metricvalues_size() == 1);  // KEDA sums every value it gets
  const auto& value = metrics.response.metricvalues(0);
  CHECK(value.metricname() == metricName);  // KEDA matches the answer by the name it asked for
  CHECK(value.metricvaluefloat() == static_cast<double>(value.metricvalue()));
  return value.metricvalue();
}

void World::awaitWatches() {
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  while (std::chrono::steady_clock::now() < deadline) {
    writeAtomically(metricsFile, metricsYaml("12", "140"));
    const auto retry = std::chrono::steady_clock::now() + scaled(250ms);
    while (std::chrono::steady_clock::now() < retry) {
      if (desired(*this, ref("probe"), "kubeai-probe") == 4) {
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  FAIL("serve did not see a change of its metrics file within 10 s");
}

grpc::Status isActive(World& world, const ScaledObjectRef& scaledObject, bool* result = nullptr) {
  grpc::ClientContext context;
  setDeadline(context);
  IsActiveResponse response;
  auto status = world.stub->IsActive(&context, scaledObject, &response);
  if (result != nullptr) {
    *result = response.result();
  }
  return status;
}

grpc::Status metricSpec(World& world, const ScaledObjectRef& scaledObject, GetMetricSpecResponse* out = nullptr) {
  grpc::ClientContext context;
  setDeadline(context);
  GetMetricSpecResponse response;
  auto status = world.stub->GetMetricSpec(&context, scaledObject, &response);
  if (out != nullptr) {
    *out = response;
  }
  return status;
}

// A server stream read on its own thread, so that each message can be waited
// for with a deadline. Cancelled and joined on destruction.
template <typename Response>
class StreamCollector {
 public:
  struct Item {
    std::optional<Response> message;  // nullopt: the stream ended with `status`
    grpc::Status status;
  };

  template <typename Open>
  explicit StreamCollector(Open open) {
    context_.set_deadline(std::chrono::system_clock::now() + scaled(60s));
    reader_ = open(&context_);
    thread_ = std::thread([this] { run(); });
  }
  StreamCollector(const StreamCollector&) = delete;
  StreamCollector& operator=(const StreamCollector&) = delete;
  ~StreamCollector() {
    context_.TryCancel();
    thread_.join();
  }

  // The next message or the end; nullopt when nothing came within `timeout`.
  std::optional<Item> next(std::chrono::steady_clock::duration timeout) {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, timeout, [this] { return !items_.empty(); })) {
      return std::nullopt;
    }
    Item item = std::move(items_.front());
    items_.pop_front();
    return item;
  }

 private:
  void run() {
    Response response;
    while (reader_->Read(&response)) {
      push({response, grpc::Status::OK});
    }
    push({std::nullopt, reader_->Finish()});
  }

  void push(Item item) {
    {
      const std::lock_guard lock(mutex_);
      items_.push_back(std::move(item));
    }
    arrived_.notify_all();
  }

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<Response>> reader_;
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::deque<Item> items_;
  std::thread thread_;  // last: started once everything above exists
};

TEST_CASE("serve answers GetMetricSpec, GetMetrics and IsActive with each policy's decision") {
  World world;
  const std::vector<std::tuple<std::string, std::string, std::int64_t>> decisions = {
      {"default", "gpu", 4}, {"team-a", "latency", 2}, {"batch", "idle", 0}, {"batch", "wake", 3}};
  for (const auto& [ns, name, expected] : decisions) {
    CAPTURE(name);
    GetMetricSpecResponse spec;
    REQUIRE(metricSpec(world, ref(name, ns), &spec).ok());
    REQUIRE(spec.metricspecs_size() == 1);
    CHECK(spec.metricspecs(0).metricname() == "kubeai-" + name);
    CHECK(spec.metricspecs(0).targetsize() == 1);
    CHECK(spec.metricspecs(0).targetsizefloat() == 1.0);

    CHECK(desired(world, ref(name, ns), "kubeai-" + name) == expected);

    bool active = !(expected > 0);
    REQUIRE(isActive(world, ref(name, ns), &active).ok());
    CHECK(active == (expected > 0));
  }
  // The spec is announced for an invalid policy too: KEDA builds the HPA from
  // it, and the ScaledObject's fallback needs the metric to exist.
  GetMetricSpecResponse spec;
  REQUIRE(metricSpec(world, ref("broken-spec"), &spec).ok());
  REQUIRE(spec.metricspecs_size() == 1);
  CHECK(spec.metricspecs(0).metricname() == "kubeai-broken-spec");
}

TEST_CASE("serve picks the policy from scalerMetadata, defaulting to the ScaledObject's name and namespace") {
  World world;
  struct Row {
    ScaledObjectRef scaledObject;
    std::string metricName;
    std::int64_t desired;
  };
  const std::vector<Row> rows = {
      // no metadata: the ScaledObject's name and namespace
      {ref("latency", "team-a"), "kubeai-latency", 2},
      // no metadata and no namespace: "default"
      {ref("gpu", ""), "kubeai-gpu", 4},
      // policyName only: the ScaledObject's namespace
      {ref("frontend", "team-a", {{"policyName", "latency"}}), "kubeai-latency", 2},
      // policyName only and no namespace: "default"
      {ref("frontend", "", {{"policyName", "gpu"}}), "kubeai-gpu", 4},
      // policyNamespace only (the ScaledObject's own): the ScaledObject's name
      {ref("gpu", "default", {{"policyNamespace", "default"}}), "kubeai-gpu", 4},
      // both keys (a namespace not the ScaledObject's own needs --allow-cross-namespace-policies)
      {ref("frontend", "batch", {{"policyName", "wake"}, {"policyNamespace", "batch"}}), "kubeai-wake", 3},
      // empty values count as not set
      {ref("gpu", "default", {{"policyName", ""}, {"policyNamespace", ""}}), "kubeai-gpu", 4},
  };
  for (const auto& row : rows) {
    CAPTURE(row.scaledObject.ShortDebugString());
    GetMetricSpecResponse spec;
    REQUIRE(metricSpec(world, row.scaledObject, &spec).ok());
    REQUIRE(spec.metricspecs_size() == 1);
    CHECK(spec.metricspecs(0).metricname() == row.metricName);
    CHECK(desired(world, row.scaledObject, row.metricName) == row.desired);
    bool active = false;
    REQUIRE(isActive(world, row.scaledObject, &active).ok());
    CHECK(active == (row.desired > 0));
  }
  // The namespace counts: team-a has "latency", default has not.
  const auto status = isActive(world, ref("latency", ""));
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(status.error_message() == "policy default/latency not found");
}

TEST_CASE("serve matches the metric name in any letter case, with or without KEDA's sN- prefix") {
  World world;
  for (const std::string name : {"kubeai-gpu", "KUBEAI-GPU", "Kubeai-Gpu", "s0-kubeai-gpu", "s3-kubeai-gpu",
                                 "S3-KUBEAI-GPU", "s12-Kubeai-gpu"}) {
    CAPTURE(name);
    CHECK(desired(world, ref("gpu"), name) == 4);
  }
}

TEST_CASE("serve answers NOT_FOUND for an unknown policy on every RPC") {
  World world;
  const std::string expected = "policy default/missing not found";
  CHECK(isActive(world, ref("missing")).error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(isActive(world, ref("missing")).error_message() == expected);
  CHECK(metricSpec(world, ref("missing")).error_code() == grpc::StatusCode::NOT_FOUND);
  const Metrics metrics = getMetrics(world, ref("missing"), "kubeai-missing");
  CHECK(metrics.status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(metrics.status.error_message() == expected);

  StreamCollector<IsActiveResponse> active(
      [&](grpc::ClientContext* context) { return world.stub->StreamIsActive(context, ref("missing")); });
  auto item = active.next(kFirstMessage);
  REQUIRE(item.has_value());
  CHECK_FALSE(item->message.has_value());
  CHECK(item->status.error_code() == grpc::StatusCode::NOT_FOUND);

  StreamCollector<GetMetricSpecResponse> spec(
      [&](grpc::ClientContext* context) { return world.stub->StreamMetricSpec(context, ref("missing")); });
  auto specItem = spec.next(kFirstMessage);
  REQUIRE(specItem.has_value());
  CHECK_FALSE(specItem->message.has_value());
  CHECK(specItem->status.error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("serve answers INVALID_ARGUMENT for bad metadata and a metric name of another policy") {
  World world;
  SUBCASE("empty names") {
    const auto status = isActive(world, ref("", ""));
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(status.error_message().find("no policy name") != std::string::npos);
    CHECK(metricSpec(world, ref("", "")).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(getMetrics(world, ref("", ""), "kubeai-").status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    StreamCollector<IsActiveResponse> stream(
        [&](grpc::ClientContext* context) { return world.stub->StreamIsActive(context, ref("", "")); });
    auto item = stream.next(kFirstMessage);
    REQUIRE(item.has_value());
    CHECK(item->status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  }
  SUBCASE("a metric name of another policy") {
    for (const std::string name : {"kubeai-other", "kubeai-gpu2", "gpu", "", "s-kubeai-gpu", "x0-kubeai-gpu"}) {
      CAPTURE(name);
      const Metrics metrics = getMetrics(world, ref("gpu"), name);
      CHECK(metrics.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK(metrics.status.error_message().find("expected \"kubeai-gpu\"") != std::string::npos);
    }
  }
  SUBCASE("1 MiB metadata values, echoed cut short") {
    const std::string huge(std::size_t{1} << 20U, 'a');
    for (const std::string key : {"policyName", "policyNamespace"}) {
      CAPTURE(key);
      const auto status = isActive(world, ref("gpu", "default", {{key, huge}}));
      CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK(status.error_message().size() < 1024);
      CHECK(status.error_message().find("(1048576 bytes)") != std::string::npos);
      CHECK(getMetrics(world, ref("gpu", "default", {{key, huge}}), "kubeai-gpu").status.error_code() ==
            grpc::StatusCode::INVALID_ARGUMENT);
    }
    CHECK(desired(world, ref("gpu"), "kubeai-gpu") == 4);
  }
  SUBCASE("invalid UTF-8 never reaches the handler, and the server keeps serving") {
    // proto3 strings must be UTF-8: the request does not parse on the
    // server, and gRPC refuses it (its callback API says UNIMPLEMENTED).
    const auto status = isActive(world, ref(std::string("\xff\xfe"), "default"));
    CHECK_FALSE(status.ok());
    CHECK(desired(world, ref("gpu"), "kubeai-gpu") == 4);
  }
}

TEST_CASE("serve answers UNAVAILABLE for an invalid policy, and its stream stays open until it is fixed") {
  World world;
  world.awaitWatches();
  const Metrics metrics = getMetrics(world, ref("broken-spec"), "kubeai-broken-spec");
  CHECK(metrics.status.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(metrics.status.error_message().rfind("policy default/broken-spec is invalid: ", 0) == 0);
  CHECK(metrics.status.error_message().find("spec.maxReplicas: must be >= minReplicas (5)") != std::string::npos);
  CHECK(isActive(world, ref("broken-spec")).error_code() == grpc::StatusCode::UNAVAILABLE);

  // Silent while invalid; fixed (with metrics: GPU 140 of 70 at 2 -> 4), it
  // sends. A stream that had ended at once would show its status first.
  StreamCollector<IsActiveResponse> stream(
      [&](grpc::ClientContext* context) { return world.stub->StreamIsActive(context, ref("broken-spec")); });
  writeAtomically(world.metricsFile,
                  metricsYaml("12") + "default/broken-spec:\n  currentReplicas: 2\n  gpuUtilizationPercent: 140\n");
  writeAtomically(world.policyDir / "broken-spec.yaml", policyYaml("broken-spec", "default", kGpu70, 1, 10));
  auto item = stream.next(kReload);
  REQUIRE(item.has_value());
  REQUIRE(item->message.has_value());
  CHECK(item->message->result() == true);
  CHECK(desired(world, ref("broken-spec"), "kubeai-broken-spec") == 4);
}

TEST_CASE("StreamIsActive sends the current value at once, then each change of the metrics file") {
  World world;
  world.awaitWatches();
  StreamCollector<IsActiveResponse> stream(
      [&](grpc::ClientContext* context) { return world.stub->StreamIsActive(context, ref("wake", "batch")); });
  auto first = stream.next(kFirstMessage);
  REQUIRE(first.has_value());
  REQUIRE(first->message.has_value());
  CHECK(first->message->result() == true);

  // Still active (queue 24 -> ratio 4.8 -> 5): GetMetrics follows, the stream
  // sends nothing (only changes of IsActive are pushed).
  writeAtomically(world.metricsFile, metricsYaml("24", "140"));
  const auto deadline = std::chrono::steady_clock::now() + kReload;
  while (desired(world, ref("wake", "batch"), "kubeai-wake") != 5 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  REQUIRE(desired(world, ref("wake", "batch"), "kubeai-wake") == 5);

  // Idle: queue 0 with minReplicas 0 -> 0, pushed within 2 s.
  const auto written = std::chrono::steady_clock::now();
  writeAtomically(world.metricsFile, metricsYaml("0", "140"));
  auto pushed = stream.next(kReload);
  REQUIRE(pushed.has_value());
  REQUIRE(pushed->message.has_value());
  CHECK(pushed->message->result() == false);  // not a repeat of true for 3 -> 5
  CHECK(std::chrono::steady_clock::now() - written < kReload);
  bool active = true;
  REQUIRE(isActive(world, ref("wake", "batch"), &active).ok());
  CHECK_FALSE(active);

  // And back.
  writeAtomically(world.metricsFile, metricsYaml("12", "140"));
  auto back = stream.next(kReload);
  REQUIRE(back.has_value());
  REQUIRE(back->message.has_value());
  CHECK(back->message->result() == true);
}

TEST_CASE("StreamMetricSpec sends the current spec at once") {
  World world;
  StreamCollector<GetMetricSpecResponse> stream([&](grpc::ClientContext* context) {
    return world.stub->StreamMetricSpec(context, ref("frontend", "team-a", {{"policyName", "latency"}}));
  });
  auto first = stream.next(kFirstMessage);
  REQUIRE(first.has_value());
  REQUIRE(first->message.has_value());
  REQUIRE(first->message->metricspecs_size() == 1);
  CHECK(first->message->metricspecs(0).metricname() == "kubeai-latency");
  CHECK(first->message->metricspecs(0).targetsize() == 1);
  CHECK(first->message->metricspecs(0).targetsizefloat() == 1.0);
}

TEST_CASE("serve exits 0 on SIGTERM") {
  World world;
  CHECK(desired(world, ref("gpu"), "kubeai-gpu") == 4);
  world.stub.reset();
  world.channel.reset();  // KEDA's Go client leaves at once on the server's GOAWAY
  const auto started = std::chrono::steady_clock::now();
  CHECK(world.serve->terminate(scaled(5s)) == 0);
  CHECK(std::chrono::steady_clock::now() - started < scaled(5s));
}

TEST_CASE("SIGTERM with KEDA's streams open ends them with OK, not at the Shutdown deadline") {
  World world;
  StreamCollector<IsActiveResponse> active(
      [&](grpc::ClientContext* context) { return world.stub->StreamIsActive(context, ref("wake", "batch")); });
  StreamCollector<GetMetricSpecResponse> spec([&](grpc::ClientContext* context) {
    return world.stub->StreamMetricSpec(context, ref("frontend", "team-a", {{"policyName", "latency"}}));
  });
  REQUIRE(active.next(kFirstMessage).has_value());
  REQUIRE(spec.next(kFirstMessage).has_value());

  CHECK(world.serve->terminate(scaled(20s)) == 0);
  // Ended by serve, cleanly (cancelled at the Shutdown() deadline they would
  // be CANCELLED): KEDA's push loop resets its reconnect back-off only on a
  // clean end.
  auto activeEnd = active.next(kFirstMessage);
  REQUIRE(activeEnd.has_value());
  CHECK_FALSE(activeEnd->message.has_value());
  CHECK(activeEnd->status.error_code() == grpc::StatusCode::OK);
  auto specEnd = spec.next(kFirstMessage);
  REQUIRE(specEnd.has_value());
  CHECK_FALSE(specEnd->message.has_value());
  CHECK(specEnd->status.error_code() == grpc::StatusCode::OK);
}

}  // namespace
}  // namespace kubeai::testing
