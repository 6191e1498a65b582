#include "kube/policy_status.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/validation.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

// 2026-11-28T01:00:00Z
const core::TimePoint kT0 = core::TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}) + 1h;

core::Policy makePolicy(std::int64_t generation = 3) {
  core::Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = generation;
  policy.metadata.uid = "uid-1";
  return policy;
}

core::Decision makeDecision(std::int32_t current = 3, std::int32_t desired = 3) {
  core::Decision decision;
  decision.currentReplicas = current;
  decision.recommendedReplicas = desired;
  decision.desiredReplicas = desired;
  decision.requestedAlgorithm = "MaxRatio";
  decision.algorithm = "MaxRatio";
  decision.reason = "within tolerance";
  return decision;
}

const std::vector<std::string> kAlgorithms = {"AverageRatio", "MaxRatio", "WeightedRatio"};

const Condition& conditionOf(const PolicyStatus& status, std::string_view type) {
  for (const Condition& condition : status.conditions) {
    if (condition.type == type) {
      return condition;
    }
  }
  FAIL("no condition " << type);
  return status.conditions.front();
}

TEST_CASE("a decision becomes the status the seed shows") {
  core::Observation observation;
  observation.currentReplicas = 3;
  observation.latencyP99Ms = 120.456;
  observation.gpuUtilizationPercent = 70.0;
  const PolicyStatus status =
      statusFromDecision(makePolicy(), makeDecision(), observation, kT0 - 10min, kAlgorithms, {}, kT0);

  CHECK(status.currentReplicas == 3);
  CHECK(status.desiredReplicas == 3);
  CHECK(status.lastAlgorithm == "MaxRatio");  // the seed's "Viewing Active Algorithms"
  CHECK(status.lastScaleReason == "within tolerance");
  CHECK(status.lastScaleTime == "2026-11-28T00:50:00Z");
  CHECK(status.observedGeneration == 3);
  REQUIRE(status.currentMetrics);
  CHECK(status.currentMetrics->latencyP99Ms == doctest::Approx(120.456));
  CHECK_FALSE(status.currentMetrics->latencyP95Ms);

  REQUIRE(status.conditions.size() == 3);
  CHECK(conditionOf(status, "Ready").status == "True");
  CHECK(conditionOf(status, "Ready").reason == "Evaluated");
  CHECK(conditionOf(status, "Ready").lastTransitionTime == "2026-11-28T01:00:00Z");
  CHECK(conditionOf(status, "Ready").observedGeneration == 3);
  CHECK(conditionOf(status, "AlgorithmValid").status == "True");
  CHECK(conditionOf(status, "ScalingLimited").status == "False");
  CHECK(conditionOf(status, "ScalingLimited").reason == "NotLimited");
}

TEST_CASE("no lastScaleTime before the first scale") {
  const PolicyStatus status = statusFromDecision(makePolicy(), makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);
  CHECK_FALSE(status.lastScaleTime);
  const auto patch = nlohmann::json::parse(statusMergePatch(status));
  CHECK_FALSE(patch["status"].contains("lastScaleTime"));  // left as the server has it
}

TEST_CASE("lastTransitionTime changes only when the condition's status does") {
  const core::Policy policy = makePolicy();
  const PolicyStatus first = statusFromDecision(policy, makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);

  // Same statuses later, with another reason and message: the times stay.
  core::Decision up = makeDecision(3, 5);
  up.reason = "scale up";
  const PolicyStatus second =
      statusFromDecision(policy, up, {}, std::nullopt, kAlgorithms, first.conditions, kT0 + 1min);
  CHECK(conditionOf(second, "Ready").lastTransitionTime == "2026-11-28T01:00:00Z");
  CHECK(conditionOf(second, "ScalingLimited").lastTransitionTime == "2026-11-28T01:00:00Z");

  // ScalingLimited turns True: its time moves, Ready's does not.
  core::Decision limited = makeDecision(5, 10);
  limited.limitedBy = core::LimitedBy::kMaxReplicas;
  const PolicyStatus third =
      statusFromDecision(policy, limited, {}, std::nullopt, kAlgorithms, second.conditions, kT0 + 2min);
  CHECK(conditionOf(third, "ScalingLimited").status == "True");
  CHECK(conditionOf(third, "ScalingLimited").lastTransitionTime == "2026-11-28T01:02:00Z");
  CHECK(conditionOf(third, "Ready").lastTransitionTime == "2026-11-28T01:00:00Z");

  // Limited by something else: still True, so the time stays.
  limited.limitedBy = core::LimitedBy::kCooldown;
  const PolicyStatus fourth =
      statusFromDecision(policy, limited, {}, std::nullopt, kAlgorithms, third.conditions, kT0 + 3min);
  CHECK(conditionOf(fourth, "ScalingLimited").reason == "Cooldown");
  CHECK(conditionOf(fourth, "ScalingLimited").lastTransitionTime == "2026-11-28T01:02:00Z");
}

