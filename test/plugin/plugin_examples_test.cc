// The example plugins in plugins/, loaded from the .so files the build made.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/algorithm_registry.h"
#include "plugin/plugin_loader.h"
#include "plugin_test_util.h"

namespace kubeai::plugin {
namespace {

using testing::InputBuilder;

std::shared_ptr<const core::ScalingAlgorithm> mustLoad(const char* file) {
  auto loaded = loadPlugin(file);
  REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? std::string() : loaded.error().message));
  return loaded.value();
}

core::AlgorithmOutput computeOk(const core::ScalingAlgorithm& algorithm, const InputBuilder& input) {
  auto result = algorithm.compute(input.build());
  REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message));
  return result.value();
}

std::string computeError(const core::ScalingAlgorithm& algorithm, const InputBuilder& input) {
  auto result = algorithm.compute(input.build());
  REQUIRE_FALSE(result.ok());
  return result.error().message;
}

TEST_CASE("the example plugins load from the build's plugins directory") {
  auto loaded = loadPluginDirectory(EXAMPLE_PLUGIN_DIR);
  REQUIRE(loaded.ok());
  auto reports = std::move(loaded).value();
  auto registry = core::AlgorithmRegistry::withBuiltins();
  registerPlugins(*registry, reports);
  for (const auto& report : reports) {
    CHECK_MESSAGE(report.ok(), (report.file.string() + ": " + report.error));
  }
  CHECK(registry->find("CappedSmoothRatio") != nullptr);
  CHECK(registry->find("StepScale") != nullptr);
}

// The smoothing state lives in the loaded plugin, shared by every test case in
// the process: each case uses its own policy names, so none sees another's state.
TEST_CASE("CappedSmoothRatio: one step per row") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  REQUIRE(algorithm->name() == "CappedSmoothRatio");

  struct Row {
    const char* policy;  // a fresh policy per row: its first cycle is unsmoothed
    std::int32_t current;
    double ratio;
    std::int32_t desired;
    const char* reason;
  };
  const Row rows[] = {
      // Idle scales down, capped at -25 %: ceil(8 x 0.2) = 2, limited to 6.
      {"idle", 8, 0.2, 6, "scaled with capped smoothing (smoothed ratio 0.20, capped at -25 %)"},
      // Busy scales up, capped at +50 %: ceil(4 x 2) = 8, limited to 6.
      {"busy", 4, 2.0, 6, "scaled with capped smoothing (smoothed ratio 2.00, capped at +50 %)"},
      // Within the caps: ceil(10 x 1.3) = 13.
      {"moderate", 10, 1.3, 13, "scaled with capped smoothing (smoothed ratio 1.30)"},
      // Within tolerance (inclusive): hold.
      {"calm", 5, 1.1, 5, "within tolerance after smoothing (smoothed ratio 1.10)"},
      {"calm-low", 5, 0.9, 5, "within tolerance after smoothing (smoothed ratio 0.90)"},
      // 10 x 1.2 is 12.000000000000002 in floating point: still 12, not 13.
      {"float", 10, 1.2, 12, "scaled with capped smoothing (smoothed ratio 1.20)"},
      // Small deployments still move one replica although 25 % of 3 is less.
      {"small", 3, 0.0, 2, "scaled with capped smoothing (smoothed ratio 0.00, capped at -25 %)"},
      {"single", 1, 0.0, 0, "scaled with capped smoothing (smoothed ratio 0.00)"},
      // From zero replicas the base is 1: ceil(1 x 3) = 3, limited to 2.
      {"from-zero", 0, 3.0, 2, "scaled with capped smoothing (smoothed ratio 3.00, capped at +50 %)"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.policy);
    const auto output = computeOk(*algorithm, InputBuilder().policy("rows", row.policy).replicas(row.current).gpu(row.ratio));
    CHECK(output.desiredReplicas == row.desired);
    CHECK(output.reason == row.reason);
  }
}

TEST_CASE("CappedSmoothRatio: takes the max of the present ratios only") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  InputBuilder input;
  input.policy("max", "p").replicas(10);
  input.ratio(core::MetricSlot::kLatencyP99, 0.5).ratio(core::MetricSlot::kGpuUtilization, 0.8);
  // max 0.8, not max(1.0, ...): scales down to 8.
  CHECK(computeOk(*algorithm, input).desiredReplicas == 8);
}

