// The ExternalScaler service's two push streams over real gRPC on 127.0.0.1,
// as KEDA's external-push trigger holds them (DESIGN §4): the value at once,
// then changes; open and silent while the policy has nothing to serve; NOT_FOUND
// when it goes; OK on a graceful shutdown.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/decision_store.h"
#include "server/external_scaler_service.h"
#include "service_client.h"
#include "support/wait.h"
#include "test_support.h"

namespace kubeai::server {
namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::IsActiveResponse;
using testing::ClientStream;
using testing::metrics;
using testing::openIsActive;
using testing::openMetricSpec;
using testing::readActive;
using testing::readyEntry;
using testing::scaledObject;
using testing::TestServer;
using testing::unservableEntry;

TEST_CASE("StreamIsActive: the value at once, then only changes, and the end when the policy goes") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 3));
  auto stream = openIsActive(server, scaledObject("chat", "default"));

  bool result = false;
  REQUIRE(readActive(stream, result));  // at once: nothing was published since
  CHECK(result);

  server.store.publish(readyEntry("default", "chat", 0));
  REQUIRE(readActive(stream, result));
  CHECK_FALSE(result);

  // A change KEDA cannot see through IsActive sends nothing: the next
  // message is the next visible change, not a repeat of `false`.
  auto sameValue = readyEntry("default", "chat", 0);
  sameValue.decidedAt = core::TimePoint{} + std::chrono::seconds(60);
  server.store.publish(sameValue);
  server.store.publish(readyEntry("default", "chat", 2));
  REQUIRE(readActive(stream, result));
  CHECK(result);

  // 2 -> 5 replicas: still active, no message; the removal comes next.
  server.store.publish(readyEntry("default", "chat", 5));
  server.store.remove("default", "chat");
  CHECK_FALSE(readActive(stream, result));
  const auto status = stream.reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(status.error_message() == "policy default/chat not found");
}

TEST_CASE("StreamIsActive: a policy that becomes unservable keeps the stream open, silent until it is servable") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 1));
  auto stream = openIsActive(server, scaledObject("chat", "default"));
  bool result = false;
  REQUIRE(readActive(stream, result));
  CHECK(result);

  // Stale (with its kept decision), pending, invalid: nothing is sent, the
  // stream stays. Had it finished, the next read would not be the `false`
  // published afterwards.
  auto stale = unservableEntry("default", "chat", PolicyState::kStale, "metrics failed for 45s");
  stale.decision = readyEntry("default", "chat", 0).decision;
  server.store.publish(stale);
  server.store.publish(unservableEntry("default", "chat", PolicyState::kPending, "no metrics yet"));
  server.store.publish(unservableEntry("default", "chat", PolicyState::kInvalid, "spec.maxReplicas: required"));
  server.store.publish(readyEntry("default", "chat", 0));
  REQUIRE(readActive(stream, result));
  CHECK_FALSE(result);

  // Unservable, then servable with the value last sent: nothing to send
  // (KEDA has it); the next message is the next change.
  server.store.publish(unservableEntry("default", "chat", PolicyState::kStale, "metrics failed for 45s"));
  server.store.publish(readyEntry("default", "chat", 0));
  server.store.publish(readyEntry("default", "chat", 3));
  REQUIRE(readActive(stream, result));
  CHECK(result);

  // Only an unknown policy ends it.
  server.store.remove("default", "chat");
  CHECK_FALSE(readActive(stream, result));
  CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
}

