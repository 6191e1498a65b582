// What Predictive and Burst saw, in the policy's status (issue 14):
// status.forecast (with Predictive's models), status.panic, readyReplicas and
// startupSeconds — built from a decision, written as a merge patch, read back
// and compared (policy_status.h). The restart seed they feed is in
// status_seed_test.cc.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "explained_policy.h"
#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/history.h"
#include "kube/client/kube_time.h"
#include "kube/policy_status.h"
#include "policy/policy_parser.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

const core::TimePoint kT0 = *parseTime("2026-11-28T01:00:00Z");
const std::vector<std::string> kAlgorithms = {"AverageRatio", "Burst", "MaxRatio", "Predictive", "WeightedRatio"};

core::Policy makePolicy(const std::string& algorithm = "Predictive") {
  const policy::PolicyFile file = policy::parsePolicyYaml(testing::kExplainedPolicyYaml);
  REQUIRE(file.policies.size() == 1);
  REQUIRE(file.policies[0].ok());
  core::Policy policy = file.policies[0].policy;
  policy.spec.algorithm.name = algorithm;
  return policy;
}

constexpr core::MetricSlot kWaiting = core::customSlot(0);

// A decision of Predictive's with every field set: the forecast on `waiting`.
core::Decision predictiveDecision() {
  core::Decision decision;
  decision.currentReplicas = 4;
  decision.readyReplicas = 2;
  decision.servingReplicas = 2;
  decision.recommendedReplicas = 7;
  decision.desiredReplicas = 7;
  decision.requestedAlgorithm = "Predictive";
  decision.algorithm = "Predictive";
  decision.reason = "scaled ahead of the forecast demand";
  decision.measuredStartup = 95'250ms;
  decision.forecast = core::ForecastExplanation{
      .horizonSeconds = 95.25,
      .horizonSource = core::HorizonSource::kMeasured,
      .slot = kWaiting,
      .demandReplicas = 4.4567,
      .forecastReplicas = 6.3333,
      .trendPerMinute = 1.2,
      .reactiveReplicas = 5,
      .forecastDesired = 7,
      .decided = true,
      .observations = 12,
  };
  decision.forecastModels = {
      core::HoltState{core::MetricSlot::kGpuUtilization, 3.25, -0.0012345678901234, kT0 - 15s, 11},
      core::HoltState{kWaiting, 4.4567, 0.02, kT0, 12},
  };
  return decision;
}

core::Decision burstDecision(bool panicking) {
  core::Decision decision;
  decision.currentReplicas = 4;
  decision.readyReplicas = 4;
  decision.servingReplicas = 4;
  decision.recommendedReplicas = panicking ? 10 : 4;
  decision.desiredReplicas = decision.recommendedReplicas;
  decision.requestedAlgorithm = "Burst";
  decision.algorithm = "Burst";
  decision.reason = panicking ? "panic: scaled on the panic window" : "within tolerance";
  core::PanicExplanation panic;
  panic.panicking = panicking;
  if (panicking) {
    panic.since = kT0 - 38s;
    panic.lastOverAt = kT0 - 2s;
    panic.maxPanicReplicas = 10;
  }
  panic.stableReplicas = 5.123;
  panic.panicReplicas = panicking ? 9.876 : 4.0;
  panic.panicRatio = panic.panicReplicas / 4.0;
  panic.panicThreshold = 2.0;
  decision.panic = panic;
  return decision;
}

PolicyStatus statusOf(const core::Policy& policy, const core::Decision& decision) {
  return statusFromDecision(policy, decision, core::Observation{}, std::nullopt, kAlgorithms, {}, kT0);
}

nlohmann::json patchBody(const PolicyStatus& status) {
  return nlohmann::json::parse(statusMergePatch(status)).at("status");
}

