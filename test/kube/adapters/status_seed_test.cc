#include "kube/status_seed.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "explained_policy.h"
#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/metric_target.h"
#include "core/predictive_algorithm.h"
#include "kube/client/kube_time.h"
#include "kube/status_writer.h"
#include "policy/policy_parser.h"
#include "recording_kube_client.h"

namespace kubeai::kube {
namespace {

using namespace std::chrono_literals;

core::Policy makePolicy(std::int64_t generation = 3, std::string uid = "uid-1") {
  core::Policy policy;
  policy.metadata.name = "chat";
  policy.metadata.namespace_ = "ml";
  policy.metadata.generation = generation;
  policy.metadata.uid = std::move(uid);
  return policy;
}

// 2026-11-28T09:00:00Z.
const core::TimePoint kNine = *parseTime("2026-11-28T09:00:00Z");

TEST_CASE("seedFromApiStatus: a seed only from a status written for this generation") {
  struct Row {
    const char* status;  // the object's .status as the API holds it
    std::int64_t generation;
    bool seeded;
    std::int32_t desired;                        // when seeded
    std::optional<core::TimePoint> lastScaleTime;  // when seeded
  };
  const std::vector<Row> rows = {
      // Written for generation 3, read by a process that sees generation 3: both fields back.
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":3})", 3, true, 10, kNine},
      // Any RFC 3339 form the API may hold.
      {R"({"desiredReplicas":4,"lastScaleTime":"2026-11-28T10:00:00+01:00","observedGeneration":3})", 3, true, 4,
       kNine},
      // Never scaled: the published value alone (no cooldown to resume).
      {R"({"desiredReplicas":2,"observedGeneration":3})", 3, true, 2, std::nullopt},
      // 0 is a value (scaled to zero), not absence.
      {R"({"desiredReplicas":0,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":3})", 3, true, 0, kNine},
      // An unreadable lastScaleTime seeds no cooldown, the published value still.
      {R"({"desiredReplicas":10,"lastScaleTime":"yesterday","observedGeneration":3})", 3, true, 10, std::nullopt},
      {R"({"desiredReplicas":10,"lastScaleTime":42,"observedGeneration":3})", 3, true, 10, std::nullopt},
      {R"({"desiredReplicas":10,"lastScaleTime":"9999-12-31T23:59:59Z","observedGeneration":3})", 3, true, 10,
       std::nullopt},
      // Written for another spec: the spec was edited since (or the status is from before an edit).
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":2})", 3, false, 0,
       std::nullopt},
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":4})", 3, false, 0,
       std::nullopt},
      // No observedGeneration: not written by a server that says what it saw.
      {R"({"desiredReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z"})", 0, false, 0, std::nullopt},
      {R"({"desiredReplicas":10,"observedGeneration":"3"})", 3, false, 0, std::nullopt},
      // No decision published: an invalid policy's status (its decision fields deleted), or a new object.
      {R"({"observedGeneration":3,"conditions":[{"type":"Ready","status":"False","reason":"InvalidPolicy"}]})", 3,
       false, 0, std::nullopt},
      {R"({})", 3, false, 0, std::nullopt},
      {"", 3, false, 0, std::nullopt},
      // Out of range or of the wrong type: not a replica count.
      {R"({"desiredReplicas":-1,"observedGeneration":3})", 3, false, 0, std::nullopt},
      {R"({"desiredReplicas":"10","observedGeneration":3})", 3, false, 0, std::nullopt},
      {R"({"desiredReplicas":4294967296,"observedGeneration":3})", 3, false, 0, std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.status);
    const auto seed = seedFromApiStatus(parseApiStatus(row.status), row.generation, core::MetricsSpec{});
    REQUIRE(seed.has_value() == row.seeded);
    if (seed) {
      CHECK(seed->desiredReplicas == row.desired);
      CHECK(seed->lastScaleTime == row.lastScaleTime);
    }
  }
  // No status observed at all.
  CHECK_FALSE(seedFromApiStatus(std::nullopt, 3, core::MetricsSpec{}).has_value());
}

