// status.shard: written in the merge patch, read back, compared (a policy
// written by another shard is rewritten at once); and overlapping shard
// selectors noticed: a leader that sees another shard's name on a policy it
// writes warns, once per policy per interval.
#include <doctest/doctest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kube/policy_status.h"
#include "kube/status_writer.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

const core::TimePoint kT0 = core::TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}) + 1h;
const std::vector<std::string> kAlgorithms = {"AverageRatio", "MaxRatio", "WeightedRatio"};

core::Policy makePolicy(const std::string& name = "chat") {
  core::Policy policy;
  policy.metadata.name = name;
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = 2;
  policy.metadata.uid = "uid-" + name;
  return policy;
}

core::Decision makeDecision() {
  core::Decision decision;
  decision.currentReplicas = 3;
  decision.recommendedReplicas = 3;
  decision.desiredReplicas = 3;
  decision.requestedAlgorithm = "MaxRatio";
  decision.algorithm = "MaxRatio";
  decision.reason = "within tolerance";
  return decision;
}

PolicyStatus builtFor(std::optional<std::string> shard) {
  PolicyStatus status = statusFromDecision(makePolicy(), makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);
  status.shard = std::move(shard);
  return status;
}

TEST_CASE("status.shard: in the merge patch, read back, and another shard's name is a change to write now") {
  const PolicyStatus built = builtFor("shard-a");
  const auto patch = nlohmann::json::parse(statusMergePatch(built)).at("status");
  CHECK(patch.at("shard") == "shard-a");
  const auto readBack = parseApiStatus(patch.dump());
  REQUIRE(readBack);
  CHECK(readBack->shard == std::optional<std::string>("shard-a"));
  CHECK(compareStatus(*readBack, built) == StatusChange::kNone);

  // Written by another shard, or by a scaler before sharding: rewritten at once.
  CHECK(compareStatus(builtFor("shard-b"), built) == StatusChange::kSignificant);
  CHECK(compareStatus(builtFor(std::nullopt), built) == StatusChange::kSignificant);
  // No shard configured: none written.
  CHECK_FALSE(nlohmann::json::parse(statusMergePatch(builtFor(std::nullopt))).at("status").contains("shard"));
  // From outside: a shard that is not a string is absent, never thrown on.
  const auto odd = parseApiStatus(R"({"shard": 3})");
  REQUIRE(odd);
  CHECK_FALSE(odd->shard.has_value());
}

struct Overlaps {
  std::mutex mutex;
  std::vector<std::string> seen;  // "policy: ours vs other"
  [[nodiscard]] std::vector<std::string> all() {
    const std::lock_guard lock(mutex);
    return seen;
  }
};

StatusWriterOptions shardOptions(Overlaps& overlaps, core::TimePoint& now) {
  StatusWriterOptions options;
  options.availableAlgorithms = kAlgorithms;
  options.maxRequestsPerSecond = 0;
  options.shard = "shard-a";
  options.clock = [&now] { return now; };
  options.onShardOverlap = [&overlaps](const std::string& policy, const std::string& ours, const std::string& other) {
    const std::lock_guard lock(overlaps.mutex);
    overlaps.seen.push_back(policy + ": " + ours + " vs " + other);
  };
  return options;
}

TEST_CASE("StatusWriter warns, at most every 10 minutes per policy, of a policy another shard writes too") {
  testing::RecordingKubeClient client;
  Overlaps overlaps;
  core::TimePoint now = kT0;
  StatusWriter writer(client, shardOptions(overlaps, now), [] { return true; });
  writer.onDecision(makePolicy(), makeDecision(), {}, std::nullopt);  // this leader writes ml/chat

  writer.observeApiStatus("ml", "chat", R"({"shard":"shard-b"})");
  CHECK(overlaps.all() == std::vector<std::string>{"ml/chat: shard-a vs shard-b"});
  // Every write of the other shard comes back: not a warning each.
  now += 9min;
  writer.observeApiStatus("ml", "chat", R"({"shard":"shard-b"})");
  CHECK(overlaps.all().size() == 1);
  now += 1min;
  writer.observeApiStatus("ml", "chat", R"({"shard":"shard-b"})");
  CHECK(overlaps.all() == std::vector<std::string>{"ml/chat: shard-a vs shard-b", "ml/chat: shard-a vs shard-b"});

  // Our own name, none, or "": no other shard.
  now += 1h;
  writer.observeApiStatus("ml", "chat", R"({"shard":"shard-a"})");
  writer.observeApiStatus("ml", "chat", R"({})");
  writer.observeApiStatus("ml", "chat", R"({"shard":""})");
  // A policy moved in from another shard: its old status is seen before this shard builds one.
  writer.observeApiStatus("ml", "embed", R"({"shard":"shard-b"})");
  CHECK(overlaps.all().size() == 2);
}

TEST_CASE("StatusWriter does not warn of another shard's status while not leading") {
  testing::RecordingKubeClient client;
  Overlaps overlaps;
  core::TimePoint now = kT0;
  StatusWriter writer(client, shardOptions(overlaps, now), [] { return false; });
  writer.onDecision(makePolicy(), makeDecision(), {}, std::nullopt);
  // The other replicas of this shard see their leader's status; another shard's is the leader's to notice.
  writer.observeApiStatus("ml", "chat", R"({"shard":"shard-b"})");
  CHECK(overlaps.all().empty());
}

}  // namespace
}  // namespace kubeai::kube
