#include "kube/event_recorder.h"

#include <doctest/doctest.h>

#include <atomic>

#include <nlohmann/json.hpp>

#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;
using testing::RecordedRequest;
using testing::RecordingKubeClient;

// 2026-11-28T01:00:00Z
const core::TimePoint kT0 = core::TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}) + 1h;

const PolicyReference kPolicy{"ml", "chat", "uid-1", "41"};
const PendingEvent kUnknown{EventType::kWarning, "UnknownAlgorithm", "algorithm \"Foo\" not found; available: MaxRatio; using MaxRatio"};

EventRecorderOptions recorderOptions() {
  EventRecorderOptions options;
  options.component = "kubeai-scaler";
  options.instance = "scaler-0_abc";
  options.aggregationWindow = 600s;
  options.requestTimeout = 1s;
  return options;
}

struct Fixture {
  RecordingKubeClient client;
  core::TimePoint now = kT0;
  EventRecorder recorder{client, recorderOptions(), [this] { return now; }};
};

TEST_CASE("a new Event names the policy, its reason and the reporter") {
  Fixture fixture;
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  const auto posts = fixture.client.requests("POST");
  REQUIRE(posts.size() == 1);
  CHECK(posts[0].path == "/api/v1/namespaces/ml/events");
  CHECK(posts[0].contentType == "application/json");
  const auto event = nlohmann::json::parse(posts[0].body);
  CHECK(event.at("apiVersion") == "v1");
  CHECK(event.at("kind") == "Event");
  CHECK(event.at("metadata").at("namespace") == "ml");
  CHECK(event.at("metadata").at("name").get<std::string>().rfind("chat.", 0) == 0);
  const auto& involved = event.at("involvedObject");
  CHECK(involved.at("apiVersion") == "kubeai.io/v1alpha1");
  CHECK(involved.at("kind") == "AIInferenceAutoscalerPolicy");
  CHECK(involved.at("name") == "chat");
  CHECK(involved.at("namespace") == "ml");
  CHECK(involved.at("uid") == "uid-1");
  CHECK(involved.at("resourceVersion") == "41");
  CHECK(event.at("type") == "Warning");
  CHECK(event.at("reason") == "UnknownAlgorithm");
  CHECK(event.at("message") == kUnknown.message);
  CHECK(event.at("count") == 1);
  CHECK(event.at("firstTimestamp") == "2026-11-28T01:00:00Z");
  CHECK(event.at("lastTimestamp") == "2026-11-28T01:00:00Z");
  CHECK(event.at("source").at("component") == "kubeai-scaler");
  CHECK(event.at("reportingComponent") == "kubeai-scaler");
  CHECK(event.at("reportingInstance") == "scaler-0_abc");
}

TEST_CASE("a repeat within the window raises the count, after it makes a new Event") {
  Fixture fixture;
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  const std::string name =
      nlohmann::json::parse(fixture.client.requests("POST")[0].body).at("metadata").at("name").get<std::string>();

  fixture.now += 1min;
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  fixture.now += 1min;
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  const auto patches = fixture.client.requests("PATCH");
  REQUIRE(patches.size() == 2);
  CHECK(patches[1].path == std::string("/api/v1/namespaces/ml/events/").append(name));
  CHECK(patches[1].contentType == "application/merge-patch+json");
  const auto patch = nlohmann::json::parse(patches[1].body);
  CHECK(patch.at("count") == 3);
  CHECK(patch.at("lastTimestamp") == "2026-11-28T01:02:00Z");
  CHECK(fixture.client.requests("POST").size() == 1);

  // Another message is another Event.
  REQUIRE(fixture.recorder.record(kPolicy, {EventType::kNormal, "DesiredReplicasChanged", "desired replicas 3 -> 5: x"}).ok());
  CHECK(fixture.client.requests("POST").size() == 2);

  // Quiet for longer than the window: a new Event.
  fixture.now += 11min;
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  CHECK(fixture.client.requests("POST").size() == 3);
  CHECK(fixture.client.requests("PATCH").size() == 2);
}

TEST_CASE("an Event gone from the server is made again") {
  Fixture fixture;
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  fixture.client.setHandler([](const RecordedRequest& request) -> core::Result<KubeResponse> {
    if (request.method == "PATCH") {
      return KubeResponse{404, R"({"kind":"Status","code":404,"reason":"NotFound"})"};
    }
    return KubeResponse{201, "{}"};
  });
  REQUIRE(fixture.recorder.record(kPolicy, kUnknown).ok());
  CHECK(fixture.client.requests("PATCH").size() == 1);
  REQUIRE(fixture.client.requests("POST").size() == 2);
  CHECK(nlohmann::json::parse(fixture.client.requests("POST")[1].body).at("count") == 1);
}

TEST_CASE("every request, the POST after a 404 too, is timed within the write window, none once it closed") {
  Fixture fixture;
  std::atomic<long> windowMs{50};
  EventRecorderOptions options = recorderOptions();
  options.writeWindow = [&] { return std::chrono::milliseconds(windowMs.load()); };
  EventRecorder recorder(fixture.client, options, [&] { return fixture.now; });
  REQUIRE(recorder.record(kPolicy, kUnknown).ok());
  REQUIRE(fixture.client.requests("POST").size() == 1);
  CHECK(fixture.client.requests("POST")[0].timeout == 50ms);  // the smaller of 1 s and the window

  // The aggregating PATCH finds the Event gone; the window closes meanwhile:
  // the POST that would follow is not sent.
  fixture.client.setHandler([&](const RecordedRequest& request) -> core::Result<KubeResponse> {
    if (request.method == "PATCH") {
      windowMs = 0;
      return KubeResponse{404, R"({"kind":"Status","code":404,"reason":"NotFound"})"};
    }
    return KubeResponse{201, "{}"};
  });
  const core::Status recorded = recorder.record(kPolicy, kUnknown);
  REQUIRE_FALSE(recorded.ok());
  CHECK(recorded.error().message ==
        "event UnknownAlgorithm on policy ml/chat: POST /api/v1/namespaces/ml/events: not sent: leadership lost");
  REQUIRE(fixture.client.requests("PATCH").size() == 1);
  CHECK(fixture.client.requests("PATCH")[0].timeout == 50ms);
  CHECK(fixture.client.requests("POST").size() == 1);
}

TEST_CASE("a refused Event says which, where, and the server's words") {
  Fixture fixture;
  fixture.client.setHandler([](const RecordedRequest&) -> core::Result<KubeResponse> {
    return KubeResponse{403, R"({"kind":"Status","code":403,"message":"events is forbidden: User cannot create"})"};
  });
  const core::Status recorded = fixture.recorder.record(kPolicy, kUnknown);
  REQUIRE_FALSE(recorded.ok());
  CHECK(recorded.error().message ==
        "event UnknownAlgorithm on policy ml/chat: POST /api/v1/namespaces/ml/events: HTTP 403: events is forbidden: "
        "User cannot create");

  fixture.client.setHandler([](const RecordedRequest&) -> core::Result<KubeResponse> {
    return core::Error{"POST /api/v1/namespaces/ml/events: connection refused"};
  });
  const core::Status failed = fixture.recorder.record(kPolicy, kUnknown);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message == "event UnknownAlgorithm on policy ml/chat: POST /api/v1/namespaces/ml/events: connection refused");
}

}  // namespace
}  // namespace kubeai::kube
