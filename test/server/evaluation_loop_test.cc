#include "server/evaluation_loop.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <mutex>
#include <thread>

#include "core/algorithm_registry.h"

namespace kubeai::server {
namespace {

using std::chrono::seconds;

// Below the adapter boundary: a metric source the test scripts.
class ScriptedMetricSource final : public source::MetricSource {
 public:
  std::map<std::string, core::Result<source::MetricReading>> readings;

  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    std::vector<core::Result<source::MetricReading>> out;
    for (const auto& policy : policies) {
      auto found = readings.find(policy->key());
      out.push_back(found != readings.end() ? found->second : core::Result<source::MetricReading>(source::MetricReading{}));
    }
    return out;
  }
};

class RecordingListener final : public EvaluationListener {
 public:
  std::vector<std::string> errors;
  std::vector<std::string> messages;  // "type: message", in order
  std::vector<std::string> removed;
  std::map<std::string, std::size_t> lastStates;
  void onError(const std::string& ns, const std::string& name, const std::string& type,
               const std::string& message) override {
    errors.push_back(ns + "/" + name + ":" + type);
    messages.push_back(type + ": " + message);
  }
  void onRemoved(const std::string& ns, const std::string& name) override { removed.push_back(ns + "/" + name); }
  void onCycle(const std::map<std::string, std::size_t>& states, double) override { lastStates = states; }
};

core::Policy gpuPolicy(const std::string& name, std::int32_t cooldown = 0) {
  core::Policy policy;
  policy.metadata.name = name;
  policy.spec.targetRef = {"apps/v1", "Deployment", name};
  policy.spec.maxReplicas = 20;
  policy.spec.cooldownPeriod = cooldown;
  policy.spec.metrics.gpuUtilization = core::GpuUtilizationMetricSpec{true, 50.0, ""};
  return policy;
}

source::MetricReading gpu(double percent, std::optional<std::int32_t> replicas = std::nullopt) {
  source::MetricReading reading;
  reading.gpuUtilizationPercent = percent;
  reading.currentReplicas = replicas;
  return reading;
}

EvaluationOptions optionsOf(std::chrono::milliseconds interval, std::chrono::milliseconds staleAfter) {
  EvaluationOptions options;
  options.interval = interval;
  options.staleAfter = staleAfter;
  return options;
}

struct Fixture {
  DecisionStore store;
  std::unique_ptr<core::AlgorithmRegistry> registry = core::AlgorithmRegistry::withBuiltins();
  ScriptedMetricSource metrics;
  RecordingListener listener;
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(24 * 365 * 56);
  EvaluationLoop loop{store, *registry, metrics, optionsOf(seconds(15), seconds(45)),
                      [this] { return now; }, &listener};

  std::int32_t desired(const std::string& name) {
    auto entry = store.find("default", name);
    REQUIRE(entry != nullptr);
    REQUIRE(entry->decision.has_value());
    return entry->decision->desiredReplicas;
  }
};

TEST_CASE("each cycle decides every policy and publishes it") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100, 2));  // ratio 2 -> 4
  f.metrics.readings.emplace("default/embed", gpu(25, 4));  // ratio 0.5 -> 2
  f.loop.setPolicies({gpuPolicy("chat"), gpuPolicy("embed")});
  f.loop.runOnce();
  CHECK(f.desired("chat") == 4);
  CHECK(f.desired("embed") == 2);
  CHECK(f.store.find("default", "chat")->state == PolicyState::kReady);
  CHECK(f.listener.lastStates["ready"] == 2);
  CHECK(f.loop.cycles() == 1);
}

TEST_CASE("history carries over between cycles: cooldown holds the current replicas") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100, 2));
  f.loop.setPolicies({gpuPolicy("chat", 60)});
  f.loop.runOnce();
  CHECK(f.desired("chat") == 4);
  f.metrics.readings.insert_or_assign("default/chat", gpu(10, 4));  // would scale down to 1
  f.now += seconds(15);
  f.loop.runOnce();
  CHECK(f.desired("chat") == 4);
  CHECK(f.store.find("default", "chat")->decision->limitedBy == core::LimitedBy::kCooldown);
  f.now += seconds(60);
  f.loop.runOnce();
  CHECK(f.desired("chat") == 1);
}

