#include "simulate/algorithm_mode_counter.h"

#include <doctest/doctest.h>

#include <chrono>
#include <optional>

namespace kubeai::simulate {
namespace {

using std::chrono::seconds;

core::TimePoint at(int s) { return core::TimePoint(seconds(s)); }

core::Decision burstDecision(bool panicking, std::optional<int> since) {
  core::Decision decision;
  core::PanicExplanation panic;
  panic.panicking = panicking;
  if (since) {
    panic.since = at(*since);
  }
  decision.panic = panic;
  return decision;
}

core::Decision forecastDecision(bool decided, int forecastDesired, int reactive) {
  core::Decision decision;
  core::ForecastExplanation forecast;
  forecast.decided = decided;
  forecast.forecastDesired = forecastDesired;
  forecast.reactiveReplicas = reactive;
  decision.forecast = forecast;
  return decision;
}

core::PolicySpec bounds(int min, int max) {
  core::PolicySpec spec;
  spec.minReplicas = min;
  spec.maxReplicas = max;
  return spec;
}

TEST_CASE("AlgorithmModeCounter: panics told apart by when each began, seconds in whole intervals") {
  const core::PolicySpec spec = bounds(1, 10);
  AlgorithmModeCounter counter(spec);
  counter.count(burstDecision(false, std::nullopt), 15'000);
  counter.count(burstDecision(true, 15), 15'000);  // a panic begins
  counter.count(burstDecision(true, 15), 15'000);
  counter.count(core::Decision{}, 15'000);          // no metrics: no Burst state, the panic goes on
  counter.count(burstDecision(true, 15), 15'000);  // the same panic: not a second one
  counter.count(burstDecision(false, std::nullopt), 15'000);
  counter.count(burstDecision(true, 120), 100);     // a second, on a 100 ms interval
  PolicySummary summary;
  counter.finish(summary);
  // Counted by the previous decision's state, the decision without metrics
  // split the first panic in two: 3.
  CHECK(summary.panics == 2);
  // Three 15 s intervals and one of 0.1 s, summed in milliseconds: exactly 45.1.
  CHECK(summary.panicSeconds == 45.1);
  CHECK_FALSE(summary.forecastRaised);  // no decision forecast
}

TEST_CASE("AlgorithmModeCounter: a panic that ends and begins again at one decision is two") {
  const core::PolicySpec spec = bounds(1, 10);
  AlgorithmModeCounter counter(spec);
  counter.count(burstDecision(true, 15), 15'000);
  counter.count(burstDecision(true, 15), 15'000);
  counter.count(burstDecision(true, 90), 15'000);  // the first ended, a new one began
  PolicySummary summary;
  counter.finish(summary);
  CHECK(summary.panics == 2);  // by the previous decision's state: 1
  CHECK(summary.panicSeconds == 45);
}

TEST_CASE("AlgorithmModeCounter: a panic without its start time is counted on its first decision") {
  const core::PolicySpec spec = bounds(1, 10);
  AlgorithmModeCounter counter(spec);
  counter.count(burstDecision(true, std::nullopt), 1'000);
  counter.count(burstDecision(true, std::nullopt), 1'000);
  counter.count(burstDecision(false, std::nullopt), 1'000);
  counter.count(burstDecision(true, std::nullopt), 1'000);
  PolicySummary summary;
  counter.finish(summary);
  CHECK(summary.panics == 2);
  CHECK(summary.panicSeconds == 3);
}

TEST_CASE("AlgorithmModeCounter: Burst without a panic is 0 panics, another algorithm none at all") {
  const core::PolicySpec spec = bounds(1, 10);
  AlgorithmModeCounter calm(spec);
  calm.count(burstDecision(false, std::nullopt), 15'000);
  PolicySummary summary;
  calm.finish(summary);
  CHECK(summary.panics == 0);
  CHECK(summary.panicSeconds == 0);
  AlgorithmModeCounter other(spec);
  other.count(core::Decision{}, 15'000);
  PolicySummary none;
  other.finish(none);
  CHECK_FALSE(none.panics);
  CHECK_FALSE(none.panicSeconds);
  CHECK_FALSE(none.forecastRaised);
}

TEST_CASE("forecastRaised: the forecast's answer above MaxRatio's within [minReplicas, maxReplicas]") {
  const core::PolicySpec spec = bounds(2, 10);
  CHECK(forecastRaised(forecastDecision(true, 8, 5).forecast.value(), spec));
  // Both at or past maxReplicas: the same published value.
  CHECK_FALSE(forecastRaised(forecastDecision(true, 14, 12).forecast.value(), spec));
  CHECK(forecastRaised(forecastDecision(true, 14, 9).forecast.value(), spec));
  // Both at or under minReplicas.
  CHECK_FALSE(forecastRaised(forecastDecision(true, 2, 1).forecast.value(), spec));
  // Not decided: MaxRatio's answer stood.
  CHECK_FALSE(forecastRaised(forecastDecision(false, 8, 8).forecast.value(), spec));

  AlgorithmModeCounter counter(spec);
  counter.count(forecastDecision(true, 8, 5), 15'000);
  counter.count(forecastDecision(true, 14, 12), 15'000);
  counter.count(forecastDecision(false, 4, 4), 15'000);
  PolicySummary summary;
  counter.finish(summary);
  CHECK(summary.forecastRaised == 1);
  CHECK_FALSE(summary.panics);
}

}  // namespace
}  // namespace kubeai::simulate