TEST_CASE("AlgorithmValid lists the available algorithms for an unknown one") {
  core::Decision decision = makeDecision();
  decision.requestedAlgorithm = "Foo";
  decision.algorithmValid = false;
  const PolicyStatus status = statusFromDecision(makePolicy(), decision, {}, std::nullopt, kAlgorithms, {}, kT0);
  const Condition& valid = conditionOf(status, "AlgorithmValid");
  CHECK(valid.status == "False");
  CHECK(valid.reason == "UnknownAlgorithm");
  CHECK(valid.message == "algorithm \"Foo\" not found; available: AverageRatio, MaxRatio, WeightedRatio; using MaxRatio");
  CHECK(status.lastAlgorithm == "MaxRatio");  // the one used, not the one asked for
}

TEST_CASE("ScalingLimited names the stage that limited the decision") {
  struct Row {
    core::LimitedBy limitedBy;
    const char* status;
    const char* reason;
  };
  const Row rows[] = {
      {core::LimitedBy::kNone, "False", "NotLimited"},                 // the recommendation as it was
      {core::LimitedBy::kMinReplicas, "True", "MinReplicas"},          // clamped up
      {core::LimitedBy::kMaxReplicas, "True", "MaxReplicas"},          // clamped down
      {core::LimitedBy::kScaleUpPolicy, "True", "ScaleUpPolicy"},      // rate-limited up
      {core::LimitedBy::kScaleDownPolicy, "True", "ScaleDownPolicy"},  // rate-limited down
      {core::LimitedBy::kStabilization, "True", "Stabilization"},      // held by the window
      {core::LimitedBy::kCooldown, "True", "Cooldown"},                // held by the cooldown
  };
  for (const Row& row : rows) {
    core::Decision decision = makeDecision();
    decision.limitedBy = row.limitedBy;
    const PolicyStatus status = statusFromDecision(makePolicy(), decision, {}, std::nullopt, kAlgorithms, {}, kT0);
    CAPTURE(row.reason);
    CHECK(conditionOf(status, "ScalingLimited").status == row.status);
    CHECK(conditionOf(status, "ScalingLimited").reason == row.reason);
  }
}

// A minReplicas: 0 policy on the queue metric, read by `query` ("" = the default).
core::Policy scaleToZeroPolicy(const std::string& query) {
  core::Policy policy = makePolicy();
  policy.spec.targetRef = core::TargetRef{"apps/v1", "Deployment", "embedder"};
  policy.spec.minReplicas = 0;
  policy.spec.maxReplicas = 8;
  policy.spec.metrics.requestQueueDepth = core::RequestQueueDepthMetricSpec{true, 5.0, query};
  return policy;
}

