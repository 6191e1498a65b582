// Predictive's model on series whose forecast can be worked out by hand, and
// Predictive through decide() as sequences (time, replicas, load -> published).

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/builtin_algorithms.h"
#include "core/decide.h"
#include "core/holt_forecast.h"
#include "core/predictive_algorithm.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::at;

TEST_CASE("Holt: a linear ramp is forecast exactly from the second observation on") {
  const HoltParameters parameters;
  HoltState state;
  // y = 2 + 0.1 t at t = 0, 15, 30, ... (replicas' worth; 1.5 replicas a 15 s step)
  for (int i = 0; i < 20; ++i) {
    const double t = 15.0 * i;
    holtObserve(state, 2.0 + 0.1 * t, at(static_cast<int>(t)), parameters);
    if (i == 0) {
      CHECK(state.observations == 1);
      CHECK(holtForecast(state, seconds(120)) == doctest::Approx(2.0));  // no trend from one point
      continue;
    }
    CHECK(state.level == doctest::Approx(2.0 + 0.1 * t));
    CHECK(state.trendPerSecond == doctest::Approx(0.1));
    CHECK(holtForecast(state, seconds(120)) == doctest::Approx(2.0 + 0.1 * (t + 120.0)));
  }
}

TEST_CASE("Holt: irregular spacing does not bend a ramp") {
  HoltState state;
  const int times[] = {0, 10, 13, 40, 41, 100};
  for (const int t : times) {
    holtObserve(state, 5.0 + 0.05 * t, at(t), HoltParameters{});
  }
  CHECK(holtForecast(state, seconds(60)) == doctest::Approx(5.0 + 0.05 * 160));
}

TEST_CASE("Holt: a constant series has no trend, a gap restarts the model, time never goes back") {
  HoltState state;
  for (int i = 0; i < 50; ++i) {
    holtObserve(state, 7.0, at(15 * i), HoltParameters{});
  }
  CHECK(state.trendPerSecond == 0.0);
  CHECK(holtForecast(state, seconds(3600)) == 7.0);

  holtObserve(state, 100.0, at(15 * 49), HoltParameters{});  // the same instant: ignored
  CHECK(state.level == 7.0);
  holtObserve(state, 3.0, at(15 * 49 + 601), HoltParameters{});  // past the 10 min gap: a fresh model
  CHECK(state.observations == 1);
  CHECK(state.level == 3.0);
  CHECK(state.trendPerSecond == 0.0);
}

TEST_CASE("Holt: the forecast of a falling series stops at zero") {
  HoltState state;
  holtObserve(state, 4.0, at(0), HoltParameters{});
  holtObserve(state, 2.0, at(10), HoltParameters{});
  CHECK(holtForecast(state, seconds(100)) == 0.0);
}

Policy predictivePolicy(std::string horizon = "") {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.maxReplicas = 100;
  policy.spec.algorithm.name = "Predictive";
  if (!horizon.empty()) {
    policy.spec.algorithm.parameters["horizonSeconds"] = horizon;
  }
  return policy;
}

Observation gpu(std::int32_t current, double percent, std::optional<std::int32_t> ready = std::nullopt) {
  Observation observation;
  observation.currentReplicas = current;
  observation.readyReplicas = ready ? ready : std::optional<std::int32_t>(current);
  observation.gpuUtilizationPercent = percent;
  return observation;
}

struct Step {
  int t;
  std::int32_t current;
  double percent;
  std::int32_t desired;  // expected
};

void runSequence(const Policy& policy, const std::vector<Step>& steps) {
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(steps.front().current, at(steps.front().t));
  for (const Step& step : steps) {
    CAPTURE(step.t);
    Outcome outcome = decide(policy, gpu(step.current, step.percent), std::move(history), at(step.t), *registry);
    CHECK(outcome.decision.desiredReplicas == step.desired);
    REQUIRE(outcome.decision.forecast.has_value());
    history = std::move(outcome.history);
  }
}

TEST_CASE("Predictive: a constant load never scales up, at any horizon") {
  // 4 replicas at 80 % = 4 replicas' worth, for an hour.
  std::vector<Step> steps;
  for (int i = 0; i < 240; ++i) {
    steps.push_back({15 * i, 4, 80.0, 4});
  }
  runSequence(predictivePolicy("600"), steps);
}

TEST_CASE("Predictive: on a ramp it asks a horizon ahead, MaxRatio only for now") {
  // Demand 20 + 0.1 t replicas' worth on 40 replicas: GPU = demand / 40 x 80 %.
  // Horizon 120 s: the forecast at t is 20 + 0.1 (t + 120), under twice the demand.
  const Policy policy = predictivePolicy("120");
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(40, at(0));
  struct Row {
    int t;
    std::int32_t desired;
    bool decided;
  };
  // t = 0: 20 replicas' worth, no trend yet: MaxRatio's 20 (a scale-down, not the forecast's).
  // t = 15: 21.5 now, 33.5 ahead -> 34.  t = 30: 23 now, 35 ahead -> 35.
  const Row rows[] = {{0, 20, false}, {15, 34, true}, {30, 35, true}};
  for (const Row& row : rows) {
    CAPTURE(row.t);
    const double demand = 20.0 + 0.1 * row.t;
    Outcome outcome = decide(policy, gpu(40, demand / 40.0 * 80.0), std::move(history), at(row.t), *registry);
    const Decision& decision = outcome.decision;
    CHECK(decision.recommendedReplicas == row.desired);
    REQUIRE(decision.forecast);
    CHECK(decision.forecast->decided == row.decided);
    CHECK(decision.forecast->horizonSeconds == 120.0);
    CHECK(decision.forecast->horizonSource == HorizonSource::kParameter);
    CHECK(decision.forecast->demandReplicas == doctest::Approx(demand));
    if (row.t > 0) {
      CHECK(decision.forecast->forecastReplicas == doctest::Approx(demand + 12.0));
      CHECK(decision.forecast->trendPerMinute == doctest::Approx(6.0));
      CHECK(decision.reason == kReasonPredictive);
    }
    history = std::move(outcome.history);
  }
}