TEST_CASE("no replica data is an error of the policy, never a guess") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100));  // metrics, but no current replicas
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  auto entry = f.store.find("default", "chat");
  REQUIRE(entry != nullptr);
  CHECK(entry->state == PolicyState::kPending);
  CHECK_FALSE(entry->servable());
  CHECK(entry->message ==
        "no replica data for Deployment default/chat: the metric source gave no current replicas");
  CHECK(f.listener.errors == std::vector<std::string>{"default/chat:replicas"});

  f.metrics.readings.insert_or_assign("default/chat", gpu(100, 2));
  f.loop.runOnce();
  REQUIRE(f.desired("chat") == 4);

  // Replicas gone again: unservable at once (KEDA's fallback applies), the
  // last decision kept for the record, not served from a guessed current.
  f.metrics.readings.insert_or_assign("default/chat", gpu(100));
  f.now += seconds(15);
  f.loop.runOnce();
  entry = f.store.find("default", "chat");
  CHECK(entry->state == PolicyState::kStale);
  CHECK_FALSE(entry->servable());
  CHECK(entry->decision->desiredReplicas == 4);
  CHECK(f.listener.lastStates["stale"] == 1);

  // A failed read after that does not bring the old decision back.
  f.metrics.readings.insert_or_assign("default/chat", core::Error{"timeout"});
  f.now += seconds(15);
  f.loop.runOnce();
  CHECK_FALSE(f.store.find("default", "chat")->servable());
}

TEST_CASE("first sight: the scale-down window holds the current replicas") {
  Fixture f;
  core::Policy policy = gpuPolicy("chat");
  policy.spec.scaleDown = core::ScalingRules{300, {}, core::SelectPolicy::kMax};
  f.metrics.readings.emplace("default/chat", gpu(10, 10));  // recommends 2
  f.loop.setPolicies({policy});
  f.loop.runOnce();
  CHECK(f.desired("chat") == 10);
  CHECK(f.store.find("default", "chat")->decision->limitedBy == core::LimitedBy::kStabilization);
  f.now += seconds(300);
  f.loop.runOnce();
  CHECK(f.desired("chat") == 2);
}

TEST_CASE("first sight with a seed: what a previous process published comes back once") {
  DecisionStore store;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  ScriptedMetricSource metrics;
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(24 * 365 * 56);
  std::vector<std::string> asked;
  EvaluationOptions options = optionsOf(seconds(15), seconds(45));
  options.seed = [&](const core::Policy& policy) -> std::optional<core::PublishedSeed> {
    asked.push_back(policy.key());
    return core::PublishedSeed{8, now - seconds(100)};
  };
  EvaluationLoop loop{store, *registry, metrics, options, [&] { return now; }};
  metrics.readings.emplace("default/chat", gpu(25, 8));  // recommends 4
  loop.setPolicies({gpuPolicy("chat", 300)});
  loop.runOnce();
  auto entry = store.find("default", "chat");
  CHECK(entry->desiredReplicas() == 8);  // the cooldown of the status' lastScaleTime
  CHECK(entry->decision->limitedBy == core::LimitedBy::kCooldown);
  now += seconds(200);
  loop.runOnce();
  CHECK(store.find("default", "chat")->desiredReplicas() == 4);
  CHECK(asked == std::vector<std::string>{"default/chat"});  // first sight only
}

TEST_CASE("the reaction time reaches decide()") {
  DecisionStore store;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  ScriptedMetricSource metrics;
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(24 * 365 * 56);
  EvaluationOptions options = optionsOf(seconds(15), seconds(45));
  options.decide.reactionTime = seconds(60);
  EvaluationLoop loop{store, *registry, metrics, options, [&] { return now; }};
  metrics.readings.emplace("default/chat", gpu(100, 2));  // 4
  loop.setPolicies({gpuPolicy("chat")});
  loop.runOnce();
  REQUIRE(store.find("default", "chat")->desiredReplicas() == 4);
  metrics.readings.insert_or_assign("default/chat", gpu(50, 2));  // at target with the 2 there
  now += seconds(45);  // past the default 30 s, within 60 s
  loop.runOnce();
  CHECK(store.find("default", "chat")->desiredReplicas() == 4);
  CHECK(store.find("default", "chat")->decision->anchorReplicas == 4);
  now += seconds(15);
  loop.runOnce();
  CHECK(store.find("default", "chat")->desiredReplicas() == 2);
}

class SupersededListener final : public EvaluationListener {
 public:
  std::vector<std::string> calls;  // "ns/name generation: problem"
  void onSuperseded(const core::Policy& served, const std::string& problem) override {
    calls.push_back(served.key() + " " + std::to_string(served.metadata.generation) + ": " + problem);
  }
};

