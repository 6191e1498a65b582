// The ExternalScaler service's unary calls over real gRPC on 127.0.0.1, driven
// by a client built from the same proto, as KEDA drives it (DESIGN §4). The
// streams are in external_scaler_stream_test.cc, the staleness on the clock
// in external_scaler_staleness_test.cc.
#include "server/external_scaler_service.h"

#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "server/decision_store.h"
#include "service_client.h"
#include "test_support.h"

namespace kubeai::server {
namespace {

using externalscaler::GetMetricSpecResponse;
using externalscaler::ScaledObjectRef;
using testing::isActive;
using testing::metrics;
using testing::metricSpec;
using testing::openIsActive;
using testing::openMetricSpec;
using testing::readActive;
using testing::readyEntry;
using testing::scaledObject;
using testing::TestServer;
using testing::unservableEntry;

TEST_CASE("GetMetricSpec announces kubeai-<policy> with target 1 for every known policy, whatever its state") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 3));
  server.store.publish(unservableEntry("default", "fresh", PolicyState::kPending, "not evaluated yet"));
  server.store.publish(unservableEntry("default", "old", PolicyState::kStale, "metrics failed for 2m"));
  server.store.publish(unservableEntry("default", "broken", PolicyState::kInvalid, "spec.maxReplicas: required"));
  // KEDA builds the HPA from this answer; refusing it while pending or stale
  // would leave the HPA without the metric, and `fallback` could never apply.
  for (const std::string name : {"chat", "fresh", "old", "broken"}) {
    CAPTURE(name);
    GetMetricSpecResponse response;
    const auto status = metricSpec(server, scaledObject(name, "default"), &response);
    REQUIRE(status.ok());
    REQUIRE(response.metricspecs_size() == 1);
    CHECK(response.metricspecs(0).metricname() == "kubeai-" + name);
    CHECK(response.metricspecs(0).targetsize() == 1);
    CHECK(response.metricspecs(0).targetsizefloat() == 1.0);
  }
}

TEST_CASE("scalerMetadata policyName/policyNamespace and their defaults pick the policy") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 3));
  server.store.publish(readyEntry("team", "chat", 5));
  server.store.publish(readyEntry("team", "other", 7));

  struct Row {
    ScaledObjectRef ref;
    std::string metricName;
    std::int64_t desired;
  };
  const std::vector<Row> rows = {
      // policyName defaults to the ScaledObject's name, namespace to its namespace
      {scaledObject("chat", "team"), "kubeai-chat", 5},
      // no namespace anywhere: "default"
      {scaledObject("chat", ""), "kubeai-chat", 3},
      // policyName overrides the ScaledObject's name
      {scaledObject("frontend", "team", {{"policyName", "other"}}), "kubeai-other", 7},
      // policyNamespace may name the ScaledObject's own namespace
      {scaledObject("frontend", "team", {{"policyName", "chat"}, {"policyNamespace", "team"}}), "kubeai-chat", 5},
      // ... and "default" is an empty namespace's own
      {scaledObject("frontend", "", {{"policyName", "chat"}, {"policyNamespace", "default"}}), "kubeai-chat", 3},
      // an empty value counts as not set
      {scaledObject("chat", "team", {{"policyName", ""}, {"policyNamespace", ""}}), "kubeai-chat", 5},
      // other keys (scalerAddress, ...) are ignored
      {scaledObject("chat", "team", {{"scalerAddress", "kubeai-scaler:6000"}}), "kubeai-chat", 5},
  };
  for (const auto& row : rows) {
    CAPTURE(row.ref.DebugString());
    GetMetricSpecResponse spec;
    REQUIRE(metricSpec(server, row.ref, &spec).ok());
    CHECK(spec.metricspecs(0).metricname() == row.metricName);
    const auto answer = metrics(server, row.ref, row.metricName);
    REQUIRE(answer.status.ok());
    CHECK(answer.value == row.desired);
    bool active = false;
    REQUIRE(isActive(server, row.ref, &active).ok());
    CHECK(active);
  }
}