TEST_CASE("CanWakeFromZero: a scale-to-zero policy says whether anything can wake it") {
  const core::Policy podsOnly = scaleToZeroPolicy("");  // the default query reads the target's pods
  const PolicyStatus asleep = statusFromDecision(podsOnly, makeDecision(0, 0), {}, std::nullopt, kAlgorithms, {}, kT0);
  REQUIRE(asleep.conditions.size() == 4);
  CHECK(asleep.conditions.back().type == "CanWakeFromZero");  // after Ready, AlgorithmValid, ScalingLimited
  const Condition& cannot = conditionOf(asleep, "CanWakeFromZero");
  CHECK(cannot.status == "False");
  CHECK(cannot.reason == "OnlyPodScopedMetrics");
  // The warning `validate` prints, word for word.
  const auto warning = core::scaleToZeroWakeWarning(podsOnly);
  REQUIRE(warning);
  CHECK(cannot.message == warning->toString());
  CHECK(cannot.message.find("spec.metrics.requestQueueDepth: the default query") != std::string::npos);

  // Fixed with a gateway's queue: True, and the condition's time moves.
  const core::Policy gateway =
      scaleToZeroPolicy(R"(sum(gateway_queue_depth{namespace="${namespace}",backend="${target}"}))");
  const PolicyStatus wakes =
      statusFromDecision(gateway, makeDecision(0, 0), {}, std::nullopt, kAlgorithms, asleep.conditions, kT0 + 1min);
  const Condition& can = conditionOf(wakes, "CanWakeFromZero");
  CHECK(can.status == "True");
  CHECK(can.reason == "OutsideSignal");
  CHECK(can.lastTransitionTime == "2026-11-28T01:01:00Z");
  CHECK(conditionOf(wakes, "Ready").lastTransitionTime == "2026-11-28T01:00:00Z");

  // Unchanged next cycle: no write is due.
  const PolicyStatus again =
      statusFromDecision(gateway, makeDecision(0, 0), {}, std::nullopt, kAlgorithms, wakes.conditions, kT0 + 2min);
  CHECK(conditionOf(again, "CanWakeFromZero").lastTransitionTime == "2026-11-28T01:01:00Z");
  CHECK(compareStatus(wakes, again) == StatusChange::kNone);

  // Written and read back whole, as the API holds it.
  const auto patch = nlohmann::json::parse(statusMergePatch(asleep));
  CHECK(patch["status"]["conditions"][3]["type"] == "CanWakeFromZero");
  CHECK(patch["status"]["conditions"][3]["status"] == "False");
  const auto back = parseApiStatus(patch["status"].dump());
  REQUIRE(back);
  CHECK(compareStatus(*back, asleep) == StatusChange::kNone);
}

TEST_CASE("CanWakeFromZero only for minReplicas 0") {
  core::Policy policy = scaleToZeroPolicy("");
  policy.spec.minReplicas = 1;
  const PolicyStatus status = statusFromDecision(policy, makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);
  CHECK(status.conditions.size() == 3);
  for (const Condition& condition : status.conditions) {
    CHECK(condition.type != "CanWakeFromZero");
  }
}

TEST_CASE("a decision held because the plugin's process failed says PluginCrashed in Ready") {
  core::Decision decision = makeDecision();
  decision.algorithmError = "plugin SegvPlugin (segv.so) crashed: SIGSEGV";
  decision.algorithmErrorReason = "PluginCrashed";
  const PolicyStatus status = statusFromDecision(makePolicy(), decision, {}, std::nullopt, kAlgorithms, {}, kT0);
  CHECK(conditionOf(status, "Ready").status == "True");
  CHECK(conditionOf(status, "Ready").reason == "PluginCrashed");
  const PolicyStatus evaluated =
      statusFromDecision(makePolicy(), makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);
  CHECK(conditionOf(evaluated, "Ready").reason == "Evaluated");
}

TEST_CASE("errors set Ready=False with their reason and keep the rest") {
  const PolicyStatus ready = statusFromDecision(makePolicy(), makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);
  struct Row {
    const char* errorType;
    const char* reason;
  };
  const Row rows[] = {
      {"stale", "MetricsUnavailable"},      // no good read for staleAfter
      {"target_not_found", "TargetNotFound"},  // /scale answered 404
      {"invalid", "InvalidPolicy"},          // refused by validation
      {"replicas", "ReplicasUnavailable"},   // /scale failed otherwise
      {"plugin_unavailable", "PluginCrashed"},  // a plugin that keeps failing: not servable
      {"surprise", "EvaluationFailed"},      // anything else
  };
  for (const Row& row : rows) {
    CAPTURE(row.errorType);
    const auto status = statusFromError(ready, 4, row.errorType, "it broke", kT0 + 1min);
    REQUIRE(status);
    CHECK(conditionOf(*status, "Ready").status == "False");
    CHECK(conditionOf(*status, "Ready").reason == row.reason);
    CHECK(conditionOf(*status, "Ready").message == "it broke");
    CHECK(conditionOf(*status, "Ready").lastTransitionTime == "2026-11-28T01:01:00Z");
    CHECK(conditionOf(*status, "Ready").observedGeneration == 4);
    CHECK(status->observedGeneration == 4);
    CHECK(conditionOf(*status, "AlgorithmValid").status == "True");  // kept
    CHECK(status->desiredReplicas == 3);                              // kept
  }
}

