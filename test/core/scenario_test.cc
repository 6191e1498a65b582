// Decisions through time, as sequences: (time, current replicas, load) ->
// the value published and what limited it, row by row against the HPA's rules
// (Kubernetes pkg/controller/podautoscaler/horizontal.go:
// stabilizeRecommendationWithBehaviors, convertDesiredReplicasWithBehaviorRate,
// recordInitialRecommendation). Each sequence runs as the server runs it: the
// first row is the policy's first sight (core::firstSightHistory), and the
// history of each decision goes into the next.
//
// Two of the rows are decided outside the core, and their rows here
// say where they are tested: a hung Prometheus (the RPC path refuses a
// decision by its age, test/serve serve_time_test.py) and a rolling update's
// surge (current is spec.replicas, test/kube/adapters).

#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "core/decide.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

using testing::at;

constexpr double kTarget = 80.0;  // the GPU target of every scenario

struct Row {
  int t;                   // seconds
  std::int32_t current;    // the target's spec.replicas
  double load;             // GPU utilization as a multiple of the target (1.0 = at target)
  std::int32_t published;  // expected desiredReplicas
  LimitedBy limitedBy;     // expected
  const char* rule;        // the rule the row follows
};

struct Scenario {
  const char* name;
  Policy policy;
  std::vector<Row> rows;
  std::optional<PublishedSeed> seed = std::nullopt;  // what the API's status held at first sight
  DecideSettings settings = {};
};

Policy gpuPolicy(std::optional<std::int32_t> cooldown, std::int32_t maxReplicas = 100) {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.maxReplicas = maxReplicas;
  policy.spec.cooldownPeriod = cooldown;
  return policy;
}

ScalingRules rules(int window, std::vector<ScalingPolicy> policies = {}, SelectPolicy select = SelectPolicy::kMax) {
  return ScalingRules{window, std::move(policies), select};
}

Policy withScaleUp(Policy policy, ScalingRules scaleUp) {
  policy.spec.scaleUp = std::move(scaleUp);
  return policy;
}

Policy withScaleDown(Policy policy, ScalingRules scaleDown) {
  policy.spec.scaleDown = std::move(scaleDown);
  return policy;
}

void run(const Scenario& scenario) {
  const auto registry = AlgorithmRegistry::withBuiltins();
  History history;
  bool first = true;
  for (const Row& row : scenario.rows) {
    const std::string name = scenario.name;
    const std::string rule = row.rule;
    CAPTURE(name);
    CAPTURE(row.t);
    CAPTURE(rule);
    Observation observation;
    observation.currentReplicas = row.current;
    observation.gpuUtilizationPercent = row.load * kTarget;
    if (first) {
      history = firstSightHistory(row.current, at(row.t), scenario.seed);
      first = false;
    }
    Outcome outcome = decide(scenario.policy, observation, std::move(history), at(row.t), *registry, scenario.settings);
    history = std::move(outcome.history);
    CHECK(outcome.decision.desiredReplicas == row.published);
    CHECK(limitedByName(outcome.decision.limitedBy) == limitedByName(row.limitedBy));
  }
}

constexpr auto kNone = LimitedBy::kNone;
constexpr auto kStabilization = LimitedBy::kStabilization;
constexpr auto kUp = LimitedBy::kScaleUpPolicy;
constexpr auto kDown = LimitedBy::kScaleDownPolicy;
constexpr auto kCooldown = LimitedBy::kCooldown;
constexpr auto kMin = LimitedBy::kMinReplicas;
constexpr auto kMax = LimitedBy::kMaxReplicas;