TEST_CASE("GetMetrics returns one value, D in both fields, under the name asked for, IsActive is D > 0") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 4));
  server.store.publish(readyEntry("default", "idle", 0));

  const auto answer = metrics(server, scaledObject("chat", "default"), "kubeai-chat");
  REQUIRE(answer.status.ok());
  CHECK(answer.metricName == "kubeai-chat");
  CHECK(answer.value == 4);
  CHECK(answer.valueFloat == 4.0);

  const auto idle = metrics(server, scaledObject("idle", "default"), "kubeai-idle");
  REQUIRE(idle.status.ok());
  CHECK(idle.value == 0);
  CHECK(idle.valueFloat == 0.0);

  bool active = false;
  REQUIRE(isActive(server, scaledObject("chat", "default"), &active).ok());
  CHECK(active);
  REQUIRE(isActive(server, scaledObject("idle", "default"), &active).ok());
  CHECK_FALSE(active);
}

TEST_CASE("GetMetrics matches the metric name case-insensitively, with or without KEDA's sN- prefix") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 2));
  const auto ref = scaledObject("chat", "default");
  struct Row {
    std::string metricName;
    bool accepted;
  };
  const std::vector<Row> rows = {
      {"kubeai-chat", true},      // as GetMetricSpec announced it
      {"KUBEAI-CHAT", true},      // case changed
      {"Kubeai-Chat", true},      // mixed case
      {"s0-kubeai-chat", true},   // KEDA's trigger-index prefix, first trigger
      {"s1-kubeai-chat", true},   // second trigger
      {"s12-KUBEAI-chat", true},  // two digits, case changed
      {"S3-kubeai-chat", true},   // prefix upper-cased too
      {"kubeai-other", false},    // another policy's metric
      {"kubeai-chat2", false},    // a longer name
      {"kubeai-cha", false},      // a shorter name
      {"chat", false},            // no kubeai- prefix
      {"s-kubeai-chat", false},   // "s" without digits is not KEDA's prefix
      {"s0kubeai-chat", false},   // no dash after the index
      {"x0-kubeai-chat", false},  // not an "s"
      {"s0-s0-kubeai-chat", false},  // KEDA adds one prefix, not two
      {"", false},                // nothing
  };
  for (const auto& row : rows) {
    CAPTURE(row.metricName);
    const auto answer = metrics(server, ref, row.metricName);
    if (row.accepted) {
      REQUIRE(answer.status.ok());
      CHECK(answer.metricName == row.metricName);  // answered under the name asked for
      CHECK(answer.value == 2);
    } else {
      CHECK(answer.status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK(answer.status.error_message().find("expected \"kubeai-chat\"") != std::string::npos);
      CHECK(answer.status.error_message().find("default/chat") != std::string::npos);
      CHECK(testing::isValidUtf8(answer.status.error_message()));
    }
  }
}