TEST_CASE("a failed read keeps the decision in force, or is Pending before the first") {
  const PolicyStatus ready = statusFromDecision(makePolicy(), makeDecision(), {}, std::nullopt, kAlgorithms, {}, kT0);
  CHECK_FALSE(statusFromError(ready, 3, "metrics", "timeout", kT0));
  CHECK_FALSE(statusFromError(ready, 3, "algorithm", "plugin failed", kT0));

  const auto pending = statusFromError(std::nullopt, 3, "metrics", "no series", kT0);
  REQUIRE(pending);
  CHECK(conditionOf(*pending, "Ready").reason == "Pending");
  CHECK(conditionOf(*pending, "Ready").message == "no decision yet: no series");
  CHECK_FALSE(pending->desiredReplicas);  // nothing to say yet: left as it is
}

TEST_CASE("an invalid policy: Ready=False/InvalidPolicy with the validation message") {
  const PolicyStatus status =
      statusFromInvalid(std::nullopt, 2, "spec.maxReplicas: must be >= minReplicas (2)", kT0);
  REQUIRE(status.conditions.size() == 1);
  CHECK(status.conditions[0].type == "Ready");
  CHECK(status.conditions[0].status == "False");
  CHECK(status.conditions[0].reason == "InvalidPolicy");
  CHECK(status.conditions[0].message == "spec.maxReplicas: must be >= minReplicas (2)");
  CHECK(status.observedGeneration == 2);
  const PolicyStatus again = statusFromInvalid(status, 2, "spec.maxReplicas: must be >= minReplicas (2)", kT0 + 5min);
  CHECK(again.conditions[0].lastTransitionTime == "2026-11-28T01:00:00Z");
}

TEST_CASE("an invalid policy deletes the decision fields a valid one wrote (null in the merge patch)") {
  core::Observation observation;
  observation.latencyP99Ms = 100.0;
  const PolicyStatus ready =
      statusFromDecision(makePolicy(), makeDecision(3, 5), observation, kT0 - 1h, kAlgorithms, {}, kT0);
  const PolicyStatus invalid = statusFromInvalid(ready, 4, "spec.maxReplicas: must be >= minReplicas (2)", kT0);
  const auto body = nlohmann::json::parse(statusMergePatch(invalid)).at("status");
  // A merge patch keeps what it leaves out: these must be null to go.
  for (const char* field : {"currentReplicas", "desiredReplicas", "currentMetrics", "lastAlgorithm",
                            "lastScaleReason", "decidedRatio"}) {
    CAPTURE(field);
    REQUIRE(body.contains(field));
    CHECK(body.at(field).is_null());
  }
  CHECK_FALSE(body.contains("lastScaleTime"));  // when the target was last scaled is still true
  CHECK(body.at("observedGeneration") == 4);
  REQUIRE(body.at("conditions").size() == 1);  // the list is replaced whole: AlgorithmValid etc. go too
  CHECK(body.at("conditions")[0].at("reason") == "InvalidPolicy");

  // Valid again: the decision is written, nothing deleted.
  const PolicyStatus again =
      statusFromDecision(makePolicy(5), makeDecision(), observation, std::nullopt, kAlgorithms, invalid.conditions,
                         kT0);
  const auto valid = nlohmann::json::parse(statusMergePatch(again)).at("status");
  CHECK(valid.at("desiredReplicas") == 3);
  CHECK(valid.at("lastAlgorithm") == "MaxRatio");

  // An invalid status read back from the API (the fields gone) is no change.
  const auto readBack = parseApiStatus(R"({"observedGeneration":4,"lastScaleTime":"2026-11-28T00:00:00Z",)"
                                       R"("conditions":)" + body.at("conditions").dump() + "}");
  REQUIRE(readBack);
  CHECK(compareStatus(*readBack, invalid) == StatusChange::kNone);
  // One still holding the old decision is: it must be written.
  const auto stale = parseApiStatus(R"({"observedGeneration":4,"desiredReplicas":5,"conditions":)" +
                                    body.at("conditions").dump() + "}");
  REQUIRE(stale);
  CHECK(compareStatus(*stale, invalid) == StatusChange::kSignificant);
}