TEST_CASE("StatusWriter::seedFor: what the API's status last said, for the generation the loop sees") {
  testing::RecordingKubeClient client;
  StatusWriter writer(client, {}, [] { return false; });  // not leading: seeds all the same
  constexpr const char* kWritten =
      R"({"desiredReplicas":10,"currentReplicas":10,"lastScaleTime":"2026-11-28T09:00:00Z","observedGeneration":3})";

  // No status observed for the policy: nothing to resume.
  CHECK_FALSE(writer.seedFor(makePolicy()).has_value());

  writer.observeApiStatus("ml", "chat", kWritten);
  auto seed = writer.seedFor(makePolicy(3));
  REQUIRE(seed.has_value());
  CHECK(seed->desiredReplicas == 10);
  CHECK(seed->lastScaleTime == kNine);
  // Another generation (edited since the status was written): no seed.
  CHECK_FALSE(writer.seedFor(makePolicy(4)).has_value());
  // Another policy of the same namespace: its own status, none observed.
  core::Policy other = makePolicy(3);
  other.metadata.name = "embed";
  CHECK_FALSE(writer.seedFor(other).has_value());

  // Malformed text from the API changes nothing: the last status read stands.
  writer.observeApiStatus("ml", "chat", "{not json");
  CHECK(writer.seedFor(makePolicy(3)).has_value());

  // A newer observation replaces the older one.
  writer.observeApiStatus("ml", "chat", R"({"desiredReplicas":6,"lastScaleTime":"bad","observedGeneration":3})");
  seed = writer.seedFor(makePolicy(3));
  REQUIRE(seed.has_value());
  CHECK(seed->desiredReplicas == 6);
  CHECK_FALSE(seed->lastScaleTime.has_value());

  // A status whose decision was deleted (the policy was invalid): nothing published to resume.
  writer.observeApiStatus("ml", "chat", R"({"observedGeneration":3,"desiredReplicas":null})");
  CHECK_FALSE(writer.seedFor(makePolicy(3)).has_value());

  // Deleted: forgotten.
  writer.observeApiStatus("ml", "chat", kWritten);
  REQUIRE(writer.seedFor(makePolicy(3)).has_value());
  writer.onRemoved("ml", "chat");
  CHECK_FALSE(writer.seedFor(makePolicy(3)).has_value());

  // The status was observed for one object (uid-1); a policy of the same name that is another
  // object (deleted and created again) does not resume it.
  writer.observeApiStatus("ml", "chat", kWritten);
  writer.onDecision(makePolicy(3, "uid-1"), core::Decision{}, core::Observation{}, std::nullopt);
  CHECK(writer.seedFor(makePolicy(3, "uid-1")).has_value());
  CHECK_FALSE(writer.seedFor(makePolicy(3, "uid-2")).has_value());
  // seedFor never writes.
  CHECK(client.requests().empty());
}

// --- What Predictive, Burst and start-up awareness keep (issue 14) ---------

constexpr core::MetricSlot kWaiting = core::customSlot(0);

core::Policy explainedPolicy(const std::string& algorithm = "Predictive") {
  const policy::PolicyFile file = policy::parsePolicyYaml(testing::kExplainedPolicyYaml);
  REQUIRE(file.policies.size() == 1);
  REQUIRE(file.policies[0].ok());
  core::Policy policy = file.policies[0].policy;
  policy.spec.algorithm.name = algorithm;
  return policy;
}

// A status as the server writes it for generation 3, with `extra` fields.
std::optional<PolicyStatus> statusWith(const char* extra) {
  nlohmann::json status = {{"desiredReplicas", 6}, {"observedGeneration", 3}};
  status.update(nlohmann::json::parse(extra));
  return parseApiStatus(status.dump());
}

void checkModel(const core::HoltState& model, core::MetricSlot slot, double level, double trend, core::TimePoint at,
                std::int32_t observations) {
  CHECK(model.slot == slot);
  CHECK(model.level == level);
  CHECK(model.trendPerSecond == trend);
  CHECK(model.at == at);
  CHECK(model.observations == observations);
}