TEST_CASE("an unknown policy is NOT_FOUND, named, on every RPC") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 1));
  const auto ref = scaledObject("missing", "team");
  const std::string expected = "policy team/missing not found";

  const auto active = isActive(server, ref);
  CHECK(active.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(active.error_message() == expected);

  const auto spec = metricSpec(server, ref);
  CHECK(spec.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(spec.error_message() == expected);

  const auto answer = metrics(server, ref, "kubeai-missing");
  CHECK(answer.status.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(answer.status.error_message() == expected);

  auto stream = openIsActive(server, ref);
  bool result = false;
  CHECK_FALSE(readActive(stream, result));
  const auto streamStatus = stream.reader->Finish();
  CHECK(streamStatus.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(streamStatus.error_message() == expected);

  auto specStream = openMetricSpec(server, ref);
  GetMetricSpecResponse message;
  CHECK_FALSE(specStream.reader->Read(&message));
  CHECK(specStream.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
}

// Runs every RPC with `ref` and checks each is INVALID_ARGUMENT with a valid
// UTF-8 message containing `mentions`.
void checkInvalidEverywhere(TestServer& server, const ScaledObjectRef& ref, const std::vector<std::string>& mentions,
                            std::size_t maxMessageBytes = 1024) {
  std::vector<grpc::Status> statuses;
  statuses.push_back(isActive(server, ref));
  statuses.push_back(metricSpec(server, ref));
  statuses.push_back(metrics(server, ref, "kubeai-chat").status);
  {
    auto stream = openIsActive(server, ref);
    bool result = false;
    CHECK_FALSE(readActive(stream, result));
    statuses.push_back(stream.reader->Finish());
  }
  {
    auto stream = openMetricSpec(server, ref);
    GetMetricSpecResponse message;
    CHECK_FALSE(stream.reader->Read(&message));
    statuses.push_back(stream.reader->Finish());
  }
  for (const auto& status : statuses) {
    CAPTURE(status.error_message());
    CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(testing::isValidUtf8(status.error_message()));
    CHECK(status.error_message().size() <= maxMessageBytes);
    for (const auto& mention : mentions) {
      CHECK(status.error_message().find(mention) != std::string::npos);
    }
  }
}

TEST_CASE("bad metadata is INVALID_ARGUMENT on every RPC, saying what is missing or wrong") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 1));

  SUBCASE("no policy name at all") {
    checkInvalidEverywhere(server, scaledObject("", "default"), {"no policy name", "scalerMetadata.policyName"});
  }
  SUBCASE("a policy name that is not a Kubernetes name") {
    checkInvalidEverywhere(server, scaledObject("x", "default", {{"policyName", "Chat_Bot"}}),
                           {"policy name \"Chat_Bot\" from scalerMetadata.policyName", "RFC 1123 subdomain"});
  }
  SUBCASE("a defaulted name is reported as the ScaledObject's") {
    checkInvalidEverywhere(server, scaledObject("Chat", "default"), {"policy name \"Chat\" from the ScaledObject's name (scalerMetadata.policyName not set)"});
  }
  SUBCASE("a bad namespace, and a bad name: both at once") {
    checkInvalidEverywhere(server, scaledObject("a.b..c", "Team"),
                           {"policy name \"a.b..c\"", "policy namespace \"Team\" from the ScaledObject's namespace", "RFC 1123 label"});
  }
  SUBCASE("a bad policyNamespace") {
    checkInvalidEverywhere(server, scaledObject("chat", "default", {{"policyNamespace", "team.one"}}),
                           {"policy namespace \"team.one\" from scalerMetadata.policyNamespace"});
  }
  SUBCASE("a 1 MiB metadata value is refused cheaply, and not echoed") {
    const std::string huge(std::size_t{1} << 20U, 'a');
    const auto start = std::chrono::steady_clock::now();
    checkInvalidEverywhere(server, scaledObject("x", "default", {{"policyName", huge}}),
                           {"(1048576 bytes)", "\u2026"}, 512);
    // Five round trips with 1 MiB each; the point is only that nothing is quadratic.
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(3));
  }
  SUBCASE("a long name of multi-byte characters is cut on a character boundary") {
    std::string name;
    for (int i = 0; i < 100; ++i) {
      name += "\u00e9";  // é, two bytes
    }
    name += "x";  // odd length: a cut at 64 bytes would split a character if done bytewise
    checkInvalidEverywhere(server, scaledObject("x", "default", {{"policyName", "a" + name}}), {"\u2026"}, 512);
  }
  SUBCASE("control characters are escaped, so a value cannot forge log lines") {
    checkInvalidEverywhere(server, scaledObject("x", "default", {{"policyName", "chat\nlevel=error msg=forged"}}),
                           {"chat\\x0alevel=error"});
  }
}