TEST_CASE("parseApiStatus: the status we wrote, read back, is no change, and what is malformed is absent") {
  core::Observation observation;
  observation.latencyP99Ms = 123.456;  // written as 123.46
  observation.gpuUtilizationPercent = 70.0;
  core::Decision decision = makeDecision(3, 4);
  decision.limitedBy = core::LimitedBy::kScaleUpPolicy;
  const PolicyStatus built = statusFromDecision(makePolicy(), decision, observation, kT0, kAlgorithms, {}, kT0);
  const auto patch = nlohmann::json::parse(statusMergePatch(built));
  const auto readBack = parseApiStatus(patch.at("status").dump());
  REQUIRE(readBack);
  CHECK(compareStatus(*readBack, built) == StatusChange::kNone);
  CHECK(readBack->conditions == built.conditions);  // times and all
  CHECK(readBack->lastScaleTime == built.lastScaleTime);

  struct Row {
    const char* json;
    bool parsed;
    std::size_t conditions;
    std::optional<std::int32_t> desired;
  };
  const Row rows[] = {
      {"", true, 0, std::nullopt},                                          // no status: empty
      {"null", true, 0, std::nullopt},                                      // likewise
      {"{}", true, 0, std::nullopt},                                        // an empty object
      {"{not json", false, 0, std::nullopt},                                // malformed: ignored whole
      {"[1,2]", false, 0, std::nullopt},                                    // not an object
      {"\"text\"", false, 0, std::nullopt},                                 // not an object
      {R"({"desiredReplicas":"five"})", true, 0, std::nullopt},             // a string: absent
      {R"({"desiredReplicas":4.5})", true, 0, std::nullopt},                // not an integer: absent
      {R"({"desiredReplicas":99999999999})", true, 0, std::nullopt},        // out of int32: absent
      {R"({"desiredReplicas":18446744073709551615})", true, 0, std::nullopt},  // out of int64: absent
      {R"({"desiredReplicas":-2})", true, 0, -2},                           // taken as it is (compared)
      {R"({"conditions":"Ready"})", true, 0, std::nullopt},                 // not a list: none
      {R"({"conditions":[1,null,{"type":7,"status":"True"}]})", true, 1, std::nullopt},  // only objects
      {R"({"currentMetrics":[],"observedGeneration":"3"})", true, 0, std::nullopt},      // wrong types
  };
  for (const Row& row : rows) {
    CAPTURE(row.json);
    const auto status = parseApiStatus(row.json);
    REQUIRE(status.has_value() == row.parsed);
    if (status) {
      CHECK(status->conditions.size() == row.conditions);
      CHECK(status->desiredReplicas == row.desired);
      CHECK(status->observedGeneration == 0);
      CHECK_FALSE(status->currentMetrics);
    }
  }
  const auto odd = parseApiStatus(R"({"conditions":[{"type":7,"status":"True","lastTransitionTime":1}]})");
  REQUIRE(odd);
  CHECK(odd->conditions[0].type.empty());
  CHECK(odd->conditions[0].status == "True");
  CHECK(odd->conditions[0].lastTransitionTime.empty());
}

TEST_CASE("carryTransitions keeps a time where type and status are the same") {
  const std::vector<Condition> api = {
      {"Ready", "True", "Evaluated", "", "2026-11-28T00:00:00Z", 3},
      {"ScalingLimited", "False", "NotLimited", "", "2026-11-28T00:10:00Z", 3},
      {"AlgorithmValid", "True", "AlgorithmFound", "", "", 3},
  };
  const std::vector<Condition> next = {
      {"Ready", "True", "Evaluated", "other words", "2026-11-28T01:00:00Z", 4},            // same status: API's time
      {"ScalingLimited", "True", "MaxReplicas", "", "2026-11-28T01:00:00Z", 4},           // changed: its own
      {"AlgorithmValid", "True", "AlgorithmFound", "", "2026-11-28T01:00:00Z", 4},        // no time there: its own
  };
  const std::vector<Condition> carried = carryTransitions(next, api);
  CHECK(carried[0].lastTransitionTime == "2026-11-28T00:00:00Z");
  CHECK(carried[0].message == "other words");
  CHECK(carried[1].lastTransitionTime == "2026-11-28T01:00:00Z");
  CHECK(carried[2].lastTransitionTime == "2026-11-28T01:00:00Z");
}