TEST_CASE("seedFromApiStatus: the measured start-up time, within what can be a measurement") {
  const core::MetricsSpec metrics = explainedPolicy().spec.metrics;
  struct Row {
    const char* extra;
    std::optional<std::chrono::milliseconds> startup;
  };
  const Row rows[] = {
      {R"({"startupSeconds":95.25})", std::chrono::milliseconds(95'250)},
      {R"({"startupSeconds":0})", std::chrono::milliseconds(0)},  // ready at once: a measurement
      {R"({"startupSeconds":64})", std::chrono::milliseconds(64'000)},
      {R"({})", std::nullopt},  // nothing measured yet
      {R"({"startupSeconds":null})", std::nullopt},
      {R"({"startupSeconds":-1})", std::nullopt},
      {R"({"startupSeconds":"95"})", std::nullopt},
      {R"({"startupSeconds":1e300})", std::nullopt},  // not a time milliseconds can hold
  };
  for (const Row& row : rows) {
    CAPTURE(row.extra);
    const auto seed = seedFromApiStatus(statusWith(row.extra), 3, metrics);
    REQUIRE(seed.has_value());  // never costs the seed
    CHECK(seed->desiredReplicas == 6);
    CHECK(seed->measuredStartup == row.startup);
  }
}

TEST_CASE("seedFromApiStatus: Predictive's models by the policy's metric names, what cannot be resumed skipped") {
  const core::MetricsSpec metrics = explainedPolicy().spec.metrics;
  const auto seed = seedFromApiStatus(statusWith(R"({"forecast":{"metric":"waiting","models":[
      {"metric":"waiting","level":4.5,"trendPerSecond":0.02,"observedAt":"2026-11-28T09:00:00Z","observations":12},
      {"metric":"kvCache","level":1,"trendPerSecond":0,"observedAt":"2026-11-28T09:00:00Z","observations":3},
      {"metric":"gpuUtilization","level":3.25,"trendPerSecond":-0.001,"observedAt":"2026-11-28T10:00:00+01:00",
       "observations":3},
      {"metric":"waiting","level":9,"trendPerSecond":0,"observedAt":"2026-11-28T09:00:00Z","observations":2},
      {"metric":"latencyP95","level":1,"trendPerSecond":0,"observedAt":"yesterday","observations":2},
      {"metric":"requestQueueDepth","level":1,"trendPerSecond":0,"observedAt":"2026-11-28T09:00:00Z",
       "observations":0},
      {"metric":"latencyP99","level":null,"trendPerSecond":0,"observedAt":"2026-11-28T09:00:00Z","observations":2}
    ]}})"),
                                      3, metrics);
  REQUIRE(seed.has_value());
  // Kept: waiting (the first of its name), gpuUtilization (any RFC 3339 time).
  // Skipped: kvCache (no slot of this policy), the second waiting, an
  // unreadable time, no observation, no level.
  REQUIRE(seed->forecastModels.size() == 2);
  checkModel(seed->forecastModels[0], kWaiting, 4.5, 0.02, kNine, 12);
  checkModel(seed->forecastModels[1], core::MetricSlot::kGpuUtilization, 3.25, -0.001, kNine, 3);
  // Each is of the metric and target its slot holds in this spec (the status
  // was written for it), so an edit after the restart restarts or moves it.
  for (const core::HoltState& model : seed->forecastModels) {
    const core::MetricTarget target = core::metricTarget(metrics, model.slot);
    CHECK(model.metric == core::metricIdentity(model.slot, target.name, target.targetType));
    CHECK(model.target == *target.target);
    CHECK(model.target > 0.0);
  }

  // Without the custom metric in the spec (another policy's spec), "waiting" names nothing.
  const auto seedOnly = seedFromApiStatus(statusWith(R"({"forecast":{"models":[
      {"metric":"waiting","level":4.5,"trendPerSecond":0.02,"observedAt":"2026-11-28T09:00:00Z","observations":12}
    ]}})"),
                                          3, core::MetricsSpec{});
  REQUIRE(seedOnly.has_value());
  CHECK(seedOnly->forecastModels.empty());
}