TEST_CASE("invalid UTF-8 in a name is refused with a valid UTF-8 status, and the server keeps serving") {
  // proto3 string fields must be UTF-8: KEDA (Go) cannot even send this, and
  // protobuf's parser refuses it on our side before the handler runs, so gRPC
  // answers with its own status (1.51: UNIMPLEMENTED, empty message). What
  // matters: no crash, a message that is valid UTF-8, the next call answered.
  // (Values that do reach the handler are escaped: see the cases above and
  // scaled_object_ref_test.cc.)
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 2));
  for (const std::string& bad : {std::string("ch\xff\xfe" "at"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    const auto status = isActive(server, scaledObject(bad, "default"));
    CHECK_FALSE(status.ok());
    CHECK(testing::isValidUtf8(status.error_message()));
    const auto inMetadata = isActive(server, scaledObject("x", "default", {{"policyName", bad}}));
    CHECK_FALSE(inMetadata.ok());
    CHECK(testing::isValidUtf8(inMetadata.error_message()));
  }
  bool active = false;
  REQUIRE(isActive(server, scaledObject("chat", "default"), &active).ok());
  CHECK(active);
}

TEST_CASE("pending, stale and invalid policies are UNAVAILABLE with the policy named") {
  TestServer server;
  struct Row {
    PolicyState state;
    std::string message;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {PolicyState::kPending, "not evaluated yet", "policy default/chat is pending: not evaluated yet"},
      {PolicyState::kStale, "metrics failed for 2m: connection refused",
       "policy default/chat is stale: metrics failed for 2m: connection refused"},
      {PolicyState::kInvalid, "spec.maxReplicas: required", "policy default/chat is invalid: spec.maxReplicas: required"},
      // a message carrying bytes from a broken file still makes a valid status
      {PolicyState::kInvalid, "bad byte \xff here", "policy default/chat is invalid: bad byte \\xff here"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.expected);
    server.store.publish(unservableEntry("default", "chat", row.state, row.message));
    const auto ref = scaledObject("chat", "default");

    const auto active = isActive(server, ref);
    CHECK(active.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(active.error_message() == row.expected);

    const auto answer = metrics(server, ref, "kubeai-chat");
    CHECK(answer.status.error_code() == grpc::StatusCode::UNAVAILABLE);
    CHECK(answer.status.error_message() == row.expected);
    CHECK(testing::isValidUtf8(answer.status.error_message()));
  }
}

TEST_CASE("every finished RPC is reported once to the observer, with its method and code") {
  TestServer server;
  server.store.publish(readyEntry("default", "chat", 1));
  CHECK(isActive(server, scaledObject("chat", "default")).ok());
  CHECK(metrics(server, scaledObject("nope", "default"), "kubeai-nope").status.error_code() ==
        grpc::StatusCode::NOT_FOUND);
  CHECK(metricSpec(server, scaledObject("", "")).error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  {
    auto stream = openIsActive(server, scaledObject("chat", "default"));
    bool result = false;
    REQUIRE(readActive(stream, result));
    server.store.remove("default", "chat");
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
  REQUIRE(server.waitObserved([](const auto& observed) { return observed.size() == 4; }));
  const auto observed = server.observed();
  CHECK(observed[0].method == "IsActive");
  CHECK(observed[0].code == grpc::StatusCode::OK);
  CHECK(observed[1].method == "GetMetrics");
  CHECK(observed[1].code == grpc::StatusCode::NOT_FOUND);
  CHECK(observed[2].method == "GetMetricSpec");
  CHECK(observed[2].code == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(observed[3].method == "StreamIsActive");
  CHECK(observed[3].code == grpc::StatusCode::NOT_FOUND);
  for (const auto& o : observed) {
    CHECK(o.seconds >= 0.0);
    CHECK(o.seconds < 5.0);
  }
}

}  // namespace
}  // namespace kubeai::server
