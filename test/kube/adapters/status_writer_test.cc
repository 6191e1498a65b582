#include "kube/status_writer.h"

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>

#include <nlohmann/json.hpp>

#include "../client/emulator_process.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;
using testing::RecordedRequest;
using testing::RecordingKubeClient;

constexpr const char* kStatusPath = "/apis/kubeai.io/v1alpha1/namespaces/ml/aiinferenceautoscalerpolicies/chat/status";

core::Policy makePolicy() {
  core::Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = 2;
  policy.metadata.uid = "uid-1";
  policy.metadata.resourceVersion = "41";
  return policy;
}

core::Decision makeDecision(std::int32_t desired = 3) {
  core::Decision decision;
  decision.currentReplicas = 3;
  decision.recommendedReplicas = desired;
  decision.desiredReplicas = desired;
  decision.requestedAlgorithm = "MaxRatio";
  decision.algorithm = "MaxRatio";
  decision.reason = desired == 3 ? "within tolerance" : "scale";
  return decision;
}

core::Observation observation(double latency = 100.0) {
  core::Observation seen;
  seen.currentReplicas = 3;
  seen.latencyP99Ms = latency;
  return seen;
}

// Fast retries and no pacing, so that the tests run in milliseconds.
StatusWriterOptions fastOptions() {
  StatusWriterOptions options;
  options.availableAlgorithms = {"AverageRatio", "MaxRatio", "WeightedRatio"};
  options.retryBackoff = 5ms;
  options.maxRequestsPerSecond = 0;
  options.leaderPollInterval = 10ms;
  return options;
}

std::vector<RecordedRequest> patches(const RecordingKubeClient& client) { return client.requests("PATCH"); }

nlohmann::json statusOf(const RecordedRequest& request) { return nlohmann::json::parse(request.body).at("status"); }

TEST_CASE("one merge patch on /status per change, none when only timestamps changed") {
  RecordingKubeClient client;
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();

  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  auto sent = patches(client);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].path == kStatusPath);
  CHECK(sent[0].contentType == "application/merge-patch+json");
  const auto body = nlohmann::json::parse(sent[0].body);
  CHECK(body.size() == 1);  // status only: never spec, no resourceVersion
  CHECK(body.at("status").at("lastAlgorithm") == "MaxRatio");
  CHECK(body.at("status").at("observedGeneration") == 2);

  // The same decision again (conditions built at a later time): nothing to write.
  for (int i = 0; i < 5; ++i) {
    writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  }
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 1);

  writer.onDecision(makePolicy(), makeDecision(5), observation(), std::chrono::system_clock::now());
  REQUIRE(writer.waitIdle(2s));
  sent = patches(client);
  REQUIRE(sent.size() == 2);
  CHECK(statusOf(sent[1]).at("desiredReplicas") == 5);
  CHECK(statusOf(sent[1]).contains("lastScaleTime"));
  CHECK(writer.stats().writes == 2);
}

TEST_CASE("a change of metrics alone is written at the refresh interval") {
  RecordingKubeClient client;
  StatusWriterOptions options = fastOptions();
  options.metricsRefreshInterval = 3600s;
  {
    StatusWriter writer(client, options, [] { return true; });
    writer.start();
    writer.onDecision(makePolicy(), makeDecision(), observation(100.0), std::nullopt);
    writer.onDecision(makePolicy(), makeDecision(), observation(101.0), std::nullopt);
    REQUIRE(writer.waitIdle(2s));
    writer.onDecision(makePolicy(), makeDecision(), observation(102.0), std::nullopt);
    REQUIRE(writer.waitIdle(2s));
    CHECK(patches(client).size() == 1);
  }
  client.clear();
  options.metricsRefreshInterval = 0s;
  StatusWriter writer(client, options, [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(), observation(100.0), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  writer.onDecision(makePolicy(), makeDecision(), observation(102.0), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  const auto sent = patches(client);
  REQUIRE(sent.size() == 2);
  CHECK(statusOf(sent[1]).at("currentMetrics").at("latencyP99Ms") == 102.0);
}

TEST_CASE("retried on 409 and 503, then written") {
  RecordingKubeClient client;
  std::atomic<int> calls{0};
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> {
    switch (calls++) {
      case 0: return KubeResponse{409, R"({"kind":"Status","code":409,"message":"the object has been modified"})"};
      case 1: return KubeResponse{503, R"({"kind":"Status","code":503,"message":"etcd is down"})"};
      default: return KubeResponse{200, "{}"};
    }
  });
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 3);
  CHECK(writer.stats().writes == 1);
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 3);  // written: nothing more
}

