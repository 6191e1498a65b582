// Tenancy: a ScaledObject drives its workload by a policy of its own namespace
// only, unless serve --allow-cross-namespace-policies. Over real gRPC on
// 127.0.0.1, every RPC KEDA makes, streams included.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <string>
#include <vector>

#include "server/scaled_object_ref.h"
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

// The status of each of the five RPCs with `ref`, asking for kubeai-llm.
std::vector<grpc::Status> everyRpc(TestServer& server, const ScaledObjectRef& ref) {
  std::vector<grpc::Status> statuses;
  statuses.push_back(isActive(server, ref));
  statuses.push_back(metricSpec(server, ref));
  statuses.push_back(metrics(server, ref, "kubeai-llm").status);
  {
    auto stream = openIsActive(server, ref);
    bool result = false;
    if (readActive(stream, result)) {
      stream.context->TryCancel();  // a value came: the call was accepted
      statuses.push_back(grpc::Status::OK);
      static_cast<void>(stream.reader->Finish());
    } else {
      statuses.push_back(stream.reader->Finish());
    }
  }
  {
    auto stream = openMetricSpec(server, ref);
    GetMetricSpecResponse message;
    if (stream.reader->Read(&message)) {
      stream.context->TryCancel();
      statuses.push_back(grpc::Status::OK);
      static_cast<void>(stream.reader->Finish());
    } else {
      statuses.push_back(stream.reader->Finish());
    }
  }
  return statuses;
}

TEST_CASE("a policy of another namespace is INVALID_ARGUMENT on every RPC, naming both and the flag") {
  TestServer server;
  server.store.publish(readyEntry("team-a", "llm", 4));
  server.store.publish(readyEntry("default", "llm", 2));

  struct Row {
    ScaledObjectRef ref;
    std::string message;
  };
  const std::vector<Row> rows = {
      // the reviewer's case: team-b's ScaledObject on team-a's policy
      {scaledObject("web", "team-b", {{"policyName", "llm"}, {"policyNamespace", "team-a"}}),
       "ScaledObject team-b/web may not use policy team-a/llm: policies of another namespace need serve "
       "--allow-cross-namespace-policies"},
      // an empty ScaledObject namespace is "default", as the policy's defaults read it
      {scaledObject("web", "", {{"policyName", "llm"}, {"policyNamespace", "team-a"}}),
       "ScaledObject default/web may not use policy team-a/llm: policies of another namespace need serve "
       "--allow-cross-namespace-policies"},
      // a ScaledObject's names are echoed escaped
      {scaledObject("w\neb", "team-b", {{"policyName", "llm"}, {"policyNamespace", "default"}}),
       "ScaledObject team-b/w\\x0aeb may not use policy default/llm"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.ref.ShortDebugString());
    for (const auto& status : everyRpc(server, row.ref)) {
      CAPTURE(status.error_message());
      CHECK(status.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
      CHECK(status.error_message().find(row.message) == 0);
    }
  }
}

TEST_CASE("a policy of the ScaledObject's own namespace is served, however it is named") {
  TestServer server;
  server.store.publish(readyEntry("team-a", "llm", 4));
  server.store.publish(readyEntry("default", "llm", 2));
  const std::vector<ScaledObjectRef> refs = {
      scaledObject("llm", "team-a"),                                                    // all defaulted
      scaledObject("web", "team-a", {{"policyName", "llm"}, {"policyNamespace", "team-a"}}),  // spelt out
      scaledObject("web", "", {{"policyName", "llm"}, {"policyNamespace", "default"}}),       // "" is default
  };
  for (const auto& ref : refs) {
    CAPTURE(ref.ShortDebugString());
    for (const auto& status : everyRpc(server, ref)) {
      CAPTURE(status.error_message());
      CHECK(status.ok());
    }
  }
}

TEST_CASE("--allow-cross-namespace-policies serves a policy of another namespace on every RPC") {
  TestServer server({}, /*allowCrossNamespacePolicies=*/true);
  server.store.publish(readyEntry("team-a", "llm", 4));
  const auto ref = scaledObject("web", "team-b", {{"policyName", "llm"}, {"policyNamespace", "team-a"}});
  for (const auto& status : everyRpc(server, ref)) {
    CAPTURE(status.error_message());
    CHECK(status.ok());
  }
  const auto answer = metrics(server, ref, "kubeai-llm");
  REQUIRE(answer.status.ok());
  CHECK(answer.value == 4);
  // Bad metadata stays refused, flag or not.
  const auto bad = isActive(server, scaledObject("web", "team-b", {{"policyNamespace", "Team.A"}}));
  CHECK(bad.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(bad.error_message().find("invalid scaler metadata") == 0);
}

TEST_CASE("checkPolicyNamespace") {
  struct Row {
    ScaledObjectRef ref;
    PolicyRef policy;
    bool allow;
    bool ok;
  };
  const std::vector<Row> rows = {
      {scaledObject("so", "a"), {"a", "p"}, false, true},         // same namespace
      {scaledObject("so", ""), {"default", "p"}, false, true},    // "" is default
      {scaledObject("so", "a"), {"b", "p"}, false, false},        // another namespace
      {scaledObject("so", ""), {"b", "p"}, false, false},         // default is not b
      {scaledObject("so", "a"), {"b", "p"}, true, true},          // the flag
  };
  for (const auto& row : rows) {
    CAPTURE(row.ref.ShortDebugString());
    CAPTURE(row.policy.display());
    CHECK(checkPolicyNamespace(row.ref, row.policy, row.allow).ok() == row.ok);
  }
}

}  // namespace
}  // namespace kubeai::server