TEST_CASE("CappedSmoothRatio: smooths across calls, per policy") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  // First call: smoothed = 1.0, hold.
  CHECK(computeOk(*algorithm, InputBuilder().policy("a", "chat").replicas(10).gpu(1.0)).desiredReplicas == 10);
  // Second: 0.3 x 2.0 + 0.7 x 1.0 = 1.3 -> 13.
  auto output = computeOk(*algorithm, InputBuilder().policy("a", "chat").replicas(10).gpu(2.0));
  CHECK(output.desiredReplicas == 13);
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 1.30)");
  // Third: 0.3 x 2.0 + 0.7 x 1.3 = 1.51 -> ceil(13 x 1.51) = 20, just within the cap ceil(13 x 1.5) = 20.
  output = computeOk(*algorithm, InputBuilder().policy("a", "chat").replicas(13).gpu(2.0));
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 1.51)");
  CHECK(output.desiredReplicas == 20);

  // Same name in another namespace, and another name: their own state.
  output = computeOk(*algorithm, InputBuilder().policy("b", "chat").replicas(10).gpu(2.0));
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 2.00, capped at +50 %)");
  output = computeOk(*algorithm, InputBuilder().policy("a", "other").replicas(10).gpu(0.5));
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 0.50, capped at -25 %)");
}

TEST_CASE("CappedSmoothRatio: tolerance comes from the input") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  const auto output =
      computeOk(*algorithm, InputBuilder().policy("tol", "p").replicas(4).gpu(1.4).withTolerance(0.5));
  CHECK(output.desiredReplicas == 4);
  CHECK(output.reason == "within tolerance after smoothing (smoothed ratio 1.40)");
}

TEST_CASE("CappedSmoothRatio: parameters override the defaults, in percent") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  // maxScaleUpPercent 100: 2 replicas may double to 4 (ceil(2 x 3) = 6 capped).
  auto output = computeOk(*algorithm,
                          InputBuilder().policy("params", "up").replicas(2).gpu(3.0).parameter("maxScaleUpPercent", "100"));
  CHECK(output.desiredReplicas == 4);
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 3.00, capped at +100 %)");
  // maxScaleDownPercent 50: 10 replicas may halve to 5.
  output = computeOk(*algorithm,
                     InputBuilder().policy("params", "down").replicas(10).gpu(0.1).parameter("maxScaleDownPercent", "50"));
  CHECK(output.desiredReplicas == 5);
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 0.10, capped at -50 %)");
  // maxScaleDownPercent 0 blocks scaling down.
  output = computeOk(*algorithm,
                     InputBuilder().policy("params", "never-down").replicas(10).gpu(0.1).parameter("maxScaleDownPercent", "0"));
  CHECK(output.desiredReplicas == 10);
  // smoothingFactor 0.5: 2.0, then 0.5 x 0 + 0.5 x 2.0 = 1.0 -> within tolerance.
  const auto half = [](double ratio) {
    return InputBuilder().policy("params", "half").replicas(4).gpu(ratio).parameter("smoothingFactor", "0.5");
  };
  CHECK(computeOk(*algorithm, half(2.0)).desiredReplicas == 6);
  output = computeOk(*algorithm, half(0.0));
  CHECK(output.desiredReplicas == 4);
  CHECK(output.reason == "within tolerance after smoothing (smoothed ratio 1.00)");
  // smoothingFactor 1: no smoothing at all.
  const auto none = [](double ratio) {
    return InputBuilder().policy("params", "none").replicas(10).gpu(ratio).parameter("smoothingFactor", "1");
  };
  CHECK(computeOk(*algorithm, none(2.0)).desiredReplicas == 15);
  CHECK(computeOk(*algorithm, none(0.8)).desiredReplicas == 8);
}

TEST_CASE("CappedSmoothRatio: a bad parameter is an error naming it and its value") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  struct Row {
    const char* key;
    const char* value;
  };
  const Row rows[] = {
      {"smoothingFactor", "0"},       // must be > 0
      {"smoothingFactor", "1.5"},     // must be <= 1
      {"smoothingFactor", "abc"},     // not a number
      {"smoothingFactor", ""},        // empty
      {"maxScaleUpPercent", "-1"},    // negative
      {"maxScaleUpPercent", "50%"},   // the unit is implied
      {"maxScaleUpPercent", "nan"},   // not finite
      {"maxScaleDownPercent", "150"}, // more than all replicas
      {"maxScaleDownPercent", "inf"}, // not finite
  };
  for (const Row& row : rows) {
    CAPTURE(row.key);
    CAPTURE(row.value);
    const auto error =
        computeError(*algorithm, InputBuilder().policy("bad", row.key).replicas(4).gpu(2.0).parameter(row.key, row.value));
    CHECK(error.rfind(std::string("parameter ") + row.key + ": invalid value \"" +
                          row.value + "\", want ",
                      0) == 0);
  }
  // An error leaves the policy's state alone: the next good call is its first.
  const auto output = computeOk(*algorithm, InputBuilder().policy("bad", "smoothingFactor").replicas(4).gpu(2.0));
  CHECK(output.reason == "scaled with capped smoothing (smoothed ratio 2.00, capped at +50 %)");
}