TEST_CASE("status.forecast: Predictive's explanation and models by the policy's metric names") {
  const PolicyStatus status = statusOf(makePolicy(), predictiveDecision());
  CHECK(status.readyReplicas == 2);
  REQUIRE(status.startupSeconds);
  CHECK(*status.startupSeconds == 95.25);
  CHECK_FALSE(status.panic);
  REQUIRE(status.forecast);
  const ForecastStatus& forecast = *status.forecast;
  CHECK(forecast.metric == "waiting");  // spec.metrics.custom[0], not "custom0" or slot 4
  CHECK(forecast.horizonSeconds == 95.25);
  CHECK(forecast.horizonSource == "measured");
  CHECK(forecast.reactiveReplicas == 5);
  CHECK(forecast.forecastDesiredReplicas == 7);
  CHECK(forecast.decided == true);
  REQUIRE(forecast.models.size() == 2);
  CHECK(forecast.models[0] ==
        ForecastModelStatus{"gpuUtilization", 3.25, -0.0012345678901234, "2026-11-28T00:59:45Z", 11});
  CHECK(forecast.models[1] == ForecastModelStatus{"waiting", 4.4567, 0.02, "2026-11-28T01:00:00Z", 12});

  // As the API receives it: two decimals for what a person reads, the models whole.
  const nlohmann::json body = patchBody(status);
  CHECK(body.at("readyReplicas") == 2);
  CHECK(body.at("startupSeconds") == 95.25);
  CHECK(body.at("panic").is_null());  // not Burst: a previous Burst decision's panic is deleted
  const nlohmann::json& written = body.at("forecast");
  CHECK(written == nlohmann::json::parse(R"({
      "metric": "waiting", "horizonSeconds": 95.25, "horizonSource": "measured",
      "demandReplicas": 4.46, "forecastReplicas": 6.33, "trendPerMinute": 1.2,
      "reactiveReplicas": 5, "forecastDesiredReplicas": 7, "decided": true,
      "models": [
        {"metric": "gpuUtilization", "level": 3.25, "trendPerSecond": -0.0012345678901234,
         "observedAt": "2026-11-28T00:59:45Z", "observations": 11},
        {"metric": "waiting", "level": 4.4567, "trendPerSecond": 0.02,
         "observedAt": "2026-11-28T01:00:00Z", "observations": 12}]})"));

  // Read back from the API: equal as written, no write due, the same text again.
  const auto readBack = parseApiStatus(body.dump());
  REQUIRE(readBack);
  REQUIRE(readBack->forecast);
  CHECK(readBack->forecast->models == forecast.models);  // bit for bit: state, not display
  CHECK(readBack->forecast->demandReplicas == 4.46);
  CHECK(readBack->readyReplicas == 2);
  CHECK(readBack->startupSeconds == 95.25);
  CHECK_FALSE(readBack->panic);
  CHECK(compareStatus(*readBack, status) == StatusChange::kNone);
  CHECK(patchBody(*readBack).at("forecast") == written);
}

TEST_CASE("status.panic: Burst's panic, when it began and was last over the threshold") {
  const core::Policy policy = makePolicy("Burst");
  const PolicyStatus panicking = statusOf(policy, burstDecision(true));
  CHECK_FALSE(panicking.forecast);
  CHECK_FALSE(panicking.startupSeconds);  // nothing measured
  REQUIRE(panicking.panic);
  CHECK(*panicking.panic == PanicStatus{true, "2026-11-28T00:59:22Z", "2026-11-28T00:59:58Z", 5.123, 9.876,
                                        9.876 / 4.0, 2.0, false, 10});
  const nlohmann::json body = patchBody(panicking);
  CHECK(body.at("forecast").is_null());
  CHECK(body.at("startupSeconds").is_null());
  CHECK(body.at("panic") == nlohmann::json::parse(R"({
      "panicking": true, "since": "2026-11-28T00:59:22Z", "lastOverThreshold": "2026-11-28T00:59:58Z",
      "stableReplicas": 5.12, "panicReplicas": 9.88, "panicRatio": 2.47, "panicThreshold": 2.0,
      "saturated": false, "maxPanicReplicas": 10})"));
  const auto readBack = parseApiStatus(body.dump());
  REQUIRE(readBack);
  CHECK(compareStatus(*readBack, panicking) == StatusChange::kNone);

  // Calm: no since, and the keys sent as null, which the merge patch deletes
  // (an object is merged key by key: left out, the last panic's would stay).
  const PolicyStatus calm = statusOf(policy, burstDecision(false));
  REQUIRE(calm.panic);
  CHECK_FALSE(calm.panic->panicking);
  CHECK_FALSE(calm.panic->since);
  const nlohmann::json calmBody = patchBody(calm).at("panic");
  CHECK(calmBody.at("since").is_null());
  CHECK(calmBody.at("lastOverThreshold").is_null());
  CHECK(calmBody.at("maxPanicReplicas") == 0);
  CHECK(compareStatus(panicking, calm) == StatusChange::kSignificant);
}