TEST_CASE("after the attempts fail the policy stays dirty for the next evaluation") {
  RecordingKubeClient client;
  std::atomic<bool> down{true};
  std::vector<std::string> errors;
  std::mutex errorsMutex;
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> {
    if (down) {
      return KubeResponse{500, R"({"kind":"Status","code":500,"message":"etcd is down"})"};
    }
    return KubeResponse{200, "{}"};
  });
  StatusWriterOptions options = fastOptions();
  options.onWriteError = [&](const std::string& key, const std::string& error) {
    const std::lock_guard lock(errorsMutex);
    errors.push_back(key + ": " + error);
  };
  StatusWriter writer(client, options, [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 3);  // maxAttempts
  {
    const std::lock_guard lock(errorsMutex);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find("ml/chat: status not written after 3 attempts") == 0);
    CHECK(errors[0].find("HTTP 500: etcd is down") != std::string::npos);
    CHECK(errors[0].find(kStatusPath) != std::string::npos);
  }
  down = false;
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);  // unchanged, but unwritten
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 4);
  CHECK(writer.stats().writes == 1);
}

TEST_CASE("writes are paced at maxRequestsPerSecond after a burst of maxBurst") {
  RecordingKubeClient client;
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> sentAt;
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> {
    const std::lock_guard lock(mutex);
    sentAt.push_back(std::chrono::steady_clock::now());
    return KubeResponse{200, "{}"};
  });
  StatusWriterOptions options = fastOptions();
  options.maxRequestsPerSecond = 2;  // one every 500 ms
  options.maxBurst = 5;
  StatusWriter writer(client, options, [] { return true; });
  writer.start();
  for (int i = 0; i < 6; ++i) {
    core::Policy policy = makePolicy();
    policy.metadata.name = "chat-" + std::to_string(i);
    writer.onDecision(policy, makeDecision(), observation(), std::nullopt);
  }
  REQUIRE(writer.waitIdle(5s));
  const std::lock_guard lock(mutex);
  REQUIRE(sentAt.size() == 6);
  // The first five at once (the bucket starts full), the sixth a gap later.
  CHECK(sentAt[4] - sentAt[0] < 400ms);
  CHECK(sentAt[5] - sentAt[0] >= 450ms);
}

TEST_CASE("a 404 drops the write, another 4xx is not retried") {
  RecordingKubeClient client;
  std::atomic<long> answer{404};
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> {
    return KubeResponse{answer.load(), R"({"kind":"Status","message":"nope"})"};
  });
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 1);

  answer = 422;
  writer.onDecision(makePolicy(), makeDecision(4), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 2);
  CHECK(writer.stats().writeFailures == 1);
}

TEST_CASE("nothing is written while not leader, everything once on gaining leadership") {
  RecordingKubeClient client;
  std::atomic<bool> leader{false};
  StatusWriter writer(client, fastOptions(), [&] { return leader.load(); });
  writer.start();
  core::Policy other = makePolicy();
  other.metadata.name = "embed";
  core::Decision unknown = makeDecision();
  unknown.requestedAlgorithm = "Foo";
  unknown.algorithmValid = false;
  writer.onDecision(makePolicy(), unknown, observation(), std::nullopt);
  writer.onDecision(other, makeDecision(), observation(), std::nullopt);
  std::this_thread::sleep_for(100ms);
  CHECK(client.requests().empty());  // no status, no Event

  leader = true;
  REQUIRE(client.waitFor("PATCH", 2, 2s));
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 2);
  CHECK(client.requests("POST").empty());  // the Event's transition happened before: not this leader's

  // Lost and gained again: the state is written once more, whatever the other leader did.
  leader = false;
  std::this_thread::sleep_for(60ms);
  leader = true;
  REQUIRE(client.waitFor("PATCH", 4, 2s));
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 4);
}

