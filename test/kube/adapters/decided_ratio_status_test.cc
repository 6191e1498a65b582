// status.decidedRatio: the ratio a decision turned on, in the policy's status
// (policy_status.h), and that its moving alone is no reason for a write per
// cycle (the status writer's kMetricsOnly rate). Apart from
// policy_status_test.cc, which is long enough.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "kube/policy_status.h"
#include "kube/status_writer.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

// 2026-11-28T01:00:00Z
const core::TimePoint kT0 = core::TimePoint(std::chrono::sys_days{std::chrono::year{2026} / 11 / 28}) + 1h;
const std::vector<std::string> kAlgorithms = {"AverageRatio", "MaxRatio", "WeightedRatio"};

core::Policy makePolicy() {
  core::Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = 3;
  policy.metadata.uid = "uid-1";
  return policy;
}

core::Decision makeDecision(std::optional<double> ratio, std::int32_t desired = 3) {
  core::Decision decision;
  decision.currentReplicas = 3;
  decision.recommendedReplicas = desired;
  decision.desiredReplicas = desired;
  decision.requestedAlgorithm = "MaxRatio";
  decision.algorithm = "MaxRatio";
  decision.reason = "within tolerance";
  decision.ratio = ratio;
  return decision;
}

core::Observation observation() {
  core::Observation seen;
  seen.currentReplicas = 3;
  seen.latencyP99Ms = 100.0;
  return seen;
}

PolicyStatus built(std::optional<double> ratio, std::int32_t desired = 3) {
  return statusFromDecision(makePolicy(), makeDecision(ratio, desired), observation(), std::nullopt, kAlgorithms, {},
                            kT0);
}

nlohmann::json patchBody(const PolicyStatus& status) {
  return nlohmann::json::parse(statusMergePatch(status)).at("status");
}

TEST_CASE("decidedRatio: taken from the decision, written with two decimals, read back as no change") {
  const PolicyStatus status = built(1.23456);
  REQUIRE(status.decidedRatio);
  CHECK(*status.decidedRatio == doctest::Approx(1.23456));
  const auto body = patchBody(status);
  REQUIRE(body.contains("decidedRatio"));
  CHECK(body.at("decidedRatio").get<double>() == 1.23);

  const auto readBack = parseApiStatus(body.dump());
  REQUIRE(readBack);
  REQUIRE(readBack->decidedRatio);
  CHECK(*readBack->decidedRatio == 1.23);
  CHECK(compareStatus(*readBack, status) == StatusChange::kNone);
}

TEST_CASE("decidedRatio: null when the decision names none, so the previous one is deleted") {
  for (const std::optional<double> none :
       {std::optional<double>(), std::optional<double>(std::numeric_limits<double>::quiet_NaN()),
        std::optional<double>(std::numeric_limits<double>::infinity()),
        std::optional<double>(std::numeric_limits<double>::max())}) {  // too large to round
    CAPTURE(none.value_or(-1.0));
    const PolicyStatus status = built(none);
    CHECK_FALSE(status.decidedRatio);  // JSON has no NaN or infinity
    const auto body = patchBody(status);
    REQUIRE(body.contains("decidedRatio"));
    CHECK(body.at("decidedRatio").is_null());
    const auto readBack = parseApiStatus(body.dump());
    REQUIRE(readBack);
    CHECK_FALSE(readBack->decidedRatio);
    CHECK(compareStatus(*readBack, status) == StatusChange::kNone);
  }
}