TEST_CASE("compareStatus: metrics are compared as written, to two decimals") {
  const core::Policy policy = makePolicy();
  core::Observation observation;
  observation.latencyP99Ms = 100.001;
  const PolicyStatus base = statusFromDecision(policy, makeDecision(), observation, kT0, kAlgorithms, {}, kT0);
  observation.latencyP99Ms = 100.004;  // both written as 100.0
  const PolicyStatus same = statusFromDecision(policy, makeDecision(), observation, kT0, kAlgorithms, {}, kT0);
  CHECK(compareStatus(base, same) == StatusChange::kNone);
  observation.latencyP99Ms = 100.02;
  const PolicyStatus moved = statusFromDecision(policy, makeDecision(), observation, kT0, kAlgorithms, {}, kT0);
  CHECK(compareStatus(base, moved) == StatusChange::kMetricsOnly);
}

TEST_CASE("compareStatus: timestamps alone are no change") {
  const core::Policy policy = makePolicy();
  core::Observation observation;
  observation.latencyP99Ms = 100.0;
  const PolicyStatus base = statusFromDecision(policy, makeDecision(), observation, kT0, kAlgorithms, {}, kT0);

  // Condition times differ only (built afresh at another time).
  PolicyStatus later = statusFromDecision(policy, makeDecision(), observation, kT0 + 1s, kAlgorithms, {}, kT0 + 1h);
  CHECK(compareStatus(base, later) == StatusChange::kNone);

  // A metric moved.
  observation.latencyP99Ms = 101.0;
  later = statusFromDecision(policy, makeDecision(), observation, kT0, kAlgorithms, base.conditions, kT0);
  CHECK(compareStatus(base, later) == StatusChange::kMetricsOnly);

  // A metric went away: more than noise.
  observation.latencyP99Ms.reset();
  later = statusFromDecision(policy, makeDecision(), observation, kT0, kAlgorithms, base.conditions, kT0);
  CHECK(compareStatus(base, later) == StatusChange::kSignificant);

  // Desired replicas, generation, a condition.
  observation.latencyP99Ms = 100.0;
  later = statusFromDecision(policy, makeDecision(3, 4), observation, kT0, kAlgorithms, base.conditions, kT0);
  CHECK(compareStatus(base, later) == StatusChange::kSignificant);
  later = statusFromDecision(makePolicy(4), makeDecision(), observation, kT0, kAlgorithms, base.conditions, kT0);
  CHECK(compareStatus(base, later) == StatusChange::kSignificant);
  core::Decision limited = makeDecision();
  limited.limitedBy = core::LimitedBy::kMinReplicas;
  later = statusFromDecision(policy, limited, observation, kT0, kAlgorithms, base.conditions, kT0);
  CHECK(compareStatus(base, later) == StatusChange::kSignificant);
}

TEST_CASE("the merge patch holds status only, conditions whole, absent metrics as null") {
  core::Observation observation;
  observation.latencyP99Ms = 123.456;
  const PolicyStatus status = statusFromDecision(makePolicy(), makeDecision(), observation, kT0, kAlgorithms, {}, kT0);
  const auto patch = nlohmann::json::parse(statusMergePatch(status));
  REQUIRE(patch.size() == 1);  // no spec, no metadata (no resourceVersion)
  const auto& body = patch.at("status");
  CHECK(body.at("currentReplicas") == 3);
  CHECK(body.at("desiredReplicas") == 3);
  CHECK(body.at("lastAlgorithm") == "MaxRatio");
  CHECK(body.at("lastScaleReason") == "within tolerance");
  CHECK(body.at("lastScaleTime") == "2026-11-28T01:00:00Z");
  CHECK(body.at("observedGeneration") == 3);
  CHECK(body.at("currentMetrics").at("latencyP99Ms").get<double>() == doctest::Approx(123.46));
  CHECK(body.at("currentMetrics").at("latencyP95Ms").is_null());
  REQUIRE(body.at("conditions").size() == 3);
  const auto& ready = body.at("conditions")[0];
  CHECK(ready.at("type") == "Ready");
  CHECK(ready.at("status") == "True");
  CHECK(ready.at("reason") == "Evaluated");
  CHECK(ready.at("lastTransitionTime") == "2026-11-28T01:00:00Z");
  CHECK(ready.at("observedGeneration") == 3);
  CHECK(ready.contains("message"));
}

