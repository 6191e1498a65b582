#include "kube/superseded_status.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/client/kube_time.h"
#include "kube/status_writer.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::RecordingKubeClient;

const core::TimePoint kNine = *parseTime("2026-11-28T09:00:00Z");

core::Policy makePolicy(std::int64_t generation) {
  core::Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = generation;
  policy.metadata.uid = "uid-1";
  return policy;
}

core::Decision makeDecision(std::int32_t desired) {
  core::Decision decision;
  decision.currentReplicas = 3;
  decision.recommendedReplicas = desired;
  decision.desiredReplicas = desired;
  decision.requestedAlgorithm = "MaxRatio";
  decision.algorithm = "MaxRatio";
  decision.reason = desired == 3 ? "within tolerance" : "scale";
  return decision;
}

core::Observation observation() {
  core::Observation seen;
  seen.currentReplicas = 3;
  seen.gpuUtilizationPercent = 50;
  return seen;
}

const Condition* conditionOf(const PolicyStatus& status, std::string_view type) {
  for (const Condition& condition : status.conditions) {
    if (condition.type == type) {
      return &condition;
    }
  }
  return nullptr;
}

TEST_CASE("withSuperseded: the served version's decision, and one condition saying the latest is refused") {
  const Superseded superseded{4, 3, "spec.maxReplicas: must be >= 1"};
  CHECK(supersededMessage(superseded) == "generation 4: spec.maxReplicas: must be >= 1; serving generation 3");

  const PolicyStatus decided = statusFromDecision(makePolicy(3), makeDecision(5), observation(), kNine, {}, {}, kNine);
  const PolicyStatus status = withSuperseded(decided, superseded, decided.conditions, kNine + 1h);
  // The decision is the served version's, untouched: KEDA is given it.
  CHECK(status.desiredReplicas == 5);
  CHECK(status.currentReplicas == 3);
  CHECK(status.lastScaleTime == decided.lastScaleTime);
  CHECK_FALSE(status.clearDecision);
  // The latest generation was seen: the condition is the verdict on it.
  CHECK(status.observedGeneration == 4);
  REQUIRE(status.conditions.size() == decided.conditions.size() + 1);
  const Condition& specValid = status.conditions.back();
  CHECK(specValid == Condition{"SpecValid", "False", "InvalidPolicy",
                               "generation 4: spec.maxReplicas: must be >= 1; serving generation 3",
                               "2026-11-28T10:00:00Z", 4});
  // The others are the served version's (Ready=True: it serves), generation 3.
  const Condition* ready = conditionOf(status, "Ready");
  REQUIRE(ready != nullptr);
  CHECK(ready->status == "True");
  CHECK(ready->observedGeneration == 3);

  // Built again (another cycle, another refusal of the same kind): still one SpecValid, its time
  // kept while it stays False, its message the latest.
  const Superseded again{5, 3, "spec.maxReplicas: must be >= 1"};
  const PolicyStatus next = withSuperseded(status, again, status.conditions, kNine + 2h);
  CHECK(next.conditions.size() == status.conditions.size());
  CHECK(next.conditions.back().lastTransitionTime == "2026-11-28T10:00:00Z");
  CHECK(next.conditions.back().message == "generation 5: spec.maxReplicas: must be >= 1; serving generation 3");
  CHECK(next.observedGeneration == 5);

  // The latest serves again: the condition goes, observedGeneration is that generation's.
  const PolicyStatus cleared = withoutSuperseded(next, 6);
  CHECK(conditionOf(cleared, "SpecValid") == nullptr);
  CHECK(cleared.conditions.size() == decided.conditions.size());
  CHECK(cleared.observedGeneration == 6);
  CHECK(cleared.desiredReplicas == 5);

  // A problem longer than a condition message may be is cut, the generation served kept at the end.
  const Superseded longProblem{4, 3, std::string(40'000, 'x')};
  const PolicyStatus cut = withSuperseded(decided, longProblem, {}, kNine);
  const std::string& message = cut.conditions.back().message;
  CHECK(message.size() <= kMaxConditionMessageBytes);
  CHECK(message.rfind("generation 4: xxx", 0) == 0);
  CHECK(message.find("...; serving generation 3") == message.size() - std::string("...; serving generation 3").size());
}

StatusWriterOptions fastOptions() {
  StatusWriterOptions options;
  options.retryBackoff = 5ms;
  options.maxRequestsPerSecond = 0;
  options.leaderPollInterval = 10ms;
  options.clock = [] { return kNine; };
  return options;
}

json statusAt(const RecordingKubeClient& client, std::size_t i) {
  return json::parse(client.requests("PATCH").at(i).body).at("status");
}

const json* condition(const json& status, std::string_view type) {
  for (const json& item : status.at("conditions")) {
    if (item.at("type") == type) {
      return &item;
    }
  }
  return nullptr;
}

TEST_CASE("StatusWriter: while superseded, decisions and errors keep the condition and nothing flips") {
  RecordingKubeClient client;
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  const core::Policy served = makePolicy(3);
  writer.onDecision(served, makeDecision(5), observation(), kNine);
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(client.requests("PATCH").size() == 1);
  CHECK(condition(statusAt(client, 0), "SpecValid") == nullptr);

  // Generation 4 is refused: said at once, before the next decision, with the decision kept.
  writer.onSuperseded(served, 4, "spec.maxReplicas: must be >= 1");
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(client.requests("PATCH").size() == 2);
  json status = statusAt(client, 1);
  CHECK(status.at("desiredReplicas") == 5);
  CHECK(status.at("observedGeneration") == 4);
  CHECK(status.at("lastAlgorithm") == "MaxRatio");  // the decision fields are not cleared
  REQUIRE(condition(status, "SpecValid") != nullptr);
  CHECK(condition(status, "SpecValid")->at("message") ==
        "generation 4: spec.maxReplicas: must be >= 1; serving generation 3");
  CHECK(condition(status, "Ready")->at("status") == "True");

  // Cycles go on deciding for the served version: the same decision writes nothing (the status
  // does not flip between a decision and an invalid), a new one keeps the condition.
  for (int cycle = 0; cycle < 3; ++cycle) {
    writer.onDecision(served, makeDecision(5), observation(), kNine);
    writer.onError(served, "metrics", "timeout");  // a failed read keeps the decision in force
    writer.onSuperseded(served, 4, "spec.maxReplicas: must be >= 1");  // said again: no change
  }
  REQUIRE(writer.waitIdle(2s));
  CHECK(client.requests("PATCH").size() == 2);
  writer.onDecision(served, makeDecision(7), observation(), kNine);
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(client.requests("PATCH").size() == 3);
  status = statusAt(client, 2);
  CHECK(status.at("desiredReplicas") == 7);
  CHECK(status.at("observedGeneration") == 4);
  REQUIRE(condition(status, "SpecValid") != nullptr);

  // An error that takes the decision out of force (stale metrics), by name as the loop says it:
  // Ready turns False, the condition stays, observedGeneration is still the latest.
  writer.onError("ml", "chat", "stale", "metrics unavailable for longer than 45s: timeout");
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(client.requests("PATCH").size() == 4);
  status = statusAt(client, 3);
  CHECK(condition(status, "Ready")->at("reason") == "MetricsUnavailable");
  REQUIRE(condition(status, "SpecValid") != nullptr);
  CHECK(status.at("observedGeneration") == 4);
  CHECK(status.at("desiredReplicas") == 7);

  // Fixed: generation 5 is valid and served. The condition goes at once.
  const core::Policy fixed = makePolicy(5);
  writer.onSuperseded(fixed, 5, "");
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(client.requests("PATCH").size() == 5);
  status = statusAt(client, 4);
  CHECK(condition(status, "SpecValid") == nullptr);
  CHECK(status.at("observedGeneration") == 5);
  writer.onDecision(fixed, makeDecision(7), observation(), kNine);
  REQUIRE(writer.waitIdle(2s));
  status = statusAt(client, client.requests("PATCH").size() - 1);
  CHECK(condition(status, "SpecValid") == nullptr);
  CHECK(condition(status, "Ready")->at("status") == "True");
}

TEST_CASE("StatusWriter: a policy no longer served at all is invalid, without the superseded condition") {
  RecordingKubeClient client;
  StatusWriter writer(client, fastOptions(), [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(3), makeDecision(5), observation(), kNine);
  writer.onSuperseded(makePolicy(3), 4, "spec.maxReplicas: must be >= 1");
  REQUIRE(writer.waitIdle(2s));
  writer.onInvalid("ml", "chat", 4, "spec.maxReplicas: must be >= 1");
  REQUIRE(writer.waitIdle(2s));
  json status = statusAt(client, client.requests("PATCH").size() - 1);
  CHECK(condition(status, "SpecValid") == nullptr);
  CHECK(condition(status, "Ready")->at("reason") == "InvalidPolicy");
  CHECK(status.at("desiredReplicas").is_null());
  // Valid again later (generation 6, first sight for the loop): no stale condition comes back.
  writer.onDecision(makePolicy(6), makeDecision(3), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  status = statusAt(client, client.requests("PATCH").size() - 1);
  CHECK(condition(status, "SpecValid") == nullptr);
  CHECK(status.at("observedGeneration") == 6);
}

}  // namespace
}  // namespace kubeai::kube
