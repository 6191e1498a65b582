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

  std::vector<core::Result<source::MetricReading>> read(const std::vector<core::Policy>& policies) override {
    std::vector<core::Result<source::MetricReading>> out;
    for (const auto& policy : policies) {
      auto found = readings.find(policy.key());
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

struct Fixture {
  DecisionStore store;
  std::unique_ptr<core::AlgorithmRegistry> registry = core::AlgorithmRegistry::withBuiltins();
  ScriptedMetricSource metrics;
  RecordingListener listener;
  core::TimePoint now = core::TimePoint{} + std::chrono::hours(24 * 365 * 56);
  EvaluationLoop loop{store, *registry, metrics, EvaluationOptions{seconds(15), seconds(45)},
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

TEST_CASE("history carries over between cycles: cooldown holds the published value") {
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

TEST_CASE("without replicas from the source: minReplicas first, then the value last published") {
  Fixture f;
  f.metrics.readings.emplace("default/chat", gpu(100));  // ratio 2
  f.loop.setPolicies({gpuPolicy("chat")});
  f.loop.runOnce();
  CHECK(f.desired("chat") == 2);  // from 1 (minReplicas)
  f.loop.runOnce();
  CHECK(f.desired("chat") == 4);  // from 2, as published
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

  std::vector<core::Result<source::MetricReading>> read(const std::vector<core::Policy>& policies) override {
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
  EvaluationLoop loop{store, *registry, metrics, EvaluationOptions{std::chrono::milliseconds(500), seconds(45)}};
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
