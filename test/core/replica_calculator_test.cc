#include "core/replica_calculator.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

TEST_CASE("withinTolerance is inclusive at both bounds, as a user reads them") {
  struct Row {
    double value;
    double target;
    double tolerance;
    bool holds;
  };
  const Row rows[] = {
      {72, 80, 0.1, true},     // exactly 1 - tolerance
      {88, 80, 0.1, true},     // exactly 1 + tolerance: fabs(r - 1) <= 0.1 says false here
      {71.9, 80, 0.1, false},  // just below
      {88.1, 80, 0.1, false},  // just above
      {80, 80, 0.0, true},     // zero tolerance holds only at the target
      {80.01, 80, 0.0, false},
      {115, 100, 0.15, true},  // another tolerance, upper bound
      {85, 100, 0.15, true},   // lower bound
      {0, 80, 1.0, true},      // tolerance 1 holds down to zero
      {161, 80, 1.0, false},
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    CAPTURE(row.tolerance);
    CHECK(withinTolerance(row.value / row.target, row.tolerance) == row.holds);
  }
}

TEST_CASE("ceilReplicas treats products within 1e-9 of an integer as that integer") {
  struct Row {
    double value;
    std::int32_t expected;
  };
  const Row rows[] = {
      {3.0, 3},
      {3.0000000001, 3},            // rounding noise, not demand
      {2.9999999999, 3},
      {3.000001, 4},                // real demand
      {0.1 * 3 * 10, 3},            // 3.0000000000000004 in floating point
      {1.1 * 10, 11},               // 11.000000000000002
      {0.0, 0},
      {-2.5, 0},                    // never negative
      {kNaN, 0},
      {kInf, std::numeric_limits<std::int32_t>::max()},  // saturates, no UB
      {1e300, std::numeric_limits<std::int32_t>::max()},
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    CHECK(ceilReplicas(row.value) == row.expected);
  }
}

TEST_CASE("scaleByRatio holds within tolerance, else ceil(max(current, 1) * ratio)") {
  struct Row {
    std::int32_t current;
    double ratio;
    std::int32_t replicas;
    bool held;
  };
  const Row rows[] = {
      {4, 1.0, 4, true},
      {4, 1.1, 4, true},    // upper bound holds
      {4, 0.9, 4, true},    // lower bound holds
      {4, 1.5, 6, false},
      {4, 0.5, 2, false},   // scales down
      {3, 4.0 / 3.0, 4, false},  // 3 * 1.333.. = 4.000000000000001 -> 4, not 5
      {4, 0.0, 0, false},   // a real zero: scale to the floor (min clamps later)
      {0, 2.5, 3, false},   // current 0 counts as 1 for the product
      {0, 1.0, 1, false},   // at zero a ratio within tolerance still wakes one replica
      {0, 0.05, 1, false},  // any load wakes one
      {0, 0.0, 0, false},   // no load stays at zero
      {5, kNaN, 5, true},   // NaN says nothing: hold, never scale to zero
  };
  for (const Row& row : rows) {
    CAPTURE(row.current);
    CAPTURE(row.ratio);
    const RatioScaling scaling = scaleByRatio(row.current, row.ratio, 0.1);
    CHECK(scaling.replicas == row.replicas);
    CHECK(scaling.held == row.held);
  }
}

TEST_CASE("computeRatios: value / target per slot, missing data is absent, zero is data") {
  Policy policy = testing::makePolicy();
  Observation observation;
  observation.currentReplicas = 4;
  observation.latencyP99Ms = 750;        // 1.5
  observation.gpuUtilizationPercent = 0;  // a real zero
  observation.requestQueueDepth = 20;    // 20 / (10 * 4) = 0.5
  // latencyP95Ms: no data

  const SlotRatios ratios = computeRatios(policy.spec, observation);
  REQUIRE(ratios[slotIndex(MetricSlot::kLatencyP99)].has_value());
  CHECK(*ratios[slotIndex(MetricSlot::kLatencyP99)] == doctest::Approx(1.5));
  CHECK_FALSE(ratios[slotIndex(MetricSlot::kLatencyP95)].has_value());
  REQUIRE(ratios[slotIndex(MetricSlot::kGpuUtilization)].has_value());
  CHECK(*ratios[slotIndex(MetricSlot::kGpuUtilization)] == 0.0);
  REQUIRE(ratios[slotIndex(MetricSlot::kRequestQueueDepth)].has_value());
  CHECK(*ratios[slotIndex(MetricSlot::kRequestQueueDepth)] == doctest::Approx(0.5));
}

TEST_CASE("computeRatios leaves a slot out when disabled, unconfigured, targetless or not finite") {
  struct Row {
    const char* what;
    void (*change)(Policy&, Observation&);
    MetricSlot slot;
  };
  const Row rows[] = {
      {"gpu disabled", [](Policy& p, Observation&) { p.spec.metrics.gpuUtilization->enabled = false; },
       MetricSlot::kGpuUtilization},
      {"gpu block absent", [](Policy& p, Observation&) { p.spec.metrics.gpuUtilization.reset(); },
       MetricSlot::kGpuUtilization},
      {"gpu NaN", [](Policy&, Observation& o) { o.gpuUtilizationPercent = kNaN; }, MetricSlot::kGpuUtilization},
      {"gpu +Inf", [](Policy&, Observation& o) { o.gpuUtilizationPercent = kInf; }, MetricSlot::kGpuUtilization},
      {"gpu -Inf", [](Policy&, Observation& o) { o.gpuUtilizationPercent = -kInf; }, MetricSlot::kGpuUtilization},
      {"gpu negative", [](Policy&, Observation& o) { o.gpuUtilizationPercent = -3; }, MetricSlot::kGpuUtilization},
      {"p99 target 0", [](Policy& p, Observation&) { p.spec.metrics.latency->targetP99Ms = 0.0; },
       MetricSlot::kLatencyP99},
      {"p95 target unset", [](Policy& p, Observation&) { p.spec.metrics.latency->targetP95Ms.reset(); },
       MetricSlot::kLatencyP95},
      {"latency disabled", [](Policy& p, Observation&) { p.spec.metrics.latency->enabled = false; },
       MetricSlot::kLatencyP99},
      {"queue target 0", [](Policy& p, Observation&) { p.spec.metrics.requestQueueDepth->targetDepth = 0.0; },
       MetricSlot::kRequestQueueDepth},
      {"queue NaN", [](Policy&, Observation& o) { o.requestQueueDepth = kNaN; }, MetricSlot::kRequestQueueDepth},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    Policy policy = testing::makePolicy();
    Observation observation{2, 400.0, 200.0, 60.0, 5.0};
    REQUIRE(computeRatios(policy.spec, observation)[slotIndex(row.slot)].has_value());
    row.change(policy, observation);
    CHECK_FALSE(computeRatios(policy.spec, observation)[slotIndex(row.slot)].has_value());
  }
}

TEST_CASE("queue depth ratio divides by max(current, 1)") {
  Policy policy = testing::makePolicy();
  Observation observation;
  observation.requestQueueDepth = 15;
  observation.currentReplicas = 0;
  CHECK(*computeRatios(policy.spec, observation)[slotIndex(MetricSlot::kRequestQueueDepth)] ==
        doctest::Approx(1.5));
  observation.currentReplicas = 3;
  CHECK(*computeRatios(policy.spec, observation)[slotIndex(MetricSlot::kRequestQueueDepth)] ==
        doctest::Approx(0.5));
}

}  // namespace
}  // namespace kubeai::core