TEST_CASE("seedFromApiStatus: a panic still on, from both of its times") {
  const core::MetricsSpec metrics = explainedPolicy("Burst").spec.metrics;
  struct Row {
    const char* extra;
    bool panic;           // seeded
    std::int32_t most;    // maxPanicReplicas, when seeded
  };
  const Row rows[] = {
      {R"({"panic":{"panicking":true,"since":"2026-11-28T08:59:30Z","lastOverThreshold":"2026-11-28T09:00:00Z",
           "maxPanicReplicas":9}})",
       true, 9},
      // A negative or missing count is read as 0: the panic itself is still on.
      {R"({"panic":{"panicking":true,"since":"2026-11-28T08:59:30Z","lastOverThreshold":"2026-11-28T09:00:00Z",
           "maxPanicReplicas":-3}})",
       true, 0},
      {R"({"panic":{"panicking":true,"since":"2026-11-28T08:59:30Z","lastOverThreshold":"2026-11-28T09:00:00Z"}})",
       true, 0},
      // Calm, or a time missing or unreadable: no panic to resume.
      {R"({"panic":{"panicking":false,"since":"2026-11-28T08:59:30Z","lastOverThreshold":"2026-11-28T09:00:00Z"}})",
       false, 0},
      {R"({"panic":{"panicking":true,"since":"2026-11-28T08:59:30Z","maxPanicReplicas":9}})", false, 0},
      {R"({"panic":{"panicking":true,"since":"soon","lastOverThreshold":"2026-11-28T09:00:00Z"}})", false, 0},
      {R"({"panic":{"panicking":"yes","since":"2026-11-28T08:59:30Z","lastOverThreshold":"2026-11-28T09:00:00Z"}})",
       false, 0},
      {R"({"panic":null})", false, 0},
  };
  for (const Row& row : rows) {
    CAPTURE(row.extra);
    const auto seed = seedFromApiStatus(statusWith(row.extra), 3, metrics);
    REQUIRE(seed.has_value());
    CHECK(seed->desiredReplicas == 6);
    CHECK(seed->panicSince.has_value() == row.panic);
    CHECK(seed->panicLastOverAt.has_value() == row.panic);
    if (row.panic) {
      CHECK(*seed->panicSince == kNine - std::chrono::seconds(30));
      CHECK(*seed->panicLastOverAt == kNine);
    }
    CHECK(seed->maxPanicReplicas == row.most);
  }
  // Of another generation: nothing at all, the panic included.
  CHECK_FALSE(seedFromApiStatus(statusWith(rows[0].extra), 4, metrics).has_value());
}