TEST_CASE("a bad edit keeps the last valid version serving, with its history, in both sources' ways") {
  DecisionStore store;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  ScriptedMetricSource metrics;
  SupersededListener listener;
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(24 * 365 * 56);
  EvaluationLoop loop{store, *registry, metrics, optionsOf(seconds(15), seconds(45)), [&] { return now; },
                      &listener};
  core::Policy valid = gpuPolicy("chat", 300);
  valid.metadata.generation = 1;
  metrics.readings.emplace("default/chat", gpu(100, 2));  // 4, and a 300 s cooldown from here
  loop.setPolicies({valid});
  loop.runOnce();
  REQUIRE(store.find("default", "chat")->desiredReplicas() == 4);

  SUBCASE("Kubernetes: only the refusal is handed; the loop keeps the version it evaluated") {
    loop.setPolicies(std::vector<core::Policy>{}, {{"default", "chat", "spec.maxReplicas: must be >= 1"}});
  }
  SUBCASE("directory: the last good version is in the set beside the problem") {
    loop.setPolicies({valid}, {{"default", "chat", "spec.maxReplicas: must be >= 1"}});
  }
  metrics.readings.insert_or_assign("default/chat", gpu(10, 4));  // recommends 1
  now += seconds(15);
  loop.runOnce();
  auto entry = store.find("default", "chat");
  CHECK(entry->state == PolicyState::kReady);
  CHECK(entry->desiredReplicas() == 4);  // the history came along: cooldown
  CHECK(entry->decision->limitedBy == core::LimitedBy::kCooldown);
  CHECK(entry->message == "spec.maxReplicas: must be >= 1");
  now += seconds(15);
  loop.runOnce();
  CHECK(store.find("default", "chat")->state == PolicyState::kReady);
  CHECK(listener.calls == std::vector<std::string>{"default/chat 1: spec.maxReplicas: must be >= 1"});  // once

  // Fixed: the new version is served and the problem is cleared.
  core::Policy fixed = valid;
  fixed.metadata.generation = 3;
  loop.setPolicies({fixed});
  now += seconds(15);
  loop.runOnce();
  CHECK(store.find("default", "chat")->message.empty());
  CHECK(listener.calls.back() == "default/chat 3: ");
}

TEST_CASE("a policy deleted and created again between two sets is a new object: first sight again") {
  Fixture f;
  core::Policy first = gpuPolicy("chat", 300);
  first.metadata.uid = "uid-1";
  f.metrics.readings.emplace("default/chat", gpu(100, 2));  // 4: a change, cooldown from here
  f.loop.setPolicies({first});
  f.loop.runOnce();
  REQUIRE(f.desired("chat") == 4);
  f.metrics.readings.insert_or_assign("default/chat", gpu(10, 4));  // recommends 1
  f.now += seconds(15);
  f.loop.runOnce();
  REQUIRE(f.desired("chat") == 4);  // the cooldown of the first object
  core::Policy second = first;
  second.metadata.uid = "uid-2";
  f.loop.setPolicies({second});
  f.now += seconds(15);
  f.loop.runOnce();
  CHECK(f.desired("chat") == 1);  // no cooldown carried over from the object deleted
}

TEST_CASE("a failed read after a cycle without replicas keeps the policy unservable, its last decision on record") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100, 2));
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  f.metrics.readings.insert_or_assign("default/chat", gpu(100));
  f.loop.runOnce();
  f.metrics.readings.insert_or_assign("default/chat", core::Error{"timeout"});
  f.loop.runOnce();
  const auto entry = f.store.find("default", "chat");
  CHECK(entry->state == PolicyState::kStale);
  REQUIRE(entry->decision.has_value());
  CHECK(entry->decision->desiredReplicas == 4);
  CHECK(entry->message == "metrics unavailable: timeout");
}

TEST_CASE("a policy refused before it was ever evaluated is invalid, and its deletion forgets it") {
  Fixture f;
  f.loop.setPolicies(std::vector<core::Policy>{}, {{"default", "chat", "spec.maxReplicas: required"}});
  f.loop.runOnce();
  CHECK(f.store.find("default", "chat")->state == PolicyState::kInvalid);
  f.metrics.readings.emplace("default/chat", gpu(100, 2));
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  CHECK(f.desired("chat") == 4);
  f.loop.setPolicies(std::vector<core::Policy>{});
  f.loop.runOnce();
  CHECK(f.store.find("default", "chat") == nullptr);
}