TEST_CASE("status: readyReplicas, startupSeconds, forecast and panic null when the decision has none") {
  core::Decision plain = predictiveDecision();
  plain.algorithm = plain.requestedAlgorithm = "MaxRatio";
  plain.readyReplicas.reset();
  plain.measuredStartup.reset();
  plain.forecast.reset();
  plain.forecastModels.clear();
  const PolicyStatus status = statusOf(makePolicy("MaxRatio"), plain);
  const nlohmann::json body = patchBody(status);
  for (const char* field : {"readyReplicas", "startupSeconds", "forecast", "panic"}) {
    CAPTURE(field);
    REQUIRE(body.contains(field));  // sent: the merge patch deletes the last decision's
    CHECK(body.at(field).is_null());
  }
  // Through an error the last decision's stand; before any decision nothing is said.
  const PolicyStatus predictive = statusOf(makePolicy(), predictiveDecision());
  const auto stale = statusFromError(predictive, 3, "stale", "metrics stale", kT0);
  REQUIRE(stale);
  CHECK(patchBody(*stale).at("forecast") == patchBody(predictive).at("forecast"));
  const auto pending = statusFromError(std::nullopt, 3, "stale", "metrics stale", kT0);
  REQUIRE(pending);
  for (const char* field : {"readyReplicas", "startupSeconds", "forecast", "panic"}) {
    CHECK_FALSE(patchBody(*pending).contains(field));
  }
  // An invalid policy: deleted with the rest of the decision.
  const nlohmann::json invalid = patchBody(statusFromInvalid(predictive, 4, "spec.maxReplicas: bad", kT0));
  for (const char* field : {"readyReplicas", "startupSeconds", "forecast", "panic"}) {
    CAPTURE(field);
    REQUIRE(invalid.contains(field));
    CHECK(invalid.at(field).is_null());
  }
}

TEST_CASE("status.forecast: a model of no slot of the policy or not finite is left out, so are numbers JSON cannot hold") {
  core::Decision decision = predictiveDecision();
  decision.forecastModels.push_back(core::HoltState{core::customSlot(3), 1.0, 0.0, kT0, 2});  // no custom[3]
  decision.forecastModels.push_back(
      core::HoltState{core::MetricSlot::kLatencyP99, std::numeric_limits<double>::infinity(), 0.0, kT0, 2});
  decision.forecastModels.push_back(
      core::HoltState{core::MetricSlot::kLatencyP95, 1.0, std::numeric_limits<double>::quiet_NaN(), kT0, 2});
  decision.forecast->forecastReplicas = std::numeric_limits<double>::infinity();
  const PolicyStatus status = statusOf(makePolicy(), decision);
  REQUIRE(status.forecast);
  CHECK(status.forecast->models.size() == 2);
  CHECK_FALSE(status.forecast->forecastReplicas);
  const nlohmann::json body = patchBody(status);
  CHECK(body.at("forecast").at("forecastReplicas").is_null());
  const auto readBack = parseApiStatus(body.dump());
  REQUIRE(readBack);
  CHECK(compareStatus(*readBack, status) == StatusChange::kNone);
}

TEST_CASE("parseApiStatus: forecast and panic malformed are read as far as they go, never thrown on") {
  struct Row {
    const char* text;
    bool forecast;
    std::size_t models;  // models read, with a forecast
    bool panic;
  };
  const Row rows[] = {
      {R"({"forecast":null,"panic":null})", false, 0, false},
      {R"({"forecast":"up","panic":[true]})", false, 0, false},  // not objects
      {R"({"forecast":{},"panic":{}})", true, 0, true},
      {R"({"forecast":{"models":{"metric":"waiting"}}})", true, 0, false},  // models not a list
      // Each needs a metric, a level, a trend, a time (a string; parsed by the seed) and a count >= 1.
      {R"({"forecast":{"models":[1,null,"x",
          {"level":1,"trendPerSecond":0,"observedAt":"t","observations":1},
          {"metric":"","level":1,"trendPerSecond":0,"observedAt":"t","observations":1},
          {"metric":"waiting","level":"1","trendPerSecond":0,"observedAt":"t","observations":1},
          {"metric":"waiting","level":1,"observedAt":"t","observations":1},
          {"metric":"waiting","level":1,"trendPerSecond":0,"observedAt":5,"observations":1},
          {"metric":"waiting","level":1,"trendPerSecond":0,"observedAt":"t","observations":0},
          {"metric":"waiting","level":1,"trendPerSecond":0,"observedAt":"t","observations":1.5},
          {"metric":"waiting","level":1,"trendPerSecond":0,"observedAt":"t","observations":1}]}})",
       true, 1, false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.text);
    const auto status = parseApiStatus(row.text);
    REQUIRE(status);
    REQUIRE(status->forecast.has_value() == row.forecast);
    if (status->forecast) {
      CHECK(status->forecast->models.size() == row.models);
    }
    CHECK(status->panic.has_value() == row.panic);
  }
  // Fields of the wrong type are absent, the object kept.
  const auto odd = parseApiStatus(
      R"({"readyReplicas":"2","startupSeconds":"95","forecast":{"metric":4,"decided":"yes","reactiveReplicas":-1.5},
          "panic":{"panicking":1,"since":7,"panicRatio":"3","saturated":"no","maxPanicReplicas":99999999999}})");
  REQUIRE(odd);
  CHECK_FALSE(odd->readyReplicas);
  CHECK_FALSE(odd->startupSeconds);
  REQUIRE(odd->forecast);
  CHECK(*odd->forecast == ForecastStatus{});
  REQUIRE(odd->panic);
  CHECK(*odd->panic == PanicStatus{});
}