TEST_CASE("CappedSmoothRatio: concurrent calls from several threads") {
  auto algorithm = mustLoad(CAPPED_SMOOTH_RATIO_SO);
  constexpr int kThreads = 8;
  constexpr int kCalls = 300;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const auto own = InputBuilder().policy("threads", "own-" + std::to_string(t)).replicas(10).gpu(2.0);
      const auto shared = InputBuilder().policy("threads", "shared").replicas(10).gpu(1.0);
      for (int i = 0; i < kCalls; ++i) {
        // A constant ratio smooths to itself: every answer is known.
        auto a = algorithm->compute(own.build());
        auto b = algorithm->compute(shared.build());
        if (!a.ok() || a.value().desiredReplicas != 15 || !b.ok() || b.value().desiredReplicas != 10) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(wrong.load() == 0);
}

TEST_CASE("StepScale: one step per row") {
  auto algorithm = mustLoad(STEP_SCALE_SO);
  REQUIRE(algorithm->name() == "StepScale");
  struct Row {
    std::int32_t current;
    double ratio;
    const char* step;  // nullptr: the default (1)
    std::int32_t desired;
    const char* reason;
  };
  const Row rows[] = {
      {3, 1.5, nullptr, 4, "max ratio 1.50 above 1.10: up 1"},    // up
      {3, 0.5, nullptr, 2, "max ratio 0.50 below 0.90: down 1"},  // down
      {3, 1.05, nullptr, 3, "max ratio 1.05 within tolerance"},   // hold
      {3, 1.1, nullptr, 3, "max ratio 1.10 within tolerance"},    // the bound holds (inclusive)
      {3, 0.9, nullptr, 3, "max ratio 0.90 within tolerance"},    // the other bound
      {0, 0.0, nullptr, 0, "max ratio 0.00 below 0.90: down 1"},  // never below 0
      {2, 3.0, "3", 5, "max ratio 3.00 above 1.10: up 3"},        // step parameter
      {2, 0.1, "5", 0, "max ratio 0.10 below 0.90: down 5"},      // a big step stops at 0
  };
  for (const Row& row : rows) {
    CAPTURE(row.current);
    CAPTURE(row.ratio);
    InputBuilder input;
    input.replicas(row.current).gpu(row.ratio);
    if (row.step != nullptr) {
      input.parameter("step", row.step);
    }
    const auto output = computeOk(*algorithm, input);
    CHECK(output.desiredReplicas == row.desired);
    CHECK(output.reason == row.reason);
  }
}

TEST_CASE("StepScale: takes the max of the present ratios") {
  auto algorithm = mustLoad(STEP_SCALE_SO);
  InputBuilder input;
  input.replicas(4).ratio(core::MetricSlot::kLatencyP99, 0.2).ratio(core::MetricSlot::kRequestQueueDepth, 1.6);
  CHECK(computeOk(*algorithm, input).desiredReplicas == 5);
  // No ratio at all (decide() never asks, but a direct call may): hold.
  const auto output = computeOk(*algorithm, InputBuilder().replicas(4));
  CHECK(output.desiredReplicas == 4);
  CHECK(output.reason == "no metrics available");
}

TEST_CASE("StepScale: a bad step is an error") {
  auto algorithm = mustLoad(STEP_SCALE_SO);
  for (const char* step : {"0", "-1", "abc", "2.5", "", " 3", "+3", "99999999999", "3x"}) {
    CAPTURE(step);
    CHECK(computeError(*algorithm, InputBuilder().replicas(3).gpu(2.0).parameter("step", step)) ==
          std::string("parameter step: invalid value \"") + step +
              "\", want a positive integer (e.g. \"2\")");
  }
}

}  // namespace
}  // namespace kubeai::plugin