TEST_CASE("Predictive: a falling forecast never scales down on its own") {
  // Load steady at target (held within tolerance by MaxRatio) with a falling
  // trend in the model: the answer is MaxRatio's hold, not the forecast's fewer.
  const Policy policy = predictivePolicy("300");
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(10, at(0));
  const double percents[] = {88.0, 80.0, 74.0};  // 11, 10, 9.25 replicas' worth: all within tolerance of 10
  int t = 0;
  for (const double percent : percents) {
    Outcome outcome = decide(policy, gpu(10, percent), std::move(history), at(t), *registry);
    CHECK(outcome.decision.recommendedReplicas == 10);
    CHECK(outcome.decision.reason == "within tolerance");
    REQUIRE(outcome.decision.forecast);
    CHECK_FALSE(outcome.decision.forecast->decided);
    history = std::move(outcome.history);
    t += 15;
  }
}

TEST_CASE("Predictive: the scale-down window holds a forecast's answer for its horizon, MaxRatio's for the window") {
  // alpha = beta = 1: the level is the demand now, the trend its last step per
  // second. Horizon 60 s, scale-down window 300 s. At t = 15 the load steps
  // from 10 to 12 replicas' worth: MaxRatio asks 12, the forecast 12 + 2/15 x
  // 60 = 20. Then it is 10 again on the 20 replicas the HPA made (forecast
  // 2, then 10: neither above MaxRatio's 10). The forecast's 20 counts in the
  // window while it looks ahead, up to t = 75; MaxRatio's 12 of the same
  // decision for the whole window, up to t = 315; then 10.
  Policy policy = predictivePolicy("60");
  policy.spec.algorithm.parameters.emplace("alpha", "1");
  policy.spec.algorithm.parameters.emplace("beta", "1");
  policy.spec.scaleDown = ScalingRules{.stabilizationWindowSeconds = 300, .policies = {}};
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(10, at(0));
  struct Row {
    int t;
    std::int32_t current;
    double demand;  // replicas' worth
    std::int32_t desired;
    bool decided;
  };
  const Row rows[] = {{0, 10, 10.0, 10, false},  {15, 10, 12.0, 20, true},  {30, 20, 10.0, 20, false},
                      {60, 20, 10.0, 20, false}, {75, 20, 10.0, 12, false}, {90, 12, 10.0, 12, false},
                      {300, 12, 10.0, 12, false}, {315, 12, 10.0, 10, false}};
  for (const Row& row : rows) {
    CAPTURE(row.t);
    Outcome outcome = decide(policy, gpu(row.current, row.demand / row.current * 80.0), std::move(history),
                             at(row.t), *registry);
    CHECK(outcome.decision.desiredReplicas == row.desired);
    REQUIRE(outcome.decision.forecast);
    CHECK(outcome.decision.forecast->decided == row.decided);
    history = std::move(outcome.history);
  }
}

// alpha = beta = 1, horizon 60 s, scale-down window 300 s: a sequence from an
// empty history (no first-sight recommendation in the window).
struct WindowRow {
  int t;
  std::int32_t current;
  std::int32_t ready;
  double percent;  // GPU, of a target of 80 %
  std::int32_t desired;
  bool decided;
};

void runWindowRows(const std::vector<WindowRow>& rows, std::int32_t window = 300) {
  Policy policy = predictivePolicy("60");
  policy.spec.algorithm.parameters.emplace("alpha", "1");
  policy.spec.algorithm.parameters.emplace("beta", "1");
  policy.spec.scaleDown = ScalingRules{.stabilizationWindowSeconds = window, .policies = {}};
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history;
  for (const WindowRow& row : rows) {
    CAPTURE(row.t);
    Outcome outcome =
        decide(policy, gpu(row.current, row.percent, row.ready), std::move(history), at(row.t), *registry);
    CHECK(outcome.decision.desiredReplicas == row.desired);
    REQUIRE(outcome.decision.forecast);
    CHECK(outcome.decision.forecast->decided == row.decided);
    history = std::move(outcome.history);
  }
}