TEST_CASE("compareStatus: the forecast and panic moving are kMetricsOnly, their kind changing significant") {
  const core::Policy predictive = makePolicy();
  const PolicyStatus base = statusOf(predictive, predictiveDecision());
  struct Row {
    const char* what;
    void (*change)(PolicyStatus&);
    StatusChange expected;
  };
  const Row rows[] = {
      {"nothing", [](PolicyStatus&) {}, StatusChange::kNone},
      {"demand below a cent", [](PolicyStatus& s) { *s.forecast->demandReplicas += 0.001; }, StatusChange::kNone},
      {"demand", [](PolicyStatus& s) { s.forecast->demandReplicas = 5.0; }, StatusChange::kMetricsOnly},
      {"the forecast", [](PolicyStatus& s) { s.forecast->forecastReplicas = 8.0; }, StatusChange::kMetricsOnly},
      {"the trend", [](PolicyStatus& s) { s.forecast->trendPerMinute = 0.5; }, StatusChange::kMetricsOnly},
      {"MaxRatio's answer", [](PolicyStatus& s) { s.forecast->reactiveReplicas = 6; }, StatusChange::kMetricsOnly},
      {"the forecast's answer", [](PolicyStatus& s) { s.forecast->forecastDesiredReplicas = 8; },
       StatusChange::kMetricsOnly},
      {"a model's level", [](PolicyStatus& s) { s.forecast->models[1].level = 5.0; }, StatusChange::kMetricsOnly},
      {"a model's trend", [](PolicyStatus& s) { s.forecast->models[0].trendPerSecond = 0.0; },
       StatusChange::kMetricsOnly},
      {"a model's count", [](PolicyStatus& s) { ++s.forecast->models[0].observations; }, StatusChange::kMetricsOnly},
      {"a model's time alone", [](PolicyStatus& s) { s.forecast->models[0].observedAt = "2026-11-28T01:00:15Z"; },
       StatusChange::kNone},
      {"the verdict", [](PolicyStatus& s) { s.forecast->decided = false; }, StatusChange::kSignificant},
      {"the metric", [](PolicyStatus& s) { s.forecast->metric = "gpuUtilization"; }, StatusChange::kSignificant},
      {"the horizon", [](PolicyStatus& s) { s.forecast->horizonSeconds = 120.0; }, StatusChange::kSignificant},
      {"the horizon's source", [](PolicyStatus& s) { s.forecast->horizonSource = "parameter"; },
       StatusChange::kSignificant},
      {"a model appearing",
       [](PolicyStatus& s) { s.forecast->models.push_back(ForecastModelStatus{"latencyP99", 1, 0, "t", 1}); },
       StatusChange::kSignificant},
      {"a model's metric", [](PolicyStatus& s) { s.forecast->models[0].metric = std::string("cache"); }, StatusChange::kSignificant},
      {"the forecast going away", [](PolicyStatus& s) { s.forecast.reset(); }, StatusChange::kSignificant},
      {"ready replicas", [](PolicyStatus& s) { s.readyReplicas = 3; }, StatusChange::kSignificant},
      {"ready replicas unknown", [](PolicyStatus& s) { s.readyReplicas.reset(); }, StatusChange::kSignificant},
      {"the start-up time", [](PolicyStatus& s) { s.startupSeconds = 80.0; }, StatusChange::kSignificant},
      {"the start-up time below a millisecond", [](PolicyStatus& s) { *s.startupSeconds += 0.0001; },
       StatusChange::kNone},
      {"a panic appearing", [](PolicyStatus& s) { s.panic = PanicStatus{}; }, StatusChange::kSignificant},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    PolicyStatus changed = base;
    row.change(changed);
    CHECK(compareStatus(base, changed) == row.expected);
    CHECK(compareStatus(changed, base) == row.expected);
  }

  const PolicyStatus panic = statusOf(makePolicy("Burst"), burstDecision(true));
  const Row panicRows[] = {
      {"nothing", [](PolicyStatus&) {}, StatusChange::kNone},
      {"the stable mean", [](PolicyStatus& s) { s.panic->stableReplicas = 6.0; }, StatusChange::kMetricsOnly},
      {"the panic mean", [](PolicyStatus& s) { s.panic->panicReplicas = 9.0; }, StatusChange::kMetricsOnly},
      {"the ratio", [](PolicyStatus& s) { s.panic->panicRatio = 2.2; }, StatusChange::kMetricsOnly},
      {"saturated", [](PolicyStatus& s) { s.panic->saturated = true; }, StatusChange::kMetricsOnly},
      // Written at once while panicking: a restart resumes the panic from it,
      // and a minute old it would already have ended the panic.
      {"last over the threshold", [](PolicyStatus& s) { s.panic->lastOverThreshold = "2026-11-28T01:00:00Z"; },
       StatusChange::kSignificant},
      {"the panic ending", [](PolicyStatus& s) { s.panic->panicking = false; }, StatusChange::kSignificant},
      {"another panic", [](PolicyStatus& s) { s.panic->since = "2026-11-28T01:00:00Z"; }, StatusChange::kSignificant},
      {"the most asked for", [](PolicyStatus& s) { s.panic->maxPanicReplicas = 12; }, StatusChange::kSignificant},
      {"the threshold", [](PolicyStatus& s) { s.panic->panicThreshold = 3.0; }, StatusChange::kSignificant},
  };
  for (const Row& row : panicRows) {
    CAPTURE(row.what);
    PolicyStatus changed = panic;
    row.change(changed);
    CHECK(compareStatus(panic, changed) == row.expected);
    CHECK(compareStatus(changed, panic) == row.expected);
  }
}