TEST_CASE("a failed read keeps the last decision, then goes stale, then recovers") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100, 2));
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  REQUIRE(f.desired("chat") == 4);

  f.metrics.readings.insert_or_assign("default/chat", core::Error{"prometheus: connection refused"});
  f.now += seconds(30);
  f.loop.runOnce();
  auto entry = f.store.find("default", "chat");
  CHECK(entry->state == PolicyState::kReady);
  CHECK(entry->desiredReplicas() == 4);

  f.now += seconds(15);  // 45 s since the last good read
  f.loop.runOnce();
  entry = f.store.find("default", "chat");
  CHECK(entry->state == PolicyState::kStale);
  CHECK(entry->message == "metrics unavailable for 45s: prometheus: connection refused");
  CHECK(entry->decision.has_value());  // kept for the record
  CHECK(f.listener.lastStates["stale"] == 1);
  // The listener (status, logs) gets a message that stays the same while the
  // policy stays stale: one with the seconds in it would be a new status to
  // write, and a new line to log, every evaluation.
  f.now += seconds(15);
  f.loop.runOnce();
  CHECK(f.store.find("default", "chat")->message == "metrics unavailable for 60s: prometheus: connection refused");
  std::vector<std::string> stale;
  std::copy_if(f.listener.messages.begin(), f.listener.messages.end(), std::back_inserter(stale),
               [](const std::string& message) { return message.rfind("stale: ", 0) == 0; });
  CHECK(stale == std::vector<std::string>(
                     2, "stale: metrics unavailable for longer than 45s: prometheus: connection refused"));

  f.metrics.readings.insert_or_assign("default/chat", gpu(50, 4));
  f.now += seconds(15);
  f.loop.runOnce();
  CHECK(f.store.find("default", "chat")->state == PolicyState::kReady);
  CHECK(f.desired("chat") == 4);
}

TEST_CASE("a policy never read is pending, then stale") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", core::Error{"timeout"});
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  CHECK(f.store.find("default", "chat")->state == PolicyState::kPending);
  f.now += seconds(45);
  f.loop.runOnce();
  CHECK(f.store.find("default", "chat")->state == PolicyState::kStale);
}

TEST_CASE("invalid policies are served as invalid, removed ones disappear") {
  Fixture f;
  f.loop.setPolicies({gpuPolicy("chat"), gpuPolicy("embed")}, {{"default", "broken", "spec.maxReplicas: required"}});
  f.loop.runOnce();
  auto broken = f.store.find("default", "broken");
  REQUIRE(broken != nullptr);
  CHECK(broken->state == PolicyState::kInvalid);
  CHECK(broken->message == "spec.maxReplicas: required");

  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  CHECK(f.store.find("default", "embed") == nullptr);
  CHECK(f.store.find("default", "broken") == nullptr);
  CHECK(f.listener.removed == std::vector<std::string>{"default/broken", "default/embed"});
}

// A source as slow as a Prometheus answering in 300 ms: cycles still start
// every interval (fixed rate), not an interval after the previous one ended.
class SlowMetricSource final : public source::MetricSource {
 public:
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> starts;

  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    {
      const std::lock_guard lock(mutex);
      starts.push_back(std::chrono::steady_clock::now());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the slow source itself, not a wait
    return std::vector<core::Result<source::MetricReading>>(policies.size(), source::MetricReading{});
  }
};

TEST_CASE("cycles start every interval, however long a cycle takes") {
  DecisionStore store;
  auto registry = core::AlgorithmRegistry::withBuiltins();
  SlowMetricSource metrics;
  EvaluationLoop loop{store, *registry, metrics, optionsOf(std::chrono::milliseconds(500), seconds(45))};
  loop.setPolicies({gpuPolicy("chat")});
  loop.start();
  const auto deadline = std::chrono::steady_clock::now() + seconds(30);
  while (loop.cycles() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  loop.stop();
  const std::lock_guard lock(metrics.mutex);
  REQUIRE(metrics.starts.size() >= 6);
  // From the 2nd start (the 1st cycle may be one setPolicies triggered) to
  // the 6th: 4 intervals of 500 ms at a fixed rate; 4 x 800 ms if each wait
  // began when the cycle ended.
  const auto span = metrics.starts[5] - metrics.starts[1];
  CHECK(span < std::chrono::milliseconds(2800));
  CHECK(span >= std::chrono::milliseconds(1900));
}

TEST_CASE("the background loop runs a cycle promptly when triggered") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100, 2));
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.start();
  auto waitForCycles = [&](std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + seconds(5);
    while (f.loop.cycles() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    return f.loop.cycles() >= n;
  };
  REQUIRE(waitForCycles(1));
  const auto before = f.loop.cycles();
  f.loop.trigger();  // the interval is 15 s: only the trigger can cause this cycle
  CHECK(waitForCycles(before + 1));
  f.loop.stop();
}

}  // namespace
}  // namespace kubeai::server