TEST_CASE("the evaluation thread never waits on a hanging API server, and writes coalesce") {
  RecordingKubeClient client;
  std::mutex gateMutex;
  std::condition_variable gate;
  bool open = false;
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> {
    std::unique_lock lock(gateMutex);
    gate.wait(lock, [&] { return open; });
    return KubeResponse{200, "{}"};
  });
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(1), observation(), std::nullopt);
  REQUIRE(client.waitFor("PATCH", 1, 2s));  // in flight, hanging

  const auto started = std::chrono::steady_clock::now();
  for (std::int32_t desired = 2; desired <= 200; ++desired) {
    writer.onDecision(makePolicy(), makeDecision(desired), observation(), std::nullopt);
  }
  CHECK(std::chrono::steady_clock::now() - started < 500ms);
  {
    const std::lock_guard lock(gateMutex);
    open = true;
  }
  gate.notify_all();
  REQUIRE(writer.waitIdle(2s));
  const auto sent = patches(client);
  REQUIRE(sent.size() == 2);  // the one in flight, then the latest only
  CHECK(statusOf(sent[1]).at("desiredReplicas") == 200);
}

TEST_CASE("Events: a Warning once per transition, a Normal on a changed decision") {
  RecordingKubeClient client;
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> { return KubeResponse{201, "{}"}; });
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  core::Decision unknown = makeDecision();
  unknown.requestedAlgorithm = "Foo";
  unknown.algorithmValid = false;
  for (int i = 0; i < 3; ++i) {
    writer.onDecision(makePolicy(), unknown, observation(), std::nullopt);
  }
  REQUIRE(writer.waitIdle(2s));
  auto posts = client.requests("POST");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].path == "/api/v1/namespaces/ml/events");
  const auto event = nlohmann::json::parse(posts[0].body);
  CHECK(event.at("type") == "Warning");
  CHECK(event.at("reason") == "UnknownAlgorithm");
  CHECK(event.at("involvedObject").at("uid") == "uid-1");
  CHECK(event.at("involvedObject").at("kind") == "AIInferenceAutoscalerPolicy");

  writer.onDecision(makePolicy(), makeDecision(5), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  posts = client.requests("POST");
  REQUIRE(posts.size() == 2);
  CHECK(nlohmann::json::parse(posts[1].body).at("message") == "desired replicas 3 -> 5: scale");
  CHECK(writer.stats().events == 2);
}

TEST_CASE("errors and invalid policies reach status") {
  RecordingKubeClient client;
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  writer.onError(makePolicy(), "target_not_found", "deployments.apps \"chat\" not found");
  writer.onInvalid("ml", "bad", 7, "spec.maxReplicas: must be >= minReplicas (2)");
  REQUIRE(writer.waitIdle(2s));
  const auto sent = patches(client);
  REQUIRE(sent.size() == 2);
  const auto notFound = statusOf(sent[0]);
  CHECK(notFound.at("conditions")[0].at("reason") == "TargetNotFound");
  CHECK_FALSE(notFound.contains("desiredReplicas"));
  CHECK(sent[1].path == "/apis/kubeai.io/v1alpha1/namespaces/ml/aiinferenceautoscalerpolicies/bad/status");
  CHECK(statusOf(sent[1]).at("conditions")[0].at("reason") == "InvalidPolicy");
  CHECK(statusOf(sent[1]).at("observedGeneration") == 7);
  CHECK(statusOf(sent[1]).at("desiredReplicas").is_null());  // a decision no longer made is deleted

  // A failed read while a decision is in force changes nothing.
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  writer.onError(makePolicy(), "metrics", "timeout");
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 3);

  // By name only (as EvaluationListener::onError): the generation last seen.
  writer.onError("ml", "chat", "stale", "metrics unavailable for 45s: timeout");
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(patches(client).size() == 4);
  const auto stale = statusOf(patches(client)[3]);
  CHECK(stale.at("conditions")[0].at("reason") == "MetricsUnavailable");
  CHECK(stale.at("observedGeneration") == 2);
  CHECK(stale.at("desiredReplicas") == 3);  // the last decision, kept
}