TEST_CASE("status through decide(): Predictive's and Burst's own decisions explain themselves") {
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  // Predictive, a ramp of `waiting` over 4 ready replicas: 40, 50, 60 per 15 s (AverageValue 5).
  const core::Policy predictive = makePolicy();
  core::History history = core::firstSightHistory(4, kT0);
  core::Decision decision;
  for (int i = 0; i < 3; ++i) {
    core::Observation seen;
    seen.currentReplicas = 4;
    seen.readyReplicas = 4;
    seen.custom[0] = 40.0 + 10.0 * i;
    core::Outcome outcome = core::decide(predictive, seen, std::move(history), kT0 + i * 15s, *registry);
    history = std::move(outcome.history);
    decision = outcome.decision;
  }
  REQUIRE(decision.forecast);
  const PolicyStatus status = statusOf(predictive, decision);
  REQUIRE(status.forecast);
  CHECK(status.forecast->metric == "waiting");
  CHECK(status.forecast->horizonSource == "default");  // nothing measured, no parameter
  CHECK(status.forecast->horizonSeconds == 60.0);
  REQUIRE(status.forecast->models.size() == 1);
  CHECK(status.forecast->models[0].metric == "waiting");
  CHECK(status.forecast->models[0].observations == 3);
  CHECK(status.forecast->models[0].observedAt == "2026-11-28T01:00:30Z");
  CHECK(status.readyReplicas == 4);

  // Burst, calm then a burst: 4 replicas at 80 %, then 200 %.
  const core::Policy burst = makePolicy("Burst");
  history = core::firstSightHistory(4, kT0);
  for (int i = 0; i < 3; ++i) {
    core::Observation seen;
    seen.currentReplicas = 4;
    seen.gpuUtilizationPercent = i < 2 ? 80.0 : 400.0;
    core::Outcome outcome = core::decide(burst, seen, std::move(history), kT0 + i * 2s, *registry);
    history = std::move(outcome.history);
    decision = outcome.decision;
  }
  const PolicyStatus panicking = statusOf(burst, decision);
  REQUIRE(panicking.panic);
  CHECK(panicking.panic->panicking);
  CHECK(panicking.panic->since == "2026-11-28T01:00:04Z");
  CHECK_FALSE(panicking.readyReplicas);  // not observed
}

}  // namespace
}  // namespace kubeai::kube