TEST_CASE("Predictive: past its horizon the window holds MaxRatio's answer as the decision would have held it") {
  SUBCASE("pods starting and the ready ones over target: MaxRatio's fewer is held at current") {
    // t = 0: 5 of 10 ready at 96 %: 6 replicas' worth; the hold of pods
    // starting keeps 10. t = 15: 6 ready at 96 %: 7.2 worth, MaxRatio 8 (held
    // at 10: the ready pods are over target), the forecast 7.2 + 1.2 / 15 x 60
    // = 12. t = 305 (t = 0's answer out of the window): 12 ready at 48 %, 7.2
    // worth, MaxRatio 8; t = 15's counts as 10, not as MaxRatio's bare 8.
    runWindowRows({{0, 10, 5, 96.0, 10, false}, {15, 10, 6, 96.0, 12, true}, {305, 12, 12, 48.0, 10, false}});
  }
  SUBCASE("the forecast holding within tolerance keeps our change on its way; MaxRatio's fewer voids it") {
    // t = 15: 10 -> 12 worth: the forecast's 20 is published. t = 30: 14 of
    // the 20, 12.4 worth: MaxRatio 13 (fewer: against our change), the
    // forecast 12.4 + 0.4 / 15 x 60 = 14, within tolerance of 14: the hold
    // keeps the change, 20. t = 320 (t = 15's answer out): 20 at 40 %, 10
    // worth: t = 30's counts as MaxRatio's 13, not as the change it kept.
    runWindowRows({{0, 10, 10, 80.0, 10, false},
                   {15, 10, 10, 96.0, 20, true},
                   {30, 14, 14, 12.4 / 14.0 * 80.0, 20, true},
                   {320, 20, 20, 40.0, 13, false}});
  }
}

TEST_CASE("Predictive: a forecast below our change on its way, which MaxRatio's hold keeps, does not lower it") {
  // No scale-down window. t = 15: the forecast's 20 is published. t = 30: 14
  // of the 20, 13 replicas' worth: MaxRatio's 13 / 14 is within tolerance, a
  // hold, which keeps our 20; the forecast's 13 + 1 / 15 x 60 = 17 is no hold.
  // The decision is MaxRatio's 20, not the forecast's 17 (published before).
  runWindowRows({{0, 10, 10, 80.0, 10, false},
                 {15, 10, 10, 96.0, 20, true},
                 {30, 14, 14, 13.0 / 14.0 * 80.0, 20, false}},
                0);
}

TEST_CASE("Predictive: the horizon is the parameter, else the measured start-up, else the default") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictivePolicy();
  History history = firstSightHistory(2, at(0));
  auto step = [&](int t, std::int32_t current, std::int32_t ready) {
    Outcome outcome = decide(policy, gpu(current, 80.0, ready), std::move(history), at(t), *registry);
    history = std::move(outcome.history);
    return *outcome.decision.forecast;
  };
  ForecastExplanation seen = step(0, 2, 2);
  CHECK(seen.horizonSource == HorizonSource::kDefault);
  CHECK(seen.horizonSeconds == std::chrono::duration<double>(kDefaultHorizon).count());
  step(15, 4, 2);   // asked for 4 at t = 15
  step(30, 4, 3);
  seen = step(105, 4, 4);  // all 4 ready at t = 105: 90 s
  CHECK(seen.horizonSource == HorizonSource::kMeasured);
  CHECK(seen.horizonSeconds == 90.0);

  Policy fixed = predictivePolicy("45");
  Outcome outcome = decide(fixed, gpu(4, 80.0, 4), std::move(history), at(120), *registry);
  CHECK(outcome.decision.forecast->horizonSource == HorizonSource::kParameter);
  CHECK(outcome.decision.forecast->horizonSeconds == 45.0);
}