TEST_CASE("a removed policy is forgotten, and written afresh if it comes back") {
  RecordingKubeClient client;
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  writer.onRemoved("ml", "chat");
  core::Policy again = makePolicy();
  again.metadata.uid = "uid-2";
  writer.onDecision(again, makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).size() == 2);
}

// 2026-11-28T09:00:00Z, when a previous process (or leader) saw Ready turn True.
const core::TimePoint kNine = core::TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}) + 9h;

// The status as the API holds it after a write built at `time`.
std::string apiStatus(const core::Policy& policy, const core::Decision& decision, core::TimePoint time) {
  const PolicyStatus status = statusFromDecision(policy, decision, observation(), std::nullopt,
                                                 fastOptions().availableAlgorithms, {}, time);
  return nlohmann::json::parse(statusMergePatch(status)).at("status").dump();
}

const nlohmann::json& conditionIn(const nlohmann::json& status, const std::string& type) {
  for (const auto& condition : status.at("conditions")) {
    if (condition.at("type") == type) {
      return condition;
    }
  }
  FAIL("no condition " << type);
  return status;
}

// A fixed wall clock, an hour after kNine.
StatusWriterOptions atTen() {
  StatusWriterOptions options = fastOptions();
  options.clock = [] { return kNine + 1h; };
  return options;
}

TEST_CASE("a restarted server keeps the API's lastTransitionTime and does not rewrite an unchanged status") {
  RecordingKubeClient client;
  StatusWriter writer(client, atTen(), [] { return true; });
  writer.observeApiStatus("ml", "chat", apiStatus(makePolicy(), makeDecision(), kNine));
  writer.start();

  // The decision the API already shows: nothing to write.
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  CHECK(patches(client).empty());

  // Another decision, Ready still True: written, with Ready's time as the API had it.
  writer.onDecision(makePolicy(), makeDecision(5), observation(), kNine + 1h);
  REQUIRE(writer.waitIdle(2s));
  auto sent = patches(client);
  REQUIRE(sent.size() == 1);
  CHECK(statusOf(sent[0]).at("desiredReplicas") == 5);
  CHECK(conditionIn(statusOf(sent[0]), "Ready").at("lastTransitionTime") == "2026-11-28T09:00:00Z");
  CHECK(conditionIn(statusOf(sent[0]), "AlgorithmValid").at("lastTransitionTime") == "2026-11-28T09:00:00Z");

  // Ready turns False: now its time moves.
  writer.onError(makePolicy(), "stale", "metrics unavailable for 45s: timeout");
  REQUIRE(writer.waitIdle(2s));
  sent = patches(client);
  REQUIRE(sent.size() == 2);
  CHECK(conditionIn(statusOf(sent[1]), "Ready").at("status") == "False");
  CHECK(conditionIn(statusOf(sent[1]), "Ready").at("lastTransitionTime") == "2026-11-28T10:00:00Z");
  CHECK(conditionIn(statusOf(sent[1]), "AlgorithmValid").at("lastTransitionTime") == "2026-11-28T09:00:00Z");
}