TEST_CASE("round trip: a decision's forecast and panic, written as status and read back, seed the same values") {
  const core::Policy policy = explainedPolicy();
  core::Decision decision;
  decision.currentReplicas = 4;
  decision.readyReplicas = 3;
  decision.servingReplicas = 3;
  decision.recommendedReplicas = decision.desiredReplicas = 7;
  decision.requestedAlgorithm = decision.algorithm = "Predictive";
  decision.reason = "scaled ahead of the forecast demand";
  decision.measuredStartup = std::chrono::milliseconds(95'250);
  decision.forecast = core::ForecastExplanation{.horizonSeconds = 95.25,
                                                .horizonSource = core::HorizonSource::kMeasured,
                                                .slot = kWaiting,
                                                .demandReplicas = 4.4567,
                                                .forecastReplicas = 6.3333,
                                                .trendPerMinute = 1.2,
                                                .reactiveReplicas = 5,
                                                .forecastDesired = 7,
                                                .decided = true,
                                                .observations = 12};
  // Levels and trends with every digit: the seed must give back the same doubles.
  decision.forecastModels = {core::HoltState{core::MetricSlot::kGpuUtilization, 3.0 / 7.0, -1.0 / 3000.0,
                                             kNine - std::chrono::seconds(15), 11},
                             core::HoltState{kWaiting, 4.456712345678901, 0.1 / 3.0, kNine, 12}};
  core::PanicExplanation panic;
  panic.panicking = true;
  panic.since = kNine - std::chrono::seconds(38);
  panic.lastOverAt = kNine - std::chrono::seconds(2);
  panic.maxPanicReplicas = 10;
  panic.stableReplicas = 5.1;
  panic.panicReplicas = 9.9;
  panic.panicRatio = 3.3;
  panic.panicThreshold = 2.0;
  decision.panic = panic;

  const PolicyStatus status = statusFromDecision(policy, decision, core::Observation{}, kNine - std::chrono::minutes(2),
                                                 {"Predictive"}, {}, kNine);
  // The body of the PATCH, as the API then holds it.
  const std::string written = nlohmann::json::parse(statusMergePatch(status)).at("status").dump();
  const auto seed = seedFromApiStatus(parseApiStatus(written), 3, policy.spec.metrics);
  REQUIRE(seed.has_value());
  CHECK(seed->desiredReplicas == 7);
  CHECK(seed->lastScaleTime == kNine - std::chrono::minutes(2));
  CHECK(seed->measuredStartup == std::chrono::milliseconds(95'250));
  REQUIRE(seed->forecastModels.size() == 2);
  checkModel(seed->forecastModels[0], core::MetricSlot::kGpuUtilization, 3.0 / 7.0, -1.0 / 3000.0,
             kNine - std::chrono::seconds(15), 11);
  checkModel(seed->forecastModels[1], kWaiting, 4.456712345678901, 0.1 / 3.0, kNine, 12);
  CHECK(seed->panicSince == kNine - std::chrono::seconds(38));
  CHECK(seed->panicLastOverAt == kNine - std::chrono::seconds(2));
  CHECK(seed->maxPanicReplicas == 10);

  // The same through the status writer's observation of the API (a restarted
  // process, a new leader): the policy's own metric names resolve the models.
  testing::RecordingKubeClient client;
  StatusWriter writer(client, {}, [] { return false; });
  writer.observeApiStatus("ml", "chat", written);
  const auto fromWriter = writer.seedFor(policy);
  REQUIRE(fromWriter.has_value());
  REQUIRE(fromWriter->forecastModels.size() == 2);
  checkModel(fromWriter->forecastModels[1], kWaiting, 4.456712345678901, 0.1 / 3.0, kNine, 12);
  CHECK(fromWriter->maxPanicReplicas == 10);
  CHECK(client.requests().empty());
}

TEST_CASE("round trip: a hold without metrics writes status.forecast as the models alone, read back and resumed") {
  const core::Policy policy = explainedPolicy();
  core::Decision decision;
  decision.currentReplicas = decision.recommendedReplicas = decision.desiredReplicas = 4;
  decision.requestedAlgorithm = decision.algorithm = "Predictive";
  decision.reason = "no metrics available";
  // No forecast was made; the models stand as the last decision left them.
  decision.forecastModels = {core::HoltState{kWaiting, 4.456712345678901, 0.1 / 3.0, kNine, 12}};
  const PolicyStatus status = statusFromDecision(policy, decision, core::Observation{}, std::nullopt,
                                                 {"Predictive"}, {}, kNine);
  REQUIRE(status.forecast.has_value());
  // Nothing that was not computed reads as an answer.
  CHECK_FALSE(status.forecast->reactiveReplicas.has_value());
  CHECK_FALSE(status.forecast->forecastDesiredReplicas.has_value());
  CHECK_FALSE(status.forecast->decided.has_value());
  CHECK_FALSE(status.forecast->demandReplicas.has_value());

  // The PATCH sends the rest as null; applied, the API holds the models alone.
  const nlohmann::json patch = nlohmann::json::parse(statusMergePatch(status)).at("status");
  for (const char* field : {"metric", "horizonSeconds", "horizonSource", "demandReplicas", "forecastReplicas",
                            "trendPerMinute", "reactiveReplicas", "forecastDesiredReplicas", "decided"}) {
    CAPTURE(field);
    CHECK(patch.at("forecast").at(field).is_null());
  }
  nlohmann::json held = nlohmann::json::object();
  held.merge_patch(patch);
  REQUIRE(held.at("forecast").size() == 1);
  CHECK(held.at("forecast").at("models").size() == 1);

  // Read back, it is what was built (no rewrite every cycle), and resumes.
  const auto read = parseApiStatus(held.dump());
  REQUIRE(read.has_value());
  REQUIRE(read->forecast.has_value());
  CHECK(*read->forecast == *status.forecast);
  CHECK(detail::compareExplanations(*read, status) == StatusChange::kNone);
  const auto seed = seedFromApiStatus(read, 3, policy.spec.metrics);
  REQUIRE(seed.has_value());
  REQUIRE(seed->forecastModels.size() == 1);
  checkModel(seed->forecastModels[0], kWaiting, 4.456712345678901, 0.1 / 3.0, kNine, 12);
}

TEST_CASE("a restart resumes Predictive's forecast and Burst's panic from the status it wrote") {
  const auto registry = core::AlgorithmRegistry::withBuiltins();
  const auto observe = [](double waiting, double gpu) {
    core::Observation seen;
    seen.currentReplicas = 4;
    seen.readyReplicas = 4;
    seen.custom[0] = waiting;
    seen.gpuUtilizationPercent = gpu;
    return seen;
  };
  // What the next decision at `now` says: with `history`, or after a restart
  // from the status written after the last one.
  struct Run {
    core::History history;
    core::Decision last;
  };
  const auto run = [&](const core::Policy& policy, const std::vector<core::Observation>& seen,
                       std::chrono::seconds step) {
    Run out{core::firstSightHistory(4, kNine), {}};
    for (std::size_t i = 0; i < seen.size(); ++i) {
      core::Outcome outcome = core::decide(policy, seen[i], std::move(out.history),
                                           kNine + static_cast<int>(i) * step, *registry);
      out.history = std::move(outcome.history);
      out.last = std::move(outcome.decision);
    }
    return out;
  };
  const auto restarted = [&](const core::Policy& policy, const Run& before, core::TimePoint now) {
    const PolicyStatus status =
        statusFromDecision(policy, before.last, core::Observation{}, before.history.lastChangeAt, {}, {}, now);
    const std::string written = nlohmann::json::parse(statusMergePatch(status)).at("status").dump();
    return core::firstSightHistory(4, now, seedFromApiStatus(parseApiStatus(written), 3, policy.spec.metrics));
  };

  SUBCASE("Predictive") {
    // `waiting` ramps 40, 50, 60, 70 per 15 s (2, 2.5, 3, 3.5 x 4 replicas' worth): a trend of 10/15 s.
    const core::Policy policy = explainedPolicy();
    const std::vector<core::Observation> ramp = {observe(40, 50), observe(50, 50), observe(60, 50), observe(70, 50)};
    Run before = run(policy, ramp, std::chrono::seconds(15));
    const core::TimePoint next = kNine + std::chrono::seconds(60);
    core::History resumed = restarted(policy, before, kNine + std::chrono::seconds(45));
    const core::Decision kept = core::decide(policy, observe(80, 50), std::move(before.history), next, *registry).decision;
    const core::Decision afterRestart = core::decide(policy, observe(80, 50), std::move(resumed), next, *registry).decision;
    const core::Decision forgotten =
        core::decide(policy, observe(80, 50), core::firstSightHistory(4, next), next, *registry).decision;
    REQUIRE(kept.forecast);
    REQUIRE(afterRestart.forecast);
    REQUIRE(forgotten.forecast);
    CHECK(kept.forecast->observations == 5);
    CHECK(afterRestart.forecast->observations == 5);
    CHECK(afterRestart.forecast->forecastReplicas == doctest::Approx(kept.forecast->forecastReplicas));
    CHECK(afterRestart.forecast->trendPerMinute == doctest::Approx(kept.forecast->trendPerMinute));
    // The cooldown of the scale-up at t = 0 (lastScaleTime) resumes too: both hold at 8.
    CHECK(afterRestart.desiredReplicas == kept.desiredReplicas);
    CHECK(afterRestart.limitedBy == core::LimitedBy::kCooldown);
    CHECK(kept.forecast->trendPerMinute > 0.0);
    // Without the seed the model starts over: one observation, no trend.
    CHECK(forgotten.forecast->observations == 1);
    CHECK(forgotten.forecast->trendPerMinute == 0.0);
  }

  SUBCASE("Predictive, restarted in a gap without metrics") {
    // The ramp of `waiting` to t = 45, then no metrics at t = 60: Predictive
    // holds, with no forecast; its models are written as they stood.
    const core::Policy policy = explainedPolicy();
    core::Observation none;
    none.currentReplicas = 4;
    none.readyReplicas = 4;
    const std::vector<core::Observation> seen = {observe(40, 50), observe(50, 50), observe(60, 50), observe(70, 50),
                                                 none};
    Run before = run(policy, seen, std::chrono::seconds(15));
    CHECK_FALSE(before.last.forecast);
    REQUIRE(before.last.forecastModels.size() == 2);
    const PolicyStatus status = statusFromDecision(policy, before.last, none, before.history.lastChangeAt, {}, {},
                                                   kNine + std::chrono::seconds(60));
    REQUIRE(status.forecast);
    CHECK(status.forecast->models.size() == 2);
    const nlohmann::json forecast = nlohmann::json::parse(statusMergePatch(status)).at("status").at("forecast");
    // Nothing the CRD's enum refuses: no forecast was made, so no metric or horizon's source.
    CHECK(forecast.at("horizonSource").is_null());
    CHECK(forecast.at("metric").is_null());
    CHECK(forecast.at("models").size() == 2);
    // Read back, it is what was written: no rewrite every cycle of the gap.
    const auto readBack = parseApiStatus(nlohmann::json::parse(statusMergePatch(status)).at("status").dump());
    REQUIRE(readBack);
    CHECK(compareStatus(*readBack, status) == StatusChange::kNone);

    // Restarted at t = 75; metrics back at t = 90, 45 s after the last
    // observation (within the 2 min gap): the model goes on as if kept.
    const core::TimePoint back = kNine + std::chrono::seconds(90);
    core::History resumed = restarted(policy, before, kNine + std::chrono::seconds(75));
    REQUIRE(resumed.memory.forecasts.size() == 2);
    const core::Decision kept =
        core::decide(policy, observe(100, 50), core::History(before.history), back, *registry).decision;
    const core::Decision afterRestart =
        core::decide(policy, observe(100, 50), core::History(resumed), back, *registry).decision;
    REQUIRE(kept.forecast);
    REQUIRE(afterRestart.forecast);
    CHECK(kept.forecast->observations == 5);
    CHECK(afterRestart.forecast->observations == 5);
    CHECK(afterRestart.forecast->trendPerMinute == doctest::Approx(kept.forecast->trendPerMinute));
    CHECK(afterRestart.forecast->forecastReplicas == doctest::Approx(kept.forecast->forecastReplicas));
    CHECK(afterRestart.forecast->trendPerMinute > 0.0);

    // Back only after more than 2 minutes: the resumed model starts again.
    const core::TimePoint late = kNine + std::chrono::seconds(45 + 121);
    const core::Decision lateDecision =
        core::decide(policy, observe(100, 50), std::move(resumed), late, *registry).decision;
    REQUIRE(lateDecision.forecast);
    CHECK(lateDecision.forecast->observations == 1);
    CHECK(lateDecision.forecast->trendPerMinute == 0.0);
  }

  SUBCASE("Burst") {
    // GPU 80 % (at target) on 4 replicas, then 400 % at t = 4: a panic since t = 4.
    const core::Policy policy = explainedPolicy("Burst");
    Run before = run(policy, {observe(0, 80), observe(0, 80), observe(0, 400)}, std::chrono::seconds(2));
    REQUIRE(before.last.panic);
    REQUIRE(before.last.panic->panicking);
    const core::TimePoint next = kNine + std::chrono::seconds(6);
    core::History resumed = restarted(policy, before, kNine + std::chrono::seconds(4));
    // Calm again at t = 6, within a stable window of the last time over: still panicking, since t = 4.
    const core::Decision afterRestart = core::decide(policy, observe(0, 80), std::move(resumed), next, *registry).decision;
    REQUIRE(afterRestart.panic);
    CHECK(afterRestart.panic->panicking);
    CHECK(afterRestart.panic->since == kNine + std::chrono::seconds(4));
    CHECK(afterRestart.desiredReplicas >= before.last.desiredReplicas);  // never down while panicking
    const core::Decision forgotten =
        core::decide(policy, observe(0, 80), core::firstSightHistory(4, next), next, *registry).decision;
    REQUIRE(forgotten.panic);
    CHECK_FALSE(forgotten.panic->panicking);
  }
}

}  // namespace
}  // namespace kubeai::kube