TEST_CASE("Predictive: a restart resumes the models, the start-up time and a panic from the status") {
  // The first process runs a ramp; the second starts from what the status
  // kept (Decision::forecastModels, measuredStartup) and forecasts as the
  // first would have.
  const Policy policy = predictivePolicy("120");
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history = firstSightHistory(30, at(0));
  Decision last;
  for (int t = 0; t <= 30; t += 15) {
    Outcome outcome = decide(policy, gpu(30, (20.0 + 0.1 * t) / 30.0 * 80.0), std::move(history), at(t), *registry);
    history = std::move(outcome.history);
    last = outcome.decision;
  }
  REQUIRE(last.forecastModels.size() == 1);
  PublishedSeed seed{last.desiredReplicas, at(30)};
  seed.forecastModels = last.forecastModels;
  seed.measuredStartup = std::chrono::milliseconds(95'000);
  seed.panicSince = at(10);
  seed.panicLastOverAt = at(20);
  seed.maxPanicReplicas = 9;
  const History resumed = firstSightHistory(30, at(40), seed);
  REQUIRE(resumed.memory.forecasts.size() == 1);
  CHECK(resumed.memory.forecasts[0].trendPerSecond == doctest::Approx(0.1));
  CHECK(resumed.startup.samplesMs == std::vector<std::int64_t>{95'000});
  CHECK(resumed.memory.burst.panicSince == at(10));
  CHECK(resumed.memory.burst.maxPanicReplicas == 9);
  Outcome next = decide(policy, gpu(30, (20.0 + 0.1 * 45) / 30.0 * 80.0), resumed, at(45), *registry);
  REQUIRE(next.decision.forecast);
  CHECK(next.decision.forecast->forecastReplicas == doctest::Approx(20.0 + 0.1 * 45 + 12.0));
  CHECK(next.decision.recommendedReplicas == 37);

  // A model from a status anyone may write is brought within live demand's bounds (4 x maxReplicas).
  PublishedSeed wild{30, at(30)};
  wild.forecastModels = {HoltState{MetricSlot::kGpuUtilization, 1e300, 1e300, at(30), 12}};
  Outcome tamed = decide(policy, gpu(30, 80.0), firstSightHistory(30, at(40), wild), at(45), *registry);
  CHECK(tamed.decision.forecast->forecastReplicas <= 2 * 30.0 + 1e-9);
  CHECK(std::isfinite(tamed.decision.forecast->trendPerMinute));
  CHECK(std::abs(tamed.decision.forecast->trendPerMinute) <= 400.0 / 5.0 * 60.0);

  // A model stamped after now (another node's clock) is not resumed.
  PublishedSeed ahead{4, at(30)};
  ahead.forecastModels = last.forecastModels;
  CHECK(firstSightHistory(4, at(20), ahead).memory.forecasts.empty());
}

TEST_CASE("Predictive: parameters are checked, naming the field") {
  const PredictiveAlgorithm predictive;
  auto check = [&](AlgorithmParameters parameters) {
    return predictive.validateParameters(ValidateInput{"chat", "default", &parameters, {}});
  };
  CHECK(check({}).ok());
  CHECK(check({{"horizonSeconds", "120"}, {"alpha", "0.3"}, {"beta", "1"}}).ok());
  const auto zero = check({{"horizonSeconds", "0"}});
  REQUIRE_FALSE(zero.ok());
  CHECK(zero.error().message == "spec.algorithm.parameters.horizonSeconds: must be > 0 and <= 3600 (Predictive), got 0");
  const auto text = check({{"alpha", "fast"}});
  REQUIRE_FALSE(text.ok());
  CHECK(text.error().message ==
        "spec.algorithm.parameters.alpha: must be a number > 0 and <= 1 (Predictive), got \"fast\"");
  const auto unknown = check({{"horizon", "60"}});
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().message ==
        "spec.algorithm.parameters.horizon: unknown parameter of Predictive (known: horizonSeconds, alpha, beta)");
}

}  // namespace
}  // namespace kubeai::core