TEST_CASE("a new leader writes only the statuses that differ from the API's, keeping its times") {
  RecordingKubeClient client;
  std::atomic<bool> leader{false};
  StatusWriter writer(client, atTen(), [&] { return leader.load(); });
  writer.start();
  core::Policy embed = makePolicy();
  embed.metadata.name = "embed";
  const std::string embedPath = "/apis/kubeai.io/v1alpha1/namespaces/ml/aiinferenceautoscalerpolicies/embed/status";
  // The other leader wrote both; this replica agrees on chat, not on embed.
  writer.observeApiStatus("ml", "chat", apiStatus(makePolicy(), makeDecision(), kNine));
  writer.observeApiStatus("ml", "embed", apiStatus(embed, makeDecision(5), kNine));
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  writer.onDecision(embed, makeDecision(), observation(), std::nullopt);
  std::this_thread::sleep_for(50ms);
  CHECK(client.requests().empty());

  leader = true;
  REQUIRE(client.waitFor("PATCH", 1, 2s));
  REQUIRE(writer.waitIdle(2s));
  std::this_thread::sleep_for(50ms);  // a second write would be sent by now
  auto sent = patches(client);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].path == embedPath);
  CHECK(statusOf(sent[0]).at("desiredReplicas") == 3);
  CHECK(conditionIn(statusOf(sent[0]), "Ready").at("lastTransitionTime") == "2026-11-28T09:00:00Z");

  SUBCASE("our own writes coming back late are not taken for the API's status") {
    writer.onDecision(embed, makeDecision(4), observation(), std::nullopt);
    REQUIRE(writer.waitIdle(2s));
    writer.onDecision(embed, makeDecision(6), observation(), std::nullopt);
    REQUIRE(writer.waitIdle(2s));
    REQUIRE(patches(client).size() == 3);
    // The watch brings the write of 4 after the write of 6 was sent.
    writer.observeApiStatus("ml", "embed", apiStatus(embed, makeDecision(4), kNine));
    writer.onDecision(embed, makeDecision(6), observation(), std::nullopt);
    REQUIRE(writer.waitIdle(2s));
    CHECK(patches(client).size() == 3);
  }
  SUBCASE("what another leader wrote meanwhile is compared with on leading again") {
    leader = false;
    std::this_thread::sleep_for(50ms);
    writer.observeApiStatus("ml", "chat", apiStatus(makePolicy(), makeDecision(7), kNine));  // differs now
    writer.observeApiStatus("ml", "embed", apiStatus(embed, makeDecision(), kNine));       // agrees
    leader = true;
    REQUIRE(client.waitFor("PATCH", 2, 2s));
    REQUIRE(writer.waitIdle(2s));
    std::this_thread::sleep_for(50ms);
    sent = patches(client);
    REQUIRE(sent.size() == 2);
    CHECK(sent[1].path == kStatusPath);
    CHECK(statusOf(sent[1]).at("desiredReplicas") == 3);
  }
}

TEST_CASE("a malformed status from the API is ignored, never thrown on") {
  RecordingKubeClient client;
  StatusWriter writer(client, atTen(), [] { return true; });
  writer.start();
  for (const char* text : {"{oops", "[]", "42", R"({"conditions":[{"type":"Ready","status":1}],"desiredReplicas":"3"})",
                           R"({"conditions":[7,{"type":"Ready","status":"True","lastTransitionTime":false}]})"}) {
    CAPTURE(text);
    CHECK_NOTHROW(writer.observeApiStatus("ml", "chat", text));
  }
  writer.onDecision(makePolicy(), makeDecision(), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  const auto sent = patches(client);
  REQUIRE(sent.size() == 1);  // what the API holds is not what we would write
  CHECK(conditionIn(statusOf(sent[0]), "Ready").at("lastTransitionTime") == "2026-11-28T10:00:00Z");
}

TEST_CASE("a write or an Event is sent with no longer a timeout than leadership is certain") {
  RecordingKubeClient client;
  client.setHandler([&](const RecordedRequest&) -> core::Result<KubeResponse> { return KubeResponse{201, "{}"}; });
  std::atomic<long> remainingMs{50};
  StatusWriterOptions options = fastOptions();
  options.leadershipRemaining = [&] { return std::chrono::milliseconds(remainingMs.load()); };
  StatusWriter writer(client, options, [] { return true; });
  writer.start();
  core::Decision unknown = makeDecision();
  unknown.requestedAlgorithm = "Foo";
  unknown.algorithmValid = false;
  writer.onDecision(makePolicy(), unknown, observation(), std::nullopt);  // a status and an Event
  REQUIRE(writer.waitIdle(2s));
  const auto sent = client.requests();
  REQUIRE(sent.size() == 2);
  for (const RecordedRequest& request : sent) {
    CAPTURE(request.method);
    CHECK(request.timeout > 0ms);
    CHECK(request.timeout <= 50ms);
  }

  // Leadership no longer certain: nothing is sent.
  remainingMs = 0;
  client.clear();
  writer.onDecision(makePolicy(), makeDecision(5), observation(), std::nullopt);  // a status and an Event
  REQUIRE(writer.waitIdle(2s));
  CHECK(client.requests().empty());
  CHECK(writer.stats().writeFailures == 1);
  CHECK(writer.stats().eventFailures == 1);
}

}  // namespace
}  // namespace kubeai::kube