TEST_CASE("messages from outside: invalid UTF-8 does not throw, long ones are cut on a character") {
  const auto status = statusFromError(std::nullopt, 1, "stale", "plugin said \xff\xfe", kT0);
  REQUIRE(status);
  std::string patch;
  CHECK_NOTHROW(patch = statusMergePatch(*status));
  CHECK(patch.find("plugin said") != std::string::npos);

  const auto huge = statusFromError(std::nullopt, 1, "stale", std::string(40'000, 'x'), kT0);
  CHECK(huge->conditions[0].message.size() == kMaxConditionMessageBytes);
  CHECK(huge->conditions[0].message.ends_with("..."));

  std::string accents;
  for (int i = 0; i < 10; ++i) {
    accents += "\xc3\xa9";  // "é", two bytes
  }
  CHECK(truncateUtf8(accents, 8) == "\xc3\xa9\xc3\xa9...");  // 7 bytes: not half an "é"
  CHECK(truncateUtf8("short", 8) == "short");
}

TEST_CASE("times: RFC 3339 and MicroTime, and back") {
  CHECK(formatTime(kT0 + 1500ms) == "2026-11-28T01:00:01Z");
  CHECK(formatMicroTime(kT0 + 1500ms) == "2026-11-28T01:00:01.500000Z");
  CHECK(parseTime("2026-11-28T01:00:01.500000Z") == kT0 + 1500ms);
  CHECK(parseTime("2026-11-28T01:00:01Z") == kT0 + 1s);
  CHECK(parseTime("2026-11-28T02:00:01+01:00") == kT0 + 1s);
  CHECK_FALSE(parseTime(""));
  CHECK_FALSE(parseTime("2026-11-28 01:00:01"));
  CHECK_FALSE(parseTime("2026-13-28T01:00:01Z"));
}

TEST_CASE("Events once per transition into a bad state, and on a changed decision") {
  EventMemory memory;
  core::Decision decision = makeDecision();
  CHECK(eventsForDecision(memory, decision, kAlgorithms).empty());  // the first decision changes nothing

  decision.requestedAlgorithm = "Foo";
  decision.algorithmValid = false;
  auto events = eventsForDecision(memory, decision, kAlgorithms);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == EventType::kWarning);
  CHECK(events[0].reason == "UnknownAlgorithm");
  CHECK(events[0].message == unknownAlgorithmMessage("Foo", kAlgorithms, "MaxRatio"));
  CHECK(eventsForDecision(memory, decision, kAlgorithms).empty());  // still unknown: no repeat

  decision.algorithmValid = true;  // fixed ...
  decision.requestedAlgorithm = "MaxRatio";
  CHECK(eventsForDecision(memory, decision, kAlgorithms).empty());
  decision.algorithmValid = false;  // ... and broken again: a new transition
  decision.requestedAlgorithm = "Foo";
  CHECK(eventsForDecision(memory, decision, kAlgorithms).size() == 1);

  decision.algorithmError = "returned negative desired replicas (-1)";
  events = eventsForDecision(memory, decision, kAlgorithms);
  REQUIRE(events.size() == 1);
  CHECK(events[0].reason == "PluginError");
  CHECK(events[0].message == "algorithm MaxRatio failed, holding current replicas: returned negative desired replicas (-1)");
  CHECK(eventsForDecision(memory, decision, kAlgorithms).empty());

  // The plugin's process failed (not an error the plugin returned): PluginCrashed.
  decision.algorithmError.clear();
  CHECK(eventsForDecision(memory, decision, kAlgorithms).empty());
  decision.algorithmError = "plugin SegvPlugin (segv.so) crashed: SIGSEGV";
  decision.algorithmErrorReason = "PluginCrashed";
  events = eventsForDecision(memory, decision, kAlgorithms);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == EventType::kWarning);
  CHECK(events[0].reason == "PluginCrashed");
  CHECK(events[0].message ==
        "algorithm MaxRatio failed, holding current replicas: plugin SegvPlugin (segv.so) crashed: SIGSEGV");
  decision.algorithmErrorReason.clear();

  decision = makeDecision(3, 5);
  decision.reason = "scale up";
  events = eventsForDecision(memory, decision, kAlgorithms);
  REQUIRE(events.size() == 1);
  CHECK(events[0].type == EventType::kNormal);
  CHECK(events[0].reason == "DesiredReplicasChanged");
  CHECK(events[0].message == "desired replicas 3 -> 5: scale up");
  CHECK(eventsForDecision(memory, decision, kAlgorithms).empty());
}

}  // namespace
}  // namespace kubeai::kube