TEST_CASE("StreamIsActive opened on a pending, stale or invalid policy stays open and sends once it is servable") {
  TestServer server;
  struct Row {
    PolicyState state;
    std::string message;
  };
  const std::vector<Row> rows = {
      {PolicyState::kPending, "no metrics yet"},                      // not evaluated yet
      {PolicyState::kStale, "metrics failed for 45s"},                // metrics failed too long
      {PolicyState::kInvalid, "spec.maxReplicas: must be >= 2"},      // a bad edit, then fixed
  };
  for (const auto& row : rows) {
    CAPTURE(row.message);
    server.store.publish(unservableEntry("default", "chat", row.state, row.message));
    auto stream = openIsActive(server, scaledObject("chat", "default"));
    auto spec = openMetricSpec(server, scaledObject("chat", "default"));
    // The spec stream answers at once whatever the state (GetMetricSpec does).
    GetMetricSpecResponse specMessage;
    REQUIRE(spec.reader->Read(&specMessage));
    CHECK(specMessage.metricspecs(0).metricname() == "kubeai-chat");

    // Silent, but established: its headers come at once, so the server holds
    // it before the policy becomes servable.
    stream.reader->WaitForInitialMetadata();
    server.store.publish(readyEntry("default", "chat", 2));
    bool result = false;
    REQUIRE(readActive(stream, result));  // the first message is the servable value
    CHECK(result);
    stream.context->TryCancel();
    spec.context->TryCancel();
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
    CHECK(spec.reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
}

TEST_CASE("StreamIsActive on an unknown policy finishes NOT_FOUND at once") {
  TestServer server;
  auto stream = openIsActive(server, scaledObject("missing", "default"));
  bool result = false;
  CHECK_FALSE(readActive(stream, result));
  const auto status = stream.reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(status.error_message() == "policy default/missing not found");
}

TEST_CASE("StreamIsActive: a burst of changes arrives coalesced, never repeating a value, ending on the latest") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 1));
  auto stream = openIsActive(server, scaledObject("chat", "default"));
  bool result = false;
  REQUIRE(readActive(stream, result));
  REQUIRE(result);

  // Publishing is not held up by the stream: the writes coalesce behind it.
  for (int i = 0; i < 2000; ++i) {
    server.store.publish(readyEntry("default", "chat", i % 2));  // 0, 1, 0, ... 1: ends active
  }
  server.store.remove("default", "chat");
  std::vector<bool> seen{true};
  while (readActive(stream, result)) {
    seen.push_back(result);
  }
  CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  for (std::size_t i = 1; i < seen.size(); ++i) {
    CHECK(seen[i] != seen[i - 1]);
  }
  // The values on their way when the policy went are delivered before the
  // status, so the last one is the latest: active. (When the burst coalesced
  // to nothing, that is the first message.)
  CHECK(seen.back() == true);
  MESSAGE("2000 changes arrived as " << seen.size() - 1 << " messages");
}