TEST_CASE("decidedRatio: left out without a decision, deleted for an invalid policy, kept through an error") {
  // An error before any decision: nothing decided, nothing deleted (a restart must not wipe the API's).
  const auto pending = statusFromError(std::nullopt, 3, "stale", "metrics stale", kT0);
  REQUIRE(pending);
  CHECK_FALSE(patchBody(*pending).contains("decidedRatio"));

  // A stale error after a decision: the decision in force keeps its ratio.
  const PolicyStatus ready = built(2.0);
  const auto stale = statusFromError(ready, 3, "stale", "metrics stale", kT0);
  REQUIRE(stale);
  CHECK(patchBody(*stale).at("decidedRatio").get<double>() == 2.0);

  // Invalid: a decision no longer made.
  const PolicyStatus invalid = statusFromInvalid(ready, 4, "spec.maxReplicas: must be >= minReplicas (2)", kT0);
  const auto body = patchBody(invalid);
  REQUIRE(body.contains("decidedRatio"));
  CHECK(body.at("decidedRatio").is_null());
  const auto holding = parseApiStatus(R"({"observedGeneration":4,"decidedRatio":2.0,"conditions":)" +
                                      body.at("conditions").dump() + "}");
  REQUIRE(holding);
  CHECK(compareStatus(*holding, invalid) == StatusChange::kSignificant);
}

TEST_CASE("decidedRatio: malformed in the API's status is absent") {
  for (const char* text : {R"({"decidedRatio":"1.5"})", R"({"decidedRatio":null})", R"({"decidedRatio":[1]})",
                           R"({"decidedRatio":true})"}) {
    CAPTURE(text);
    const auto status = parseApiStatus(text);
    REQUIRE(status);
    CHECK_FALSE(status->decidedRatio);
  }
  const auto integer = parseApiStatus(R"({"decidedRatio":2})");
  REQUIRE(integer);
  CHECK(integer->decidedRatio == 2.0);
}

TEST_CASE("compareStatus: the ratio's value alone is kMetricsOnly, its appearing or going away significant") {
  const PolicyStatus base = built(1.5);
  CHECK(compareStatus(base, built(1.501)) == StatusChange::kNone);        // both written as 1.5
  CHECK(compareStatus(base, built(1.52)) == StatusChange::kMetricsOnly);  // moves every cycle: limited rate
  CHECK(compareStatus(base, built(std::nullopt)) == StatusChange::kSignificant);  // a plugin naming none
  CHECK(compareStatus(built(std::nullopt), base) == StatusChange::kSignificant);  // one naming it
  CHECK(compareStatus(built(std::nullopt), built(std::nullopt)) == StatusChange::kNone);
  // With a significant change beside it, significant.
  CHECK(compareStatus(base, built(1.9, 4)) == StatusChange::kSignificant);
}

StatusWriterOptions fastOptions() {
  StatusWriterOptions options;
  options.availableAlgorithms = kAlgorithms;
  options.retryBackoff = 5ms;
  options.maxRequestsPerSecond = 0;
  options.leaderPollInterval = 10ms;
  return options;
}

TEST_CASE("status writer: a ratio moving every cycle is not a write per cycle, its going away is written") {
  testing::RecordingKubeClient client;
  StatusWriterOptions options = fastOptions();
  options.metricsRefreshInterval = 3600s;
  StatusWriter writer(client, options, [] { return true; });
  writer.start();
  writer.onDecision(makePolicy(), makeDecision(1.5), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  REQUIRE(client.requests("PATCH").size() == 1);
  for (int cycle = 1; cycle <= 5; ++cycle) {
    writer.onDecision(makePolicy(), makeDecision(1.5 + 0.1 * cycle), observation(), std::nullopt);
    REQUIRE(writer.waitIdle(2s));
  }
  CHECK(client.requests("PATCH").size() == 1);

  writer.onDecision(makePolicy(), makeDecision(std::nullopt), observation(), std::nullopt);
  REQUIRE(writer.waitIdle(2s));
  const auto sent = client.requests("PATCH");
  REQUIRE(sent.size() == 2);
  const auto status = nlohmann::json::parse(sent[1].body).at("status");
  REQUIRE(status.contains("decidedRatio"));
  CHECK(status.at("decidedRatio").is_null());
}

}  // namespace
}  // namespace kubeai::kube