TEST_CASE("the issue's rows: anchored on the current replicas, seeded at first sight") {
  const Scenario scenarios[] = {
      {"KEDA fallback set 10 replicas, metrics back at target, default cooldown",
       gpuPolicy(std::nullopt),
       {
           {0, 2, 1.5, 3, kNone, "ceil(2 x 1.5); a change at t=0 starts the 300 s cooldown"},
           {15, 3, 1.0, 3, kNone, "the workload reached 3"},
           // Prometheus is down; KEDA's fallback moves the workload to 10.
           {60, 10, 1.0, 10, kNone, "at target: hold the current 10 (was: the stale published 3)"},
           {75, 10, 0.5, 10, kCooldown, "cooldown holds the current replicas, as the reconciler skipped scaling"},
           {300, 10, 0.5, 5, kNone, "the cooldown of t=0 is over"},
       }},
      {"scaleUp Pods 2 / 60 s, 10 replicas at 150 % after an outside move from 3",
       withScaleUp(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 2, 60}})),
       {
           {0, 3, 1.0, 3, kNone, "at target"},
           // kubectl scale --replicas=10
           {100, 10, 1.5, 12, kUp, "period start = current 10 - 0 added by us: 10 + 2 (was: 3 + 2 = 5, a scale-up limit that scaled down)"},
           {115, 12, 1.5, 12, kUp, "period start = current 12 - 2 added at t=100: 10 + 2"},
           {161, 12, 1.5, 14, kUp, "the +2 of t=100 left the 60 s period: 12 + 2"},
       }},
      {"scaleDown Percent 50 / 60 s, published 10, workload moved to 3, load 50 %",
       withScaleDown(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPercent, 50, 60}})),
       {
           {0, 10, 1.0, 10, kNone, "at target: 10 published"},
           {120, 3, 0.5, 2, kNone, "ceil(3 x 0.5) = 2 >= floor(3 x 0.5) = 1 (was: half of the published 10 = 5, up)"},
       }},
      {"scaleDown window 300 s, first sight after a restart, load 20 % of 10 replicas",
       withScaleDown(gpuPolicy(0), rules(300)),
       {
           {0, 10, 0.2, 10, kStabilization, "recordInitialRecommendation: the window holds the current 10 (was: 2 at once)"},
           {150, 10, 0.2, 10, kStabilization, "max over the window still 10"},
           {299, 10, 0.2, 10, kStabilization, "the first sight is 299 s old"},
           {300, 10, 0.2, 2, kNone, "the first sight left the window: max(2, 2, 2)"},
       }},
      {"Prometheus hangs, --metrics-stale-after 3s, --prometheus-timeout 60s",
       gpuPolicy(std::nullopt),
       {
           {0, 10, 1.0, 10, kNone, "at target"},
           // From here no read comes back: decide() is not called, and the
           // decision of t=0 is what the store holds. The core has no clock:
           // the RPC path refuses that decision (UNAVAILABLE) once its read is
           // older than --metrics-stale-after, measured in test/serve
           // serve_time_test.py HungPrometheusTest (was: served for 25 s+).
           {15, 10, std::nan(""), 10, kNone, "a read that does come back without data holds current"},
       }},
      {"rolling update: /scale spec.replicas 10, status.replicas 13 (surge), metrics at target",
       gpuPolicy(std::nullopt),
       {
           // Current is the Scale's spec.replicas (the HPA's choice): the 13
           // counted in status.replicas during a rollout never reach the core,
           // tested in test/kube/adapters/scale_replica_source_test.cc and
           // serve_kubernetes_test.py RestartSeedTest (was: 13, each rollout).
           {0, 10, 1.0, 10, kNone, "at target: hold the current 10"},
           {15, 10, 1.0, 10, kNone, "and again"},
       }},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("the HPA's stabilization windows") {
  const Scenario scenarios[] = {
      {"scale-up window: the lowest recommendation within it, never below current",
       withScaleUp(gpuPolicy(0), rules(60)),
       {
           {0, 4, 1.0, 4, kNone, "at target"},
           {15, 4, 2.0, 4, kStabilization, "upRecommendation = min(4 @0, 8) = 4; clamp(current 4, 4, 8)"},
           {30, 4, 1.5, 4, kStabilization, "min(4 @0, 8 @15, 6) = 4"},
           {61, 4, 2.0, 6, kStabilization, "4 @0 left the window: min(8 @15, 6 @30, 8) = 6"},
           {76, 6, 2.0, 6, kStabilization, "8 @15 left: min(6 @30, 8 @61, 12) = 6"},
           {91, 6, 2.0, 8, kStabilization, "6 @30 left: min(8 @61, 12 @76, 12) = 8"},
           {106, 8, 1.5, 8, kStabilization, "min(8 @61, 12 @91, 12) = 8"},
           {122, 8, 1.5, 12, kNone, "8 @61 left: only 12s remain"},
       }},
      {"scale-down window: the highest recommendation within it, never above current",
       withScaleDown(gpuPolicy(0), rules(60)),
       {
           {0, 10, 1.0, 10, kNone, "at target"},
           {15, 10, 0.5, 10, kStabilization, "downRecommendation = max(10 @0, 5) = 10"},
           {45, 10, 0.6, 10, kStabilization, "max(10 @0, 5 @15, 6) = 10"},
           {61, 10, 0.5, 6, kStabilization, "10 @0 left the window: max(5 @15, 6 @45, 5) = 6"},
           {76, 6, 0.5, 6, kStabilization, "5 @15 left: max(6 @45, 5 @61, 3) = 6"},
           {106, 6, 0.5, 5, kStabilization, "6 @45 left: max(5 @61, 3 @76, 3) = 5"},
           {137, 5, 0.5, 3, kNone, "only 3s remain"},
       }},
      {"both windows: a flapping load holds the current replicas",
       withScaleDown(withScaleUp(gpuPolicy(0), rules(30)), rules(60)),
       {
           {0, 6, 1.0, 6, kNone, "at target"},
           {15, 6, 2.0, 6, kStabilization, "up: min(6 @0, 12) = 6"},
           {30, 6, 0.5, 6, kStabilization, "down: max(6 @0, 12 @15, 3) = 12 >= 6, up: min = 3: clamp(6, 3, 12)"},
           {45, 6, 2.0, 6, kStabilization, "up: min(12 @15, 3 @30, 12) = 3: clamp(6, 3, 12)"},
       }},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("the HPA's rate policies: periods start at current minus (up) or plus (down) our changes within them") {
  const Scenario scenarios[] = {
      {"the HPA's default scale-up: Percent 100 and Pods 4 per 15 s, Max",
       withScaleUp(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPercent, 100, 15}, {ScalingPolicyType::kPods, 4, 15}})),
       {
           {0, 2, 10.0, 6, kUp, "max(ceil(2 x 2), 2 + 4) = 6"},
           {15, 6, 3.3, 12, kUp, "the +4 of t=0 is not after now - 15 s: start 6, max(12, 10)"},
           {30, 12, 1.65, 20, kNone, "start 12: max(24, 16) allows ceil(12 x 1.65) = 20"},
       }},
      {"Pods 4 / 60 s: the period starts at current minus what we added within it",
       withScaleUp(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 4, 60}})),
       {
           {0, 10, 2.0, 14, kUp, "10 + 4"},
           {15, 14, 1.4, 14, kUp, "start = 14 - 4 added at t=0 = 10: 10 + 4"},
           {61, 14, 1.4, 18, kUp, "the +4 left the period: 14 + 4"},
       }},
      {"Pods 3 / 60 s down: the period starts at current plus what we removed within it",
       withScaleDown(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 3, 60}})),
       {
           {0, 10, 0.2, 7, kDown, "10 - 3"},
           {15, 7, 0.3, 7, kDown, "start = 7 + 3 removed at t=0 = 10: 10 - 3"},
           {61, 7, 0.3, 4, kDown, "the -3 left the period: 7 - 3"},
       }},
      {"minReplicas and maxReplicas clamp after the rate",
       withScaleUp(gpuPolicy(0, 10), rules(0, {{ScalingPolicyType::kPods, 1, 60}})),
       {
           {0, 8, 2.0, 9, kUp, "8 + 1"},
           {61, 9, 3.0, 10, kUp, "9 + 1, within maxReplicas 10"},
           {122, 10, 3.0, 10, kMax, "rate allows 11: maxReplicas 10"},
       }},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("our own change on its way counts as current, any other disagreement is the world's") {
  const Scenario scenarios[] = {
      {"a change on its way is not undone by metrics that predate it",
       gpuPolicy(0),
       {
           {0, 10, 2.0, 20, kNone, "ceil(10 x 2); 20 published, in flight"},
           {15, 10, 1.05, 20, kNone, "within tolerance at 10 pods: the hold is the change on its way"},
           {20, 10, 2.0, 20, kNone, "20 again: still 20"},
           {31, 10, 1.0, 10, kNone, "not reached a reaction time (30 s) after: the world holds 10"},
       }},
      {"a large change reached in the HPA's steps stays on its way while the workload moves towards it",
       gpuPolicy(std::nullopt),
       {
           {0, 2, 10.0, 20, kNone, "20 published at t=0: cooldown until t=300"},
           {15, 6, 3.3, 20, kNone, "the HPA's first step (2 -> 6): on its way"},
           {30, 12, 1.65, 20, kNone, "30 s after publishing, but the workload moved towards 20 at t=15 and t=30"},
           {45, 20, 1.0, 20, kNone, "reached"},
           {60, 20, 0.5, 20, kCooldown, "the cooldown of t=0 holds 20"},
       }},
      {"a recommendation beyond our change on its way moves on from it, rate-limited from it",
       withScaleUp(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 10, 60}})),
       {
           {0, 10, 2.0, 20, kNone, "10 + 10 allows 20"},
           {15, 10, 3.0, 20, kUp, "anchor 20 (on its way); start = 20 - 10 added = 10: 10 + 10"},
           {61, 20, 1.5, 30, kNone, "reached; the +10 left the period: 20 + 10 allows 30"},
       }},
      {"the world moving the workload away from our change wins at once",
       gpuPolicy(0),
       {
           {0, 10, 2.0, 20, kNone, "20 published"},
           {10, 5, 2.0, 10, kNone, "kubectl scale to 5 (away from 20): ceil(5 x 2)"},
       }},
      {"a shorter reaction time gives the world the last word sooner",
       gpuPolicy(0),
       {
           {0, 10, 2.0, 20, kNone, "20 published"},
           {10, 10, 1.0, 10, kNone, "not reached 10 s after: the world holds 10"},
       },
       std::nullopt,
       DecideSettings{std::chrono::seconds(10)}},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("past the reaction time our change still stands until the workload or the metrics say otherwise") {
  const Scenario scenarios[] = {
      {"a scale-down the HPA applies late (its own 300 s window), default cooldown",
       gpuPolicy(std::nullopt),
       {
           {0, 10, 0.6, 6, kNone, "6 published, on its way"},
           {15, 10, 0.6, 6, kNone, "still on its way"},
           {30, 10, 0.6, 6, kNone, "past the reaction time: the anchor is 10 again, but 6 is no change and stands"},
           {45, 10, 0.7, 6, kCooldown, "ceil(10 x 0.7) = 7: the cooldown holds our standing 6, not the current 10"},
           {300, 10, 0.7, 7, kNone, "the cooldown of t=0 is over"},
       }},
      {"a scale-down the HPA applies late, scaleDown Pods 4 / 60 s, no cooldown",
       withScaleDown(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 4, 60}})),
       {
           {0, 10, 0.3, 6, kDown, "10 - 4; the -4 is this policy's scale event"},
           {15, 10, 0.3, 6, kDown, "anchor 6 (on its way); period start 6 + 4 = 10: 10 - 4"},
           {30, 10, 0.3, 6, kDown, "past the reaction time the unmade -4 no longer counts: start 10, 10 - 4 = 6 stands"},
           {75, 6, 0.3, 2, kNone, "reached at last: ceil(6 x 0.3) = 2, start 6 allows 2"},
       }},
      {"the metrics ask the other way while a scale-up is on its way: current is the anchor",
       withScaleDown(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 1, 60}})),
       {
           {0, 3, 3.0, 9, kNone, "9 published (no scale-up policies), +6 on its way"},
           {15, 5, 0.7, 4, kNone, "ceil(5 x 0.7) = 4 < current 5: our 9 is void; start 5 - 2 moved = 3 allows 2"},
       }},
      {"the metrics ask the other way while a scale-down is on its way: a scale-up path from current",
       withScaleUp(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 2, 60}})),
       {
           {0, 10, 0.6, 6, kNone, "6 published, on its way"},
           {15, 10, 1.5, 12, kUp, "15 > current 10: our 6 is void and never moved anything: 10 + 2 (was: 8, down under load)"},
       }},
      {"a scale-to-zero on its way: new demand wakes it at once",
       [] {
         Policy policy = gpuPolicy(0);
         policy.spec.minReplicas = 0;
         return policy;
       }(),
       {
           {0, 1, 0.0, 0, kNone, "idle: 0 published, on its way"},
           {15, 1, 0.5, 1, kNone, "ceil(1 x 0.5) = 1 is a computed answer, not a hold: 1 again"},
       }},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("rate periods count our moves in both directions, as the HPA's period start does") {
  const Scenario scenarios[] = {
      {"up Pods 4 / 60 s, down Percent 100 / 15 s: up, down, up again within 60 s",
       withScaleDown(withScaleUp(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 4, 60}})),
                     rules(0, {{ScalingPolicyType::kPercent, 100, 15}})),
       {
           {0, 10, 1.4, 14, kNone, "10 + 4 allows 14"},
           {15, 14, 0.5, 7, kNone, "the +4 of t=0 is not after now - 15 s: start 14, 100 % allows 0"},
           {30, 7, 2.0, 14, kNone, "start = 7 - 4 added + 7 removed = 10: 10 + 4 allows 14"},
       }},
      {"down Pods 2 / 60 s only: a scale-up in between still counts in the down period",
       withScaleDown(gpuPolicy(0), rules(0, {{ScalingPolicyType::kPods, 2, 60}})),
       {
           {0, 10, 0.8, 8, kNone, "10 - 2 allows 8"},
           {15, 8, 2.0, 16, kNone, "no scale-up policies"},
           {30, 16, 0.25, 8, kDown, "start = 16 - 8 added + 2 removed = 10: 10 - 2"},
       }},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("first sight with what the API's status holds: cooldown and a change on its way survive a restart") {
  const Scenario scenarios[] = {
      {"status.lastScaleTime 100 s ago, default cooldown",
       gpuPolicy(std::nullopt),
       {
           {0, 8, 0.5, 8, kCooldown, "lastScaleTime from the status: the cooldown runs until t=200"},
           {199, 8, 0.5, 8, kCooldown, "still within it"},
           {200, 8, 0.5, 4, kNone, "over"},
       },
       PublishedSeed{8, at(-100)}},
      {"status.desiredReplicas 12 published 10 s ago, not reached yet",
       gpuPolicy(0),
       {
           {0, 8, 1.0, 12, kNone, "on its way: counts as current"},
           {15, 12, 1.0, 12, kNone, "reached"},
       },
       PublishedSeed{12, at(-10)}},
      {"status.desiredReplicas 12 published 100 s ago and never reached",
       gpuPolicy(0),
       {
           {0, 8, 1.0, 8, kNone, "older than a reaction time: the world holds 8"},
       },
       PublishedSeed{12, at(-100)}},
      {"a status time centuries old (1700) is long past, without overflowing",
       gpuPolicy(300),
       {
           {0, 10, 2.0, 20, kNone, "the 6 published then neither counts as current nor holds a cooldown"},
       },
       PublishedSeed{6, TimePoint{} - std::chrono::hours(24 * 365 * 270)}},
      {"a status time ahead of ours is taken as now",
       gpuPolicy(60),
       {
           {0, 8, 0.5, 8, kCooldown, "lastScaleTime in the future: the cooldown starts now, no later"},
           {60, 8, 0.5, 4, kNone, "60 s cooldown over"},
       },
       PublishedSeed{8, at(3600)}},
  };
  for (const Scenario& scenario : scenarios) {
    run(scenario);
  }
}

TEST_CASE("minReplicas wins when holding, at first sight too") {
  Policy policy = gpuPolicy(0);
  policy.spec.minReplicas = 3;
  run({"current below minReplicas", policy, {{0, 1, 1.0, 3, kMin, "hold 1, clamped to minReplicas 3"}}});
}

}  // namespace
}  // namespace kubeai::core