TEST_CASE("StreamMetricSpec: the spec at once, silence while the policy stays, NOT_FOUND when it goes") {
  TestServer server;
  server.store.publish(readyEntry("team", "chat", 1));
  auto stream = openMetricSpec(server, scaledObject("frontend", "team", {{"policyName", "chat"}}));
  GetMetricSpecResponse message;
  REQUIRE(stream.reader->Read(&message));
  REQUIRE(message.metricspecs_size() == 1);
  CHECK(message.metricspecs(0).metricname() == "kubeai-chat");
  CHECK(message.metricspecs(0).targetsize() == 1);
  CHECK(message.metricspecs(0).targetsizefloat() == 1.0);

  // Neither the replicas nor staleness change the spec: no message, the
  // stream stays open. The removal is the next thing the client sees.
  server.store.publish(readyEntry("team", "chat", 9));
  server.store.publish(unservableEntry("team", "chat", PolicyState::kStale, "metrics failed"));
  server.store.remove("team", "chat");
  CHECK_FALSE(stream.reader->Read(&message));
  const auto status = stream.reader->Finish();
  CHECK(status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(status.error_message() == "policy team/chat not found");
}

TEST_CASE("100 streams cancelled by their clients are all finished and unsubscribed") {
  TestServer server;
  for (int i = 0; i < 10; ++i) {
    server.store.publish(readyEntry("default", testing::numbered("p", i), i));
  }
  std::vector<ClientStream<IsActiveResponse>> activeStreams;
  std::vector<ClientStream<GetMetricSpecResponse>> specStreams;
  for (int i = 0; i < 50; ++i) {
    const auto ref = scaledObject(testing::numbered("p", i % 10), "default");
    activeStreams.push_back(openIsActive(server, ref));
    specStreams.push_back(openMetricSpec(server, ref));
  }
  for (auto& stream : activeStreams) {
    bool result = false;
    REQUIRE(readActive(stream, result));
  }
  for (auto& stream : specStreams) {
    GetMetricSpecResponse message;
    REQUIRE(stream.reader->Read(&message));
  }
  CHECK(server.service().openStreams() == 100);
  CHECK(server.store.watchedPolicies() == 10);

  // Cancel while the server may be pushing: half the policies flip meanwhile.
  std::thread publisher([&] {
    for (int round = 0; round < 20; ++round) {
      for (int i = 0; i < 10; i += 2) {
        server.store.publish(readyEntry("default", testing::numbered("p", i), round % 2));
      }
    }
  });
  for (auto& stream : activeStreams) {
    stream.context->TryCancel();
  }
  for (auto& stream : specStreams) {
    stream.context->TryCancel();
  }
  publisher.join();
  for (auto& stream : activeStreams) {
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
  for (auto& stream : specStreams) {
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
  const bool allDone = server.waitObserved([](const std::vector<testing::Observed>& observed) {
    return std::count_if(observed.begin(), observed.end(), [](const auto& o) {
             return o.method == "StreamIsActive" || o.method == "StreamMetricSpec";
           }) == 100;
  });
  REQUIRE(allDone);
  for (const auto& observed : server.observed()) {
    CHECK(observed.code == grpc::StatusCode::CANCELLED);
  }
  CHECK(server.service().openStreams() == 0);
  CHECK(server.store.watchedPolicies() == 0);
}

TEST_CASE("the server shuts down cleanly with streams open") {
  auto server = std::make_unique<TestServer>();
  server->store.publish(readyEntry("default", "chat", 1));
  std::vector<ClientStream<IsActiveResponse>> streams;
  for (int i = 0; i < 20; ++i) {
    streams.push_back(openIsActive(*server, scaledObject("chat", "default")));
    bool result = false;
    REQUIRE(readActive(streams.back(), result));
  }
  auto spec = openMetricSpec(*server, scaledObject("chat", "default"));
  GetMetricSpecResponse message;
  REQUIRE(spec.reader->Read(&message));

  const auto start = std::chrono::steady_clock::now();
  server->shutdown(std::chrono::milliseconds(100));  // streams never end by themselves: cancelled at the deadline
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  CHECK(server->service().openStreams() == 0);
  CHECK(server->store.watchedPolicies() == 0);
  for (auto& stream : streams) {
    bool result = false;
    CHECK_FALSE(readActive(stream, result));
    CHECK_FALSE(stream.reader->Finish().ok());
  }
  CHECK_FALSE(spec.reader->Read(&message));
  CHECK_FALSE(spec.reader->Finish().ok());
  // A publish after shutdown reaches no stream (all unsubscribed).
  server->store.publish(readyEntry("default", "chat", 0));
  server.reset();
}

TEST_CASE("finishStreams ends every open stream with OK, new ones at once with UNAVAILABLE, so shutdown waits for none") {
  auto server = std::make_unique<TestServer>();
  server->store.publish(readyEntry("default", "chat", 1));
  std::vector<ClientStream<IsActiveResponse>> streams;
  for (int i = 0; i < 20; ++i) {
    streams.push_back(openIsActive(*server, scaledObject("chat", "default")));
    bool result = false;
    REQUIRE(readActive(streams.back(), result));
  }
  auto spec = openMetricSpec(*server, scaledObject("chat", "default"));
  GetMetricSpecResponse message;
  REQUIRE(spec.reader->Read(&message));

  // A stream on a policy with nothing to serve is open too, and ends the same.
  server->store.publish(unservableEntry("default", "waiting", PolicyState::kPending, "no metrics yet"));
  auto waiting = openIsActive(*server, scaledObject("waiting", "default"));
  // It sends nothing: wait until the server has it (21 opened before it).
  kubeai::testing::waitUntil([&] { return server->service().openStreams() == 22; }, testing::kDeadline,
                             "the server to hold the waiting stream");

  // OK: KEDA's push loop resets its back-off only on a clean end.
  server->service().finishStreams();
  for (auto& stream : streams) {
    bool result = false;
    CHECK_FALSE(readActive(stream, result));
    const grpc::Status status = stream.reader->Finish();
    CHECK(status.error_code() == grpc::StatusCode::OK);
  }
  bool waitingResult = false;
  CHECK_FALSE(readActive(waiting, waitingResult));
  CHECK(waiting.reader->Finish().error_code() == grpc::StatusCode::OK);
  CHECK_FALSE(spec.reader->Read(&message));
  CHECK(spec.reader->Finish().error_code() == grpc::StatusCode::OK);

  // Opened after: it got nothing, so not a clean end; KEDA backs off.
  auto late = openIsActive(*server, scaledObject("chat", "default"));
  bool result = false;
  CHECK_FALSE(readActive(late, result));
  const grpc::Status lateStatus = late.reader->Finish();
  CHECK(lateStatus.error_code() == grpc::StatusCode::UNAVAILABLE);
  CHECK(lateStatus.error_message() == "server shutting down");
  // Unary calls still answer until the server stops.
  CHECK(metrics(*server, scaledObject("chat", "default"), "kubeai-chat").status.ok());

  // Nothing is left for Shutdown() to wait for: its deadline is never reached.
  const auto start = std::chrono::steady_clock::now();
  server->shutdown(std::chrono::seconds(30));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
  CHECK(server->service().openStreams() == 0);
  CHECK(server->store.watchedPolicies() == 0);
}

TEST_CASE("streams survive a storm of publishes, removals and cancellations (run under ASan)") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 1));
  std::atomic<bool> stop{false};
  std::thread publisher([&] {
    int i = 0;
    while (!stop.load()) {
      if (i % 50 == 49) {
        server.store.remove("default", "chat");
      }
      server.store.publish(readyEntry("default", "chat", i % 3));
      ++i;
    }
  });
  for (int round = 0; round < 5; ++round) {
    std::vector<ClientStream<IsActiveResponse>> streams;
    for (int i = 0; i < 20; ++i) {
      streams.push_back(openIsActive(server, scaledObject("chat", "default")));
    }
    for (std::size_t i = 0; i < streams.size(); ++i) {
      bool result = false;
      // At least one read, so that the server has the call (a call cancelled
      // before it arrives never reaches the service). Some streams end by
      // themselves (NOT_FOUND during a removal); the rest are cancelled
      // mid-flight, after 1 to 4 messages.
      for (std::size_t k = 0; k <= i % 4 && readActive(streams[i], result); ++k) {
      }
      streams[i].context->TryCancel();
    }
    for (auto& stream : streams) {
      const auto status = stream.reader->Finish();
      CHECK((status.error_code() == grpc::StatusCode::CANCELLED || status.error_code() == grpc::StatusCode::NOT_FOUND));
    }
  }
  stop.store(true);
  publisher.join();
  const bool allDone = server.waitObserved([](const auto& observed) { return observed.size() == 100; });
  CAPTURE(server.observed().size());
  CAPTURE(server.service().openStreams());
  REQUIRE(allDone);
  CHECK(server.service().openStreams() == 0);
  CHECK(server.store.watchedPolicies() == 0);
}

}  // namespace
}  // namespace kubeai::server
