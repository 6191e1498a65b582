#include "core/behavior.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "core/decide.h"
#include "policy_fixtures.h"

namespace kubeai::core {
namespace {

using testing::at;

const History kNoHistory;

// Drives decide() through time as the server does, carrying history along
// from the first sight of the policy.
class Run {
 public:
  explicit Run(Policy policy) : policy_(std::move(policy)), registry_(AlgorithmRegistry::withBuiltins()) {}

  // One evaluation at `seconds` with GPU at `gpuPercent` of a target of 80 %.
  Decision step(int seconds, std::int32_t current, double gpuPercent) {
    Observation observation;
    observation.currentReplicas = current;
    observation.gpuUtilizationPercent = gpuPercent;
    if (!started_) {
      history_ = firstSightHistory(current, at(seconds));
      started_ = true;
    }
    Outcome outcome = decide(policy_, observation, std::move(history_), at(seconds), *registry_);
    history_ = std::move(outcome.history);
    return outcome.decision;
  }

  [[nodiscard]] const History& history() const { return history_; }

 private:
  Policy policy_;
  std::unique_ptr<AlgorithmRegistry> registry_;
  History history_;
  bool started_ = false;
};

Policy gpuOnly() {
  Policy policy = testing::makePolicy();
  policy.spec.metrics.latency.reset();
  policy.spec.metrics.requestQueueDepth.reset();
  policy.spec.maxReplicas = 100;
  return policy;
}

ScalingRules rules(int window, std::vector<ScalingPolicy> policies = {}, SelectPolicy select = SelectPolicy::kMax) {
  return ScalingRules{window, std::move(policies), select};
}

TEST_CASE("scale-down window: a forecast's answer counts whole until its horizon, MaxRatio's after") {
  Policy policy = gpuOnly();
  policy.spec.scaleDown = rules(300);
  const PolicySpec& spec = policy.spec;
  const auto record = [&](History history, int t, const TimedRecommendation& recommendation) {
    const Anchor anchor = anchorOn(history, 20, at(t), std::chrono::seconds(30));
    return recordDecision(std::move(history), spec, at(t), anchor, 20, recommendation, 20);
  };

  SUBCASE("a plain answer and a forecast's, each read at its time") {
    History history = record(History{}, 0, TimedRecommendation(at(0), 15));
    history = record(std::move(history), 15, TimedRecommendation(at(15), 20, 12, at(75)));
    CHECK(stabilize(10, 20, history, spec, at(60)) == 20);   // the forecast still looks ahead
    CHECK(stabilize(10, 20, history, spec, at(75)) == 15);   // MaxRatio's 12 now, under the plain 15
    CHECK(stabilize(10, 20, history, spec, at(300)) == 12);  // the plain 15 is out of the window
    CHECK(stabilize(10, 20, history, spec, at(315)) == 10);  // and so is the forecast's decision
  }
  SUBCASE("equal neighbours merge into the later time and the longer look ahead") {
    // The horizon fell (a shorter start-up measured) between two equal answers.
    History history = record(History{}, 15, TimedRecommendation(at(15), 20, 10, at(195)));
    history = record(std::move(history), 30, TimedRecommendation(at(30), 20, 10, at(90)));
    REQUIRE(history.recommendations.size() == 1);
    CHECK(history.recommendations.front().at == at(30));
    CHECK(history.recommendations.front().forecastUntil == at(195));
    CHECK(stabilize(10, 20, history, spec, at(150)) == 20);
    CHECK(stabilize(10, 20, history, spec, at(195)) == 10);
  }
}

TEST_CASE("scale-down stabilization publishes the highest recommendation in the window") {
  Policy policy = gpuOnly();
  policy.spec.scaleDown = rules(60);
  Run run(policy);
  CHECK(run.step(0, 10, 80).desiredReplicas == 10);   // at target: hold 10
  const Decision low = run.step(15, 10, 40);           // recommends 5
  CHECK(low.recommendedReplicas == 5);
  CHECK(low.desiredReplicas == 10);                    // 10 still in the window
  CHECK(low.limitedBy == LimitedBy::kStabilization);
  CHECK(run.step(45, 10, 48).desiredReplicas == 10);   // recommends 6; 10 (t=0) still in the window
  const Decision later = run.step(61, 10, 40);         // t=0 left the window; max(5, 6, 5) = 6
  CHECK(later.desiredReplicas == 6);
  CHECK(run.step(106, 6, 40).desiredReplicas == 5);    // recommends 3; 5 (t=61) is still in the window
  CHECK(run.step(122, 5, 40).desiredReplicas == 3);    // recommends 3 again; only 3s remain
}

TEST_CASE("scale-up stabilization publishes the lowest recommendation in the window") {
  Policy policy = gpuOnly();
  policy.spec.scaleUp = rules(30);
  Run run(policy);
  CHECK(run.step(0, 4, 80).desiredReplicas == 4);
  const Decision spike = run.step(10, 4, 160);  // recommends 8, but 4 was recommended 10 s ago
  CHECK(spike.recommendedReplicas == 8);
  CHECK(spike.desiredReplicas == 4);
  CHECK(spike.limitedBy == LimitedBy::kStabilization);
  CHECK(run.step(20, 4, 120).desiredReplicas == 4);  // recommends 6; 4 still in window
  CHECK(run.step(31, 4, 160).desiredReplicas == 6);  // min(8 @10, 6 @20, 8 @31) = 6
  CHECK(run.step(51, 6, 160).desiredReplicas == 8);  // recommends 12; lowest in the window is 8 (t=31)
}

TEST_CASE("no stabilization window means no stabilization") {
  Run run(gpuOnly());
  CHECK(run.step(0, 10, 80).desiredReplicas == 10);
  CHECK(run.step(1, 10, 40).desiredReplicas == 5);
  CHECK(run.step(2, 5, 160).desiredReplicas == 10);
  CHECK(run.history().recommendations.empty());  // nothing kept that nothing needs
}

TEST_CASE("rate policies: limits from the replicas at the start of each period") {
  struct Row {
    const char* what;
    ScalingPolicy policy;
    bool up;
    std::int32_t start;
    std::int32_t limit;
  };
  const Row rows[] = {
      {"up Pods", {ScalingPolicyType::kPods, 4, 60}, true, 10, 14},
      {"up Percent rounds up", {ScalingPolicyType::kPercent, 10, 60}, true, 3, 4},  // ceil(3.3)
      {"up Percent exact", {ScalingPolicyType::kPercent, 100, 60}, true, 5, 10},
      {"up Percent from 0 still wakes one", {ScalingPolicyType::kPercent, 100, 60}, true, 0, 1},
      {"down Pods", {ScalingPolicyType::kPods, 3, 60}, false, 10, 7},
      {"down Percent rounds down", {ScalingPolicyType::kPercent, 25, 60}, false, 7, 5},  // floor(5.25)
      {"down Percent 80 of 10 is 2, not 1", {ScalingPolicyType::kPercent, 80, 60}, false, 10, 2},  // 10 * 0.2 in floating point is 1.99..
      {"up Percent 12 of 25 is 28, not 29", {ScalingPolicyType::kPercent, 12, 60}, true, 25, 28},  // 25 * 1.12 is 28.000..04
      {"down Pods below zero", {ScalingPolicyType::kPods, 50, 60}, false, 10, 0},
      {"down Percent over 100", {ScalingPolicyType::kPercent, 150, 60}, false, 10, 0},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const ScalingRules scaling = rules(0, {row.policy});
        const auto limit = row.up ? scaleUpLimit(scaling, row.start, kNoHistory, at(0))
                              : scaleDownLimit(scaling, row.start, kNoHistory, at(0));
    REQUIRE(limit.has_value());
    CHECK(*limit == row.limit);
  }
}

TEST_CASE("Percent limits are exact for every start and value") {
    for (std::int32_t start = 0; start <= 1000; ++start) {
    for (std::int32_t value = 1; value <= 200; ++value) {
      const ScalingRules scaling = rules(0, {{ScalingPolicyType::kPercent, value, 60}});
      const std::int64_t up = (std::int64_t{start} * (100 + value) + 99) / 100;
      const std::int64_t down = value >= 100 ? 0 : std::int64_t{start} * (100 - value) / 100;
      if (*scaleUpLimit(scaling, start, kNoHistory, at(0)) != std::max<std::int64_t>({up, std::int64_t{start}, std::int64_t{1}}) ||
          *scaleDownLimit(scaling, start, kNoHistory, at(0)) != std::min<std::int64_t>(down, std::int64_t{start})) {
        CAPTURE(start);
        CAPTURE(value);
        FAIL("Percent limit off");
      }
    }
  }
}

TEST_CASE("selectPolicy picks the most (Max) or least (Min) permissive limit, Disabled forbids") {
  const std::vector<ScalingPolicy> policies = {{ScalingPolicyType::kPods, 4, 60},
                                               {ScalingPolicyType::kPercent, 100, 60}};
    struct Row {
    SelectPolicy select;
    std::int32_t up;
    std::int32_t down;
  };
  // From 10: Pods allow 14 up / 6 down; Percent allows 20 up / 0 down.
  const Row rows[] = {
      {SelectPolicy::kMax, 20, 0},
      {SelectPolicy::kMin, 14, 6},
      {SelectPolicy::kDisabled, 10, 10},
  };
  for (const Row& row : rows) {
    CAPTURE(static_cast<int>(row.select));
    CHECK(scaleUpLimit(rules(0, policies, row.select), 10, kNoHistory, at(0)) == row.up);
    CHECK(scaleDownLimit(rules(0, policies, row.select), 10, kNoHistory, at(0)) == row.down);
  }
  CHECK_FALSE(scaleUpLimit(rules(0), 10, kNoHistory, at(0)).has_value());  // no policies: no limit
  CHECK_FALSE(scaleDownLimit(rules(0), 10, kNoHistory, at(0)).has_value());
  CHECK(scaleUpLimit(rules(0, {}, SelectPolicy::kDisabled), 10, kNoHistory, at(0)) == 10);
}

TEST_CASE("a scale-up policy limits each period relative to its start, through time") {
  Policy policy = gpuOnly();
  policy.spec.scaleUp = rules(0, {{ScalingPolicyType::kPods, 2, 60}});
  Run run(policy);
  CHECK(run.step(0, 2, 80).desiredReplicas == 2);
  const Decision first = run.step(10, 2, 400);  // recommends 10; period started at 2 -> 4
  CHECK(first.recommendedReplicas == 10);
  CHECK(first.desiredReplicas == 4);
  CHECK(first.limitedBy == LimitedBy::kScaleUpPolicy);
  // Still the same period: it starts at the current 4 minus the 2 this
  // policy added at t=10, so no further growth.
  CHECK(run.step(30, 4, 400).desiredReplicas == 4);
  CHECK(run.step(69, 4, 400).desiredReplicas == 4);
  // At t=70 the change of t=10 left the period, which starts at 4: up to 6.
  CHECK(run.step(70, 4, 400).desiredReplicas == 6);
}

TEST_CASE("a scale-down policy limits through time, Min picks the slower of two") {
  Policy policy = gpuOnly();
  policy.spec.scaleDown = rules(0,
                                {{ScalingPolicyType::kPods, 4, 60}, {ScalingPolicyType::kPercent, 10, 60}},
                                SelectPolicy::kMin);
  Run run(policy);
  CHECK(run.step(0, 20, 80).desiredReplicas == 20);
  const Decision drop = run.step(15, 20, 8);  // recommends 2; Pods allow 16, Percent allows 18: Min -> 18
  CHECK(drop.desiredReplicas == 18);
  CHECK(drop.limitedBy == LimitedBy::kScaleDownPolicy);
  CHECK(run.step(30, 18, 8).desiredReplicas == 18);  // same period
}

TEST_CASE("selectPolicy Disabled forbids that direction only") {
  Policy policy = gpuOnly();
  policy.spec.scaleDown = rules(0, {}, SelectPolicy::kDisabled);
  Run run(policy);
  const Decision down = run.step(0, 6, 20);
  CHECK(down.desiredReplicas == 6);
  CHECK(down.limitedBy == LimitedBy::kScaleDownPolicy);
  CHECK(run.step(1, 6, 160).desiredReplicas == 12);  // up is free
}

TEST_CASE("cooldown holds the current replicas for cooldownPeriod after a decision last changed them") {
  Policy policy = gpuOnly();
  policy.spec.cooldownPeriod = 60;
  Run run(policy);
  CHECK(run.step(0, 4, 80).desiredReplicas == 4);  // first decision, unchanged: no cooldown starts
  CHECK(run.step(5, 4, 160).desiredReplicas == 8);  // a change at t=5
  const Decision held = run.step(20, 8, 40);        // recommends 4
  CHECK(held.desiredReplicas == 8);
  CHECK(held.limitedBy == LimitedBy::kCooldown);
  CHECK(run.step(64, 8, 40).desiredReplicas == 8);  // 59 s after the change
  const Decision free = run.step(65, 8, 40);        // 60 s: cooldown over
  CHECK(free.desiredReplicas == 4);
  CHECK(free.limitedBy == LimitedBy::kNone);
  REQUIRE(run.history().lastChangeAt.has_value());
  CHECK(*run.history().lastChangeAt == at(65));
}

TEST_CASE("cooldown 0 means none, and omitted means 300 s") {
  Policy policy = gpuOnly();
  policy.spec.cooldownPeriod = 0;
  Run noCooldown(policy);
  CHECK(noCooldown.step(0, 4, 160).desiredReplicas == 8);
  CHECK(noCooldown.step(1, 8, 40).desiredReplicas == 4);

  policy.spec.cooldownPeriod.reset();
  Run defaulted(policy);
  CHECK(defaulted.step(0, 4, 160).desiredReplicas == 8);
  CHECK(defaulted.step(299, 8, 40).desiredReplicas == 8);
  CHECK(defaulted.step(300, 8, 40).desiredReplicas == 4);
}

TEST_CASE("minReplicas wins over a rate limit, as in the HPA") {
  Policy policy = gpuOnly();
  policy.spec.minReplicas = 8;
  policy.spec.scaleUp = rules(0, {{ScalingPolicyType::kPods, 1, 60}});
  Run run(policy);
  const Decision decision = run.step(0, 1, 400);  // recommends 5, rate allows 2, min says 8
  CHECK(decision.recommendedReplicas == 5);
  CHECK(decision.desiredReplicas == 8);
  CHECK(decision.limitedBy == LimitedBy::kMinReplicas);
}

TEST_CASE("history keeps only what windows and periods still need") {
  Policy policy = gpuOnly();
  policy.spec.scaleDown = rules(30, {{ScalingPolicyType::kPods, 100, 60}});
  Run run(policy);
  for (int t = 0; t <= 600; t += 15) {
    run.step(t, 10, t % 30 == 0 ? 160 : 40);
  }
  CHECK(run.history().recommendations.size() <= 3);  // 30 s window at 15 s steps
  CHECK(run.history().scaleDownEvents.size() <= 5);  // 60 s period at 15 s steps
  CHECK(run.history().scaleUpEvents.size() <= 5);    // both directions count in every period's start
  CHECK_FALSE(run.history().initialRecommendation.has_value());  // left the 30 s window long ago
}

TEST_CASE("a recommendation equal to the one before it only moves that one's time") {
  Policy policy = gpuOnly();
  policy.spec.scaleDown = rules(300);
  Run run(policy);
  for (int t = 0; t <= 280; t += 15) {
    run.step(t, 10, 40);  // recommends 5 every time
  }
  REQUIRE(run.history().recommendations.size() == 1);
  CHECK(run.history().recommendations.front().replicas == 5);
  CHECK(run.history().recommendations.front().at == at(270));
  // Still exact: the 10 seen first is held for the whole window, then the 5s take over.
  CHECK(run.step(299, 10, 40).desiredReplicas == 10);
  CHECK(run.step(300, 10, 40).desiredReplicas == 5);
}

}  // namespace
}  // namespace kubeai::core