// --- Against the API emulator and the real REST client ----------------------

namespace kubeai::kube {
namespace {

// test/kube/emulator/apiserver_emulator.py, beside this directory.
const std::string kEmulatorScript =
    (std::filesystem::path(__FILE__).parent_path().parent_path() / "emulator" / "apiserver_emulator.py").string();

std::unique_ptr<KubeClient> emulatorClient(int port) {
  KubeConfig config;
  config.server = testing::concat("http://127.0.0.1:", std::to_string(port));
  config.token = std::string(1, 'T');  // = "T" draws GCC 12's false -Wrestrict here
  auto client = KubeClient::create(std::move(config));
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(client).value();
}

TEST_CASE("emulator: the status patch shows in a GET of the policy, spec and generation untouched") {
  testing::EmulatorProcess emulator(kEmulatorScript, {"--token", "T"});
  auto client = emulatorClient(emulator.port());
  const std::string collection = "/apis/kubeai.io/v1alpha1/namespaces/ml/aiinferenceautoscalerpolicies";
  const nlohmann::json manifest = {
      {"apiVersion", "kubeai.io/v1alpha1"},
      {"kind", "AIInferenceAutoscalerPolicy"},
      {"metadata", {{"name", "chat"}, {"namespace", "ml"}}},
      {"spec", {{"targetRef", {{"kind", "Deployment"}, {"name", "llm"}}}, {"maxReplicas", 10}}}};
  const auto created = client->request("POST", collection, manifest.dump(), "application/json");
  REQUIRE(created.ok());
  REQUIRE(created.value().status == 201);
  const auto object = nlohmann::json::parse(created.value().body);
  core::Policy policy = makePolicy();
  policy.metadata.uid = object["metadata"]["uid"].get<std::string>();
  policy.metadata.generation = object["metadata"]["generation"].get<std::int64_t>();
  policy.metadata.resourceVersion = object["metadata"]["resourceVersion"].get<std::string>();

  StatusWriterOptions options = fastOptions();
  options.events.instance = "scaler-0";
  StatusWriter writer(*client, options, [] { return true; });
  writer.start();
  writer.onDecision(policy, makeDecision(3), observation(), std::nullopt);
  // 3 -> 5 twice: the second DesiredReplicasChanged is the same Event, counted.
  writer.onDecision(policy, makeDecision(5), observation(), std::chrono::system_clock::now());
  REQUIRE(writer.waitIdle(5s));
  writer.onDecision(policy, makeDecision(3), observation(), std::chrono::system_clock::now());
  REQUIRE(writer.waitIdle(5s));
  writer.onDecision(policy, makeDecision(5), observation(), std::chrono::system_clock::now());
  REQUIRE(writer.waitIdle(5s));
  CHECK(writer.stats().writeFailures == 0);
  CHECK(writer.stats().eventFailures == 0);

  const auto got = client->request("GET", collection + "/chat");
  REQUIRE(got.ok());
  const auto stored = nlohmann::json::parse(got.value().body);
  CHECK(stored["metadata"]["generation"] == policy.metadata.generation);
  CHECK(stored["spec"] == manifest["spec"]);
  const auto& status = stored["status"];
  CHECK(status["desiredReplicas"] == 5);
  CHECK(status["currentReplicas"] == 3);
  CHECK(status["lastAlgorithm"] == "MaxRatio");
  CHECK(status["lastScaleReason"] == "scale");
  CHECK(status["observedGeneration"] == policy.metadata.generation);
  CHECK(status.contains("lastScaleTime"));
  REQUIRE(status["conditions"].size() == 3);
  CHECK(status["conditions"][0]["type"] == "Ready");
  CHECK(status["conditions"][0]["status"] == "True");

  const auto events = client->request("GET", "/api/v1/namespaces/ml/events");
  REQUIRE(events.ok());
  const auto eventList = nlohmann::json::parse(events.value().body);
  std::vector<nlohmann::json> changed;
  for (const auto& event : eventList["items"]) {
    if (event["reason"] == "DesiredReplicasChanged") {
      changed.push_back(event);
    }
  }
  REQUIRE(changed.size() == 2);  // "3 -> 5" (twice, counted) and "5 -> 3"
  std::map<std::string, int> counts;
  for (const auto& event : changed) {
    counts[event["message"].get<std::string>()] = event["count"].get<int>();
    CHECK(event["involvedObject"]["uid"] == policy.metadata.uid);
    CHECK(event["reportingInstance"] == "scaler-0");
  }
  CHECK(counts["desired replicas 3 -> 5: scale"] == 2);
  CHECK(counts["desired replicas 5 -> 3: within tolerance"] == 1);

  // Every status write was a merge patch the server took.
  const auto log = client->request("GET", "/_emulator/requests");
  REQUIRE(log.ok());
  int statusWrites = 0;
  const auto parsedLog = nlohmann::json::parse(log.value().body);
  const auto& entries = parsedLog.is_array() ? parsedLog : parsedLog["requests"];
  for (const auto& entry : entries) {
    if (entry["path"] == collection + "/chat/status") {
      ++statusWrites;
      CHECK(entry["method"] == "PATCH");
      CHECK(entry["contentType"] == "application/merge-patch+json");
      CHECK(entry["status"] == 200);
    }
  }
  // Four decisions; the first two may coalesce into one write.
  CHECK(statusWrites >= 3);
  CHECK(statusWrites <= 4);
}

TEST_CASE("emulator: 409 and 503 on /status are retried, a deleted policy's write dropped") {
  testing::EmulatorProcess emulator(kEmulatorScript, {"--token", "T"});
  auto client = emulatorClient(emulator.port());
  const std::string collection = "/apis/kubeai.io/v1alpha1/namespaces/ml/aiinferenceautoscalerpolicies";
  const nlohmann::json manifest = {
      {"apiVersion", "kubeai.io/v1alpha1"},
      {"kind", "AIInferenceAutoscalerPolicy"},
      {"metadata", {{"name", "chat"}, {"namespace", "ml"}}},
      {"spec", {{"targetRef", {{"kind", "Deployment"}, {"name", "llm"}}}, {"maxReplicas", 10}}}};
  REQUIRE(client->request("POST", collection, manifest.dump(), "application/json").value().status == 201);
  REQUIRE(client->request("POST", "/_emulator/fail?status=409&count=1&path=/status").value().status == 200);
  REQUIRE(client->request("POST", "/_emulator/fail?status=503&count=1&path=/status").value().status == 200);

  StatusWriter writer(*client, fastOptions(), [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(4), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(5s));
  CHECK(writer.stats().writes == 1);
  const auto stored = nlohmann::json::parse(client->request("GET", collection + "/chat").value().body);
  CHECK(stored["status"]["desiredReplicas"] == 4);

  REQUIRE(client->request("DELETE", collection + "/chat").value().status == 200);
  writer.onDecision(makePolicy(), makeDecision(6), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(5s));
  writer.onDecision(makePolicy(), makeDecision(6), observation(), std::nullopt);  // not again
  REQUIRE(writer.waitIdle(5s));
  int notFound = 0;
  const auto log = nlohmann::json::parse(client->request("GET", "/_emulator/requests").value().body);
  for (const auto& entry : log) {
    notFound += entry["path"] == collection + "/chat/status" && entry["status"] == 404 ? 1 : 0;
  }
  CHECK(notFound == 1);
  CHECK(client->request("GET", collection + "/chat").value().status == 404);  // never created by a status write
}

}  // namespace
}  // namespace kubeai::kube