namespace kubeai::core {
namespace {

// The review's cases, each as the sequence that went wrong.

Outcome step(const Policy& policy, History history, int ms, std::int32_t current, double percent,
             std::optional<std::int32_t> ready, const AlgorithmRegistry& registry) {
  Observation observation;
  observation.currentReplicas = current;
  observation.readyReplicas = ready;
  observation.gpuUtilizationPercent = percent;
  return decide(policy, observation, std::move(history), at(0) + std::chrono::milliseconds(ms), registry);
}

Policy predictive(std::string horizon) {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.maxReplicas = 100;
  policy.spec.algorithm.name = "Predictive";
  policy.spec.algorithm.parameters["horizonSeconds"] = std::move(horizon);
  return policy;
}

TEST_CASE("Predictive: a cycle milliseconds after another moves no trend") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictive("120");
  History history = firstSightHistory(10, at(0));
  Outcome a = step(policy, std::move(history), 0, 10, 80.0, 10, *registry);
  Outcome b = step(policy, std::move(a.history), 15'000, 10, 80.0, 10, *registry);
  Outcome c = step(policy, std::move(b.history), 15'050, 10, 81.0, 10, *registry);  // a triggered cycle
  CHECK(c.decision.recommendedReplicas == 10);
  CHECK(std::abs(c.decision.forecast->trendPerMinute) < 0.01);
  Outcome d = step(policy, std::move(c.history), 30'000, 10, 81.0, 10, *registry);
  CHECK(d.decision.recommendedReplicas == 10);
}

TEST_CASE("Predictive: a trend is never projected across a gap") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictive("120");
  History history = firstSightHistory(14, at(0));
  // A ramp of 6 replicas' worth a minute, then 9 minutes without metrics, then flat.
  for (int t = 0; t <= 60; t += 15) {
    Outcome o = step(policy, std::move(history), t * 1000, 14, (8.0 + 0.1 * t) / 14.0 * 80.0, 14, *registry);
    history = std::move(o.history);
  }
  Outcome flat = step(policy, std::move(history), (60 + 540) * 1000, 14, 80.0, 14, *registry);
  CHECK(flat.decision.forecast->observations == 1);
  CHECK(flat.decision.forecast->forecastReplicas == doctest::Approx(14.0));
  CHECK(flat.decision.recommendedReplicas == 14);
}

TEST_CASE("Predictive: a forecast within tolerance of current is the larger answer against a reactive scale-down") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictive("120");
  History history = firstSightHistory(10, at(0));
  // Demand 7 then 7.25 replicas' worth on 10, a minute apart: MaxRatio asks 8.
  Outcome a = step(policy, std::move(history), 0, 10, 7.0 / 10 * 80.0, 10, *registry);
  Outcome b = step(policy, std::move(a.history), 60'000, 10, 7.25 / 10 * 80.0, 10, *registry);
  // trend 0.25 a minute: 7.25 + 0.5 = 7.75 -> 0.775: below tolerance -> 8, no hold.
  CHECK(b.decision.forecast->forecastDesired == 8);
  Outcome c = step(policy, std::move(b.history), 75'000, 10, 8.5 / 10 * 80.0, 10, *registry);
  // Holt: level 7.91, trend 0.73 a minute: 9.36 ahead, within tolerance of
  // 10, against MaxRatio's 9. But b's 8 is on its way (15 s ago): that hold
  // would keep it, 8, below MaxRatio's 9, and a forecast never lowers the
  // answer: the decision is MaxRatio's.
  CHECK(b.decision.desiredReplicas == 8);
  CHECK(c.decision.forecast->reactiveReplicas == 9);
  CHECK(c.decision.forecast->forecastDesired == 10);
  CHECK_FALSE(c.decision.forecast->decided);
  CHECK(c.decision.recommendedReplicas == 9);
  CHECK(c.decision.desiredReplicas == 9);
  CHECK(c.decision.reason == kReasonMaxRatio);

  History calm = firstSightHistory(10, at(0));
  Outcome x = step(policy, std::move(calm), 0, 10, 6.5 / 10 * 80.0, 10, *registry);
  Outcome y = step(policy, std::move(x.history), 60'000, 10, 7.5 / 10 * 80.0, 10, *registry);
  // reactive: 0.75 -> 8; forecast: 7.5 + 2 x 1 = 9.5 -> 0.95, within tolerance: hold 10.
  CHECK(y.decision.forecast->reactiveReplicas == 8);
  CHECK(y.decision.forecast->forecastDesired == 10);
  CHECK(y.decision.recommendedReplicas == 10);
  CHECK(y.decision.forecast->decided);
}

TEST_CASE("Predictive: an edit of a metric's target restarts its model, not a trend") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictive("120");
  History history = firstSightHistory(10, at(0));
  Outcome a = step(policy, std::move(history), 0, 10, 40.0, 10, *registry);
  Outcome b = step(policy, std::move(a.history), 15'000, 10, 40.0, 10, *registry);
  policy.spec.metrics.gpuUtilization->targetPercentage = 40.0;  // from 80: the same load is twice the demand
  Outcome c = step(policy, std::move(b.history), 30'000, 10, 40.0, 10, *registry);
  CHECK(c.decision.forecast->observations == 1);
  CHECK(c.decision.forecast->trendPerMinute == 0.0);
  CHECK(c.decision.recommendedReplicas == 10);
}

// Only the custom metric `waiting` (custom[0], slot 4): AverageValue 5 per
// replica, so on 10 replicas its demand is waiting / 5 replicas' worth.
Policy predictiveOnWaiting() {
  Policy policy = predictive("120");
  policy.spec.metrics.gpuUtilization.reset();
  CustomMetricSpec waiting;
  waiting.name = "waiting";
  waiting.prometheusQuery = "sum(waiting)";
  waiting.targetType = MetricTargetType::kAverageValue;
  waiting.targetValue = 5.0;
  policy.spec.metrics.custom = {waiting};
  return policy;
}

Outcome stepWaiting(const Policy& policy, History history, int t, std::optional<double> waiting,
                    const AlgorithmRegistry& registry) {
  Observation observation;
  observation.currentReplicas = 10;
  observation.readyReplicas = 10;
  observation.custom[0] = waiting;
  return decide(policy, observation, std::move(history), at(t), registry);
}

TEST_CASE("Predictive: a custom metric renamed in its slot is another series: its model starts again") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictiveOnWaiting();
  // waiting 50, 55 at t = 0, 15: demand 10, 11; level 11, trend 1/15 a second.
  Outcome a = stepWaiting(policy, firstSightHistory(10, at(0)), 0, 50.0, *registry);
  Outcome b = stepWaiting(policy, std::move(a.history), 15, 55.0, *registry);
  REQUIRE(b.decision.forecast);
  CHECK(b.decision.forecast->observations == 2);
  CHECK(b.decision.forecast->trendPerMinute == doctest::Approx(4.0));
  CHECK(b.decision.forecast->forecastReplicas == doctest::Approx(11.0 + 120.0 / 15.0));  // 19
  CHECK(b.decision.recommendedReplicas == 19);

  SUBCASE("renamed, with data: the model starts from the new metric's first observation") {
    policy.spec.metrics.custom[0].name = "queued";  // same slot, target and type
    // queued 40 at t = 30: demand 8. The old model would have gone on:
    // predicted 12, level 10, trend 0.04 a second, forecast 14.8 -> 15.
    Outcome c = stepWaiting(policy, std::move(b.history), 30, 40.0, *registry);
    REQUIRE(c.decision.forecast);
    CHECK(c.decision.forecast->observations == 1);
    CHECK(c.decision.forecast->demandReplicas == doctest::Approx(8.0));
    CHECK(c.decision.forecast->trendPerMinute == 0.0);
    CHECK(c.decision.forecast->forecastReplicas == doctest::Approx(8.0));
    CHECK(c.decision.recommendedReplicas == 8);
    REQUIRE(c.decision.forecastModels.size() == 1);
    CHECK(c.decision.forecastModels[0].level == doctest::Approx(8.0));
  }

  SUBCASE("not renamed: the same series goes on") {
    Outcome c = stepWaiting(policy, std::move(b.history), 30, 40.0, *registry);
    REQUIRE(c.decision.forecast);
    CHECK(c.decision.forecast->observations == 3);
    CHECK(c.decision.forecast->forecastReplicas == doctest::Approx(10.0 + 0.04 * 120.0));  // 14.8
    CHECK(c.decision.recommendedReplicas == 15);
  }

  SUBCASE("renamed while it has no data: the old model is not carried under the new name") {
    Outcome kept = stepWaiting(policy, History(b.history), 30, std::nullopt, *registry);
    CHECK(kept.decision.forecastModels.size() == 1);
    policy.spec.metrics.custom[0].name = "queued";
    Outcome c = stepWaiting(policy, std::move(b.history), 30, std::nullopt, *registry);
    CHECK_FALSE(c.decision.forecast);
    CHECK(c.decision.forecastModels.empty());
  }
}

// Custom metrics by name -> reading, for a policy whose list is `names`
// (each an AverageValue of 5 a replica, at 10 replicas: reading / 5 is the
// demand in replicas' worth).
Outcome stepCustom(Policy& policy, const std::vector<std::string>& names, History history, int t,
                   const std::vector<std::optional<double>>& readings, const AlgorithmRegistry& registry) {
  CustomMetricSpec metric = predictiveOnWaiting().spec.metrics.custom[0];
  policy.spec.metrics.custom.clear();
  Observation observation;
  observation.currentReplicas = 10;
  observation.readyReplicas = 10;
  for (std::size_t i = 0; i < names.size(); ++i) {
    metric.name = names[i];
    policy.spec.metrics.custom.push_back(metric);
    observation.custom[i] = readings[i];
  }
  return decide(policy, observation, std::move(history), at(t), registry);
}

const HoltState* modelIn(const Decision& decision, MetricSlot slot) {
  const HoltState* found = nullptr;
  for (const HoltState& model : decision.forecastModels) {
    if (model.slot == slot) {
      REQUIRE(found == nullptr);  // one model a slot
      found = &model;
    }
  }
  return found;
}

TEST_CASE("Predictive: a custom metric moved in the list by an edit keeps its model") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictiveOnWaiting();
  // waiting 50, 55 at t = 0, 15 (demand 10, 11: level 11, trend 1/15 a
  // second); running 20, 20 (demand 4, no trend). At t = 30 waiting reads 40
  // (demand 8): its model goes on, predicted 12, level 0.5 x 8 + 0.5 x 12 =
  // 10, where a restarted one would be 8 after one observation.
  Outcome a = stepCustom(policy, {"waiting", "running"}, firstSightHistory(10, at(0)), 0, {50.0, 20.0}, *registry);
  Outcome b = stepCustom(policy, {"waiting", "running"}, std::move(a.history), 15, {55.0, 20.0}, *registry);
  REQUIRE(b.decision.forecastModels.size() == 2);
  const auto wentOn = [](const HoltState* model, double level) {
    REQUIRE(model != nullptr);
    CHECK(model->observations == 3);
    CHECK(model->level == doctest::Approx(level));
  };

  SUBCASE("swapped") {
    Outcome c = stepCustom(policy, {"running", "waiting"}, std::move(b.history), 30, {20.0, 40.0}, *registry);
    REQUIRE(c.decision.forecastModels.size() == 2);
    wentOn(modelIn(c.decision, customSlot(1)), 10.0);
    wentOn(modelIn(c.decision, customSlot(0)), 4.0);
    // The forecast is waiting's, as before the edit: 10 + 0.04 x 120 = 14.8 -> 15.
    REQUIRE(c.decision.forecast);
    CHECK(c.decision.forecast->slot == customSlot(1));
    CHECK(c.decision.forecast->forecastReplicas == doctest::Approx(14.8));
    CHECK(c.decision.recommendedReplicas == 15);
  }
  SUBCASE("another inserted above both") {
    Outcome c = stepCustom(policy, {"queued", "waiting", "running"}, std::move(b.history), 30, {5.0, 40.0, 20.0},
                           *registry);
    REQUIRE(c.decision.forecastModels.size() == 3);
    wentOn(modelIn(c.decision, customSlot(1)), 10.0);
    wentOn(modelIn(c.decision, customSlot(2)), 4.0);
    CHECK(modelIn(c.decision, customSlot(0))->observations == 1);  // queued's own, new
  }
  SUBCASE("the one above removed") {
    Outcome c = stepCustom(policy, {"running"}, std::move(b.history), 30, {20.0}, *registry);
    REQUIRE(c.decision.forecastModels.size() == 1);
    wentOn(modelIn(c.decision, customSlot(0)), 4.0);
    CHECK(c.history.memory.forecasts.size() == 1);  // waiting's model went with it
  }
  SUBCASE("rotated while only one has data: every model is kept, in its metric's slot") {
    Outcome three = stepCustom(policy, {"waiting", "running", "queued"}, std::move(b.history), 30, {40.0, 20.0, 5.0},
                               *registry);
    Outcome c = stepCustom(policy, {"running", "queued", "waiting"}, std::move(three.history), 45,
                           {20.0, std::nullopt, std::nullopt}, *registry);
    REQUIRE(c.decision.forecastModels.size() == 3);
    CHECK(modelIn(c.decision, customSlot(0))->observations == 4);  // running
    CHECK(modelIn(c.decision, customSlot(1))->observations == 1);  // queued, as it stood
    CHECK(modelIn(c.decision, customSlot(2))->observations == 3);  // waiting, as it stood
    CHECK(modelIn(c.decision, customSlot(2))->level == doctest::Approx(10.0));
  }
  SUBCASE("renamed while another moved: the renamed one starts again") {
    Outcome c = stepCustom(policy, {"running", "queued"}, std::move(b.history), 30, {20.0, 40.0}, *registry);
    REQUIRE(c.decision.forecastModels.size() == 2);
    wentOn(modelIn(c.decision, customSlot(0)), 4.0);
    CHECK(modelIn(c.decision, customSlot(1))->observations == 1);
    CHECK(modelIn(c.decision, customSlot(1))->level == doctest::Approx(8.0));
  }
}

TEST_CASE("Predictive: a metric's identity is its slot for the seed four, its name and type for a custom one") {
  static_assert(metricIdentity(MetricSlot::kGpuUtilization, "gpuUtilization", "Utilization") == 3);
  static_assert(metricIdentity(customSlot(0), "ab", "c") != metricIdentity(customSlot(0), "a", "bc"));
  static_assert(metricIdentity(customSlot(0), "waiting", "Value") != metricIdentity(customSlot(0), "waiting", "AverageValue"));
  // The slot of a custom metric is not part of it: moved, it is the same metric.
  static_assert(metricIdentity(customSlot(0), "waiting", "Value") == metricIdentity(customSlot(3), "waiting", "Value"));
  CHECK(metricIdentity(customSlot(0), "", "") > kMaxMetricSlots);
}

TEST_CASE("Predictive: a hold without metrics carries the models as they stood, and a gap still restarts them") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictiveOnWaiting();
  Outcome a = stepWaiting(policy, firstSightHistory(10, at(0)), 0, 50.0, *registry);
  Outcome b = stepWaiting(policy, std::move(a.history), 15, 55.0, *registry);
  REQUIRE(b.decision.forecastModels.size() == 1);
  Outcome gap = stepWaiting(policy, std::move(b.history), 30, std::nullopt, *registry);
  CHECK(gap.decision.reason == kReasonNoMetrics);
  CHECK_FALSE(gap.decision.forecast);
  REQUIRE(gap.decision.forecastModels.size() == 1);
  const HoltState& model = gap.decision.forecastModels[0];
  CHECK(model.slot == customSlot(0));
  CHECK(model.level == doctest::Approx(11.0));
  CHECK(model.trendPerSecond == doctest::Approx(1.0 / 15.0));
  CHECK(model.at == at(15));
  CHECK(model.observations == 2);

  // Metrics back 45 s after the last observation: the trend goes on (70 at
  // t = 60 is demand 14, on the line: level 14, trend 1/15, forecast 14 + 8).
  Outcome back = stepWaiting(policy, History(gap.history), 60, 70.0, *registry);
  REQUIRE(back.decision.forecast);
  CHECK(back.decision.forecast->observations == 3);
  CHECK(back.decision.forecast->trendPerMinute == doctest::Approx(4.0));
  CHECK(back.decision.forecast->forecastReplicas == doctest::Approx(22.0));
  // Back after more than 2 minutes: the model starts again.
  Outcome late = stepWaiting(policy, std::move(gap.history), 15 + 121, 70.0, *registry);
  REQUIRE(late.decision.forecast);
  CHECK(late.decision.forecast->observations == 1);
  CHECK(late.decision.forecast->forecastReplicas == doctest::Approx(14.0));

  // Another algorithm's hold without metrics carries none.
  Policy plain = policy;
  plain.spec.algorithm.name = "MaxRatio";
  plain.spec.algorithm.parameters.clear();
  CHECK(stepWaiting(plain, std::move(back.history), 75, std::nullopt, *registry).decision.forecastModels.empty());
}

TEST_CASE("Predictive: a forecast is at most twice the demand now") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictive("600");
  History history = firstSightHistory(10, at(0));
  Outcome a = step(policy, std::move(history), 0, 10, 40.0, 10, *registry);     // 5 replicas' worth
  Outcome b = step(policy, std::move(a.history), 15'000, 10, 48.0, 10, *registry);  // 6, +4 a minute
  // 6 + 600 s x 4/60 = 46 uncapped; 12 capped.
  CHECK(b.decision.forecast->forecastReplicas == doctest::Approx(12.0));
  CHECK(b.decision.recommendedReplicas == 12);
}

TEST_CASE("Predictive: the smoothing's residue never keeps a replica from zero") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictive("120");
  policy.spec.minReplicas = 0;
  policy.spec.metrics.gpuUtilization.reset();
  policy.spec.metrics.requestQueueDepth = RequestQueueDepthMetricSpec{true, 10.0, ""};
  History history = firstSightHistory(1, at(0));
  int t = 0;
  for (const double waiting : {20.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0}) {
    Observation observation;
    observation.currentReplicas = 1;
    observation.readyReplicas = 1;
    observation.requestQueueDepth = waiting;
    Outcome o = decide(policy, observation, std::move(history), at(t), *registry);
    history = std::move(o.history);
    if (t >= 60) {
      CAPTURE(t);
      CHECK(o.decision.recommendedReplicas == 0);
    }
    t += 15;
  }
}

TEST_CASE("Predictive: our own scale-up, unseen by ready replicas, is no trend") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictive("120");
  policy.spec.metrics.gpuUtilization->targetPercentage = 40.0;
  History history = firstSightHistory(4, at(0));
  // 4 pods at 2x the target (8 replicas' worth), ready unknown; the HPA
  // applies 8 while the metrics still describe the 4.
  Outcome a = step(policy, std::move(history), 0, 4, 160.0 / 2, std::nullopt, *registry);
  Outcome b = step(policy, std::move(a.history), 15'000, 4, 160.0 / 2, std::nullopt, *registry);
  Outcome c = step(policy, std::move(b.history), 30'000, 8, 160.0 / 2, std::nullopt, *registry);
  CHECK(c.decision.forecast->trendPerMinute == doctest::Approx(0.0));
  CHECK(c.decision.recommendedReplicas == 16);  // MaxRatio's: 2 x 8, nothing more
}

TEST_CASE("Predictive: a GPU reaching 100 % while pods start is no jump of the load") {
  // 4 asked for, 2 ready, target 60 %. At 99 % the ratio counts the 2 ready
  // (1.65 x 2/4): 3.3 replicas' worth. At 100 % MaxRatio keeps it whole
  // (1.667 x 4 -> 7, its lower bound), but to the model it is still the 2
  // ready pods' reading, 3.33: no trend of 0.22 a second, whose forecast
  // (twice the demand, 13.33 -> 14) was published before.
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictive("120");
  policy.spec.metrics.gpuUtilization->targetPercentage = 60.0;
  Outcome a = step(policy, firstSightHistory(4, at(0)), 0, 4, 99.0, 2, *registry);
  CHECK(a.decision.forecast->demandReplicas == doctest::Approx(3.3));
  Outcome b = step(policy, std::move(a.history), 15'000, 4, 100.0, 2, *registry);
  CHECK(b.decision.forecast->demandReplicas == doctest::Approx(100.0 / 60 * 2));
  CHECK(b.decision.forecast->forecastReplicas < 4.0);
  CHECK_FALSE(b.decision.forecast->decided);
  CHECK(b.decision.recommendedReplicas == 7);  // MaxRatio's, on the whole ratio
}

TEST_CASE("Predictive: the start-up hold over a forecast's answer is the hold's decision, not the forecast's") {
  // 10 asked for, 3 ready, target 60 %. The load climbs from 2.5 to 3.5
  // replicas' worth in 15 s: the forecast asks 7 (twice the demand), above
  // MaxRatio's 4 but below the 10 asked for, while the 3 ready pods are over
  // their target (70 %): the hold keeps 10, and it, not the forecast, decided.
  const auto registry = AlgorithmRegistry::withBuiltins();
  Policy policy = predictive("120");
  policy.spec.metrics.gpuUtilization->targetPercentage = 60.0;
  Outcome a = step(policy, firstSightHistory(10, at(0)), 0, 10, 50.0, 3, *registry);
  Outcome b = step(policy, std::move(a.history), 15'000, 10, 70.0, 3, *registry);
  REQUIRE(b.decision.forecast);
  CHECK(b.decision.forecast->reactiveReplicas == 4);
  CHECK(b.decision.forecast->forecastDesired == 7);
  CHECK(b.decision.recommendedReplicas == 10);
  CHECK(b.decision.reason == "holding current replicas: the ready ones are over target while the rest start");
  CHECK_FALSE(b.decision.forecast->decided);
  // The ratio is MaxRatio's, not the forecast's (status: decidedRatio beside
  // decided false), and the texts name the hold.
  REQUIRE(b.decision.forecast->reactiveRatio);
  REQUIRE(b.decision.ratio);
  CHECK(*b.decision.ratio == doctest::Approx(*b.decision.forecast->reactiveRatio));
  CHECK(forecastOutcome(*b.decision.forecast, b.decision.recommendedReplicas) == "held (pods starting)");
}

TEST_CASE("forecastOutcome: the forecast's answer, MaxRatio's, or a hold's") {
  ForecastExplanation forecast;
  forecast.reactiveReplicas = 4;
  forecast.forecastDesired = 7;
  forecast.decided = true;
  CHECK(forecastOutcome(forecast, 7) == "the forecast decided");
  forecast.decided = false;
  CHECK(forecastOutcome(forecast, 4) == "MaxRatio decided");
  CHECK(forecastOutcome(forecast, 10) == "held (pods starting)");
}

TEST_CASE("Predictive: a clock set back restarts the model, and one absurd reading does not linger") {
  const auto registry = AlgorithmRegistry::withBuiltins();
  const Policy policy = predictive("120");
  History history = firstSightHistory(4, at(3600));
  Outcome a = step(policy, std::move(history), 3'600'000, 4, 40.0, 4, *registry);
  Outcome b = step(policy, std::move(a.history), 0, 4, 40.0, 4, *registry);  // an hour back
  CHECK(b.decision.forecast->observations == 1);
  Outcome spike = step(policy, std::move(b.history), 15'000, 4, 1e300, 4, *registry);
  CHECK(spike.decision.forecast->demandReplicas == doctest::Approx(400.0));  // 4 x maxReplicas
  Outcome after = step(policy, std::move(spike.history), 30'000, 4, 40.0, 4, *registry);
  CHECK(std::isfinite(after.decision.forecast->forecastReplicas));
}

}  // namespace
}  // namespace kubeai::core
