// Incremental evaluation (issue 15, item 2): an edit evaluates what it
// changed, a metrics-file change the policies whose entries changed, the
// timer every policy.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/algorithm_registry.h"
#include "server/decision_store.h"
#include "server/evaluation_loop.h"
#include "source/file_metric_source.h"
#include "support/temp_dir.h"

namespace kubeai::server {
namespace {

using namespace std::chrono_literals;

// Records which policies each read got; every policy at 100 % GPU of 2
// replicas (target 50 %: desired 4, or maxReplicas when lower), or what
// `inner` says when given.
class CountingMetricSource final : public source::MetricSource {
 public:
  explicit CountingMetricSource(source::MetricSource* inner = nullptr) : inner_(inner) {}

  std::vector<std::set<std::string>> reads() {
    const std::lock_guard lock(mutex_);
    return reads_;
  }
  // Each read takes this long (a slow Prometheus).
  std::chrono::milliseconds delay{0};

 private:
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    std::set<std::string> keys;
    for (const core::SharedPolicy& policy : policies) {
      keys.insert(policy->key());
    }
    {
      const std::lock_guard lock(mutex_);
      reads_.push_back(std::move(keys));
    }
    if (delay.count() > 0) {
      std::this_thread::sleep_for(delay);  // the read's own duration, not a synchronisation
    }
    if (inner_ != nullptr) {
      return inner_->read(policies);
    }
    source::MetricReading reading;
    reading.gpuUtilizationPercent = 100;
    reading.currentReplicas = 2;
    return std::vector<core::Result<source::MetricReading>>(policies.size(), reading);
  }

  source::MetricSource* inner_;
  std::mutex mutex_;
  std::vector<std::set<std::string>> reads_;
};

class StateListener final : public EvaluationListener {
 public:
  void onCycle(const std::map<std::string, std::size_t>& states, double) override {
    const std::lock_guard lock(mutex);
    ++cycles;
    lastStates = states;
  }
  void onPartial(const std::map<std::string, std::size_t>& states, std::size_t evaluated, double) override {
    const std::lock_guard lock(mutex);
    ++partials;
    lastEvaluated = evaluated;
    lastStates = states;
  }
  void onRemoved(const std::string& ns, const std::string& name) override {
    const std::lock_guard lock(mutex);
    removed.push_back(ns + "/" + name);
  }
  std::mutex mutex;
  std::size_t cycles = 0;
  std::size_t partials = 0;
  std::size_t lastEvaluated = 0;
  std::map<std::string, std::size_t> lastStates;
  std::vector<std::string> removed;
};

core::SharedPolicy gpuPolicy(const std::string& name, std::int32_t maxReplicas = 20) {
  core::Policy policy;
  policy.metadata.name = name;
  policy.metadata.generation = 1;
  policy.spec.targetRef = {"apps/v1", "Deployment", name};
  policy.spec.maxReplicas = maxReplicas;
  policy.spec.cooldownPeriod = 0;
  policy.spec.metrics.gpuUtilization = core::GpuUtilizationMetricSpec{true, 50.0, ""};
  return std::make_shared<const core::Policy>(std::move(policy));
}

// p000 ... p(n-1), sorted by name.
core::PolicyList manyPolicies(int n) {
  core::PolicyList list;
  for (int i = 0; i < n; ++i) {
    // Built with += : GCC 12 warns falsely (-Wrestrict) on "literal" + string chains.
    const std::string number = std::to_string(i);
    std::string name = "p";
    name.append(3 - number.size(), '0');
    name += number;
    list.push_back(gpuPolicy(name));
  }
  return list;
}

std::shared_ptr<const core::PolicyList> shared(core::PolicyList list) {
  return std::make_shared<const core::PolicyList>(std::move(list));
}

struct Fixture {
  explicit Fixture(std::chrono::milliseconds interval = 3600s, source::MetricSource* inner = nullptr)
      : metrics(inner), loop(store, *registry, metrics, optionsOf(interval), EvaluationLoop::systemClock(), &listener) {}

  static EvaluationOptions optionsOf(std::chrono::milliseconds interval) {
    EvaluationOptions options;
    options.interval = interval;
    options.staleAfter = 3 * interval;
    return options;
  }

  // Waits (with a deadline) for the loop to complete `n` evaluations.
  bool waitForEvaluations(std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (loop.evaluations() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return loop.evaluations() >= n;
  }
  bool waitForCycles(std::uint64_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (loop.cycles() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return loop.cycles() >= n;
  }
  std::int32_t desired(const std::string& name) {
    const auto entry = store.find("default", name);
    REQUIRE(entry != nullptr);
    REQUIRE(entry->decision.has_value());
    return entry->decision->desiredReplicas;
  }

  DecisionStore store;
  std::unique_ptr<core::AlgorithmRegistry> registry = core::AlgorithmRegistry::withBuiltins();
  CountingMetricSource metrics;
  StateListener listener;
  EvaluationLoop loop;
};

TEST_CASE("an edit of one policy of many evaluates that one only, and the timer's cycle none") {
  Fixture f;
  core::PolicyList list = manyPolicies(200);
  f.loop.setPolicies(shared(list));
  f.loop.start();  // a first full cycle at once; the next one in an hour
  REQUIRE(f.waitForCycles(1));
  REQUIRE(f.metrics.reads().size() == 1);
  CHECK(f.metrics.reads()[0].size() == 200);
  CHECK(f.desired("p007") == 4);

  // The watcher's way: one pointer replaced, the others shared.
  list[7] = gpuPolicy("p007", 3);
  f.loop.setPolicies(shared(list));
  REQUIRE(f.waitForEvaluations(2));
  CHECK(f.metrics.reads().back() == std::set<std::string>{"default/p007"});
  CHECK(f.desired("p007") == 3);  // the edit applied
  CHECK(f.loop.cycles() == 1);    // not a cycle

  // The directory's way: every policy built anew, one of them different.
  core::PolicyList rebuilt;
  for (const core::SharedPolicy& policy : list) {
    rebuilt.push_back(std::make_shared<const core::Policy>(*policy));
  }
  rebuilt[42] = gpuPolicy("p042", 2);
  f.loop.setPolicies(shared(rebuilt));
  REQUIRE(f.waitForEvaluations(3));
  CHECK(f.metrics.reads().back() == std::set<std::string>{"default/p042"});
  CHECK(f.desired("p042") == 2);

  // Only the resourceVersion differs (a status write): nothing to evaluate.
  auto rewritten = std::make_shared<core::Policy>(*rebuilt[10]);
  rewritten->metadata.resourceVersion = "99";
  rebuilt[10] = rewritten;
  rebuilt[11] = gpuPolicy("p011", 5);  // and one real change, to wait on
  f.loop.setPolicies(shared(rebuilt));
  REQUIRE(f.waitForEvaluations(4));
  CHECK(f.metrics.reads().back() == std::set<std::string>{"default/p011"});
  {
    const std::lock_guard lock(f.listener.mutex);
    CHECK(f.listener.lastEvaluated == 1);
    CHECK(f.listener.lastStates.at("ready") == 200);  // counts of every policy, not of the one
  }
  f.loop.stop();
  CHECK(f.metrics.reads().size() == 4);
}

TEST_CASE("a deleted policy is removed at once, without reading any other") {
  Fixture f;
  core::PolicyList list = manyPolicies(100);
  f.loop.setPolicies(shared(list));
  f.loop.start();
  REQUIRE(f.waitForCycles(1));
  REQUIRE(f.store.find("default", "p050") != nullptr);

  list.erase(list.begin() + 50);
  f.loop.setPolicies(shared(list));
  REQUIRE(f.waitForEvaluations(2));
  CHECK(f.store.find("default", "p050") == nullptr);
  CHECK(f.metrics.reads().size() == 1);  // no read for a removal
  {
    const std::lock_guard lock(f.listener.mutex);
    CHECK(f.listener.removed == std::vector<std::string>{"default/p050"});
    CHECK(f.listener.lastStates.at("ready") == 99);
    CHECK(f.listener.partials == 1);
  }

  // Refused now (the API's way: gone from the set, listed invalid): served
  // in the version evaluated last, with the problem; alone.
  list.erase(list.begin() + 10);  // p010
  f.loop.setPolicies(shared(list), {{"default", "p010", "spec.maxReplicas: must be >= 1"}});
  REQUIRE(f.waitForEvaluations(3));
  CHECK(f.metrics.reads().back() == std::set<std::string>{"default/p010"});
  const auto kept = f.store.find("default", "p010");
  REQUIRE(kept != nullptr);
  CHECK(kept->state == PolicyState::kReady);
  CHECK(kept->message == "spec.maxReplicas: must be >= 1");
  f.loop.stop();
}

TEST_CASE("a metrics-file change evaluates the policies whose entries changed") {
  testing::TempDir dir;
  const auto path = dir.write("metrics.yaml",
                              "default/p000: {currentReplicas: 2, gpuUtilizationPercent: 100}\n"
                              "default/p001: {currentReplicas: 2, gpuUtilizationPercent: 100}\n"
                              "default/p002: {currentReplicas: 2, gpuUtilizationPercent: 100}\n");
  source::FileMetricSource file(path);
  std::vector<std::string> changed;
  REQUIRE(file.reload(&changed).ok());
  CHECK(changed == std::vector<std::string>{"default/p000", "default/p001", "default/p002"});

  Fixture f(3600s, &file);
  f.loop.setPolicies(shared(manyPolicies(50)));
  f.loop.start();
  REQUIRE(f.waitForCycles(1));
  CHECK(f.desired("p001") == 4);

  // p001 changed, p002 removed (no data now), p003 added (a policy without
  // an entry before), p000 as it was.
  dir.write("metrics.yaml",
            "default/p000: {currentReplicas: 2, gpuUtilizationPercent: 100}\n"
            "default/p001: {currentReplicas: 2, gpuUtilizationPercent: 25}\n"
            "default/p003: {currentReplicas: 2, gpuUtilizationPercent: 100}\n"
            "default/nopolicy: {currentReplicas: 2, gpuUtilizationPercent: 100}\n");
  changed.clear();
  REQUIRE(file.reload(&changed).ok());
  CHECK(changed == std::vector<std::string>{"default/nopolicy", "default/p001", "default/p002", "default/p003"});
  f.loop.reevaluate(changed);
  REQUIRE(f.waitForEvaluations(2));
  // The key of no policy is not read either.
  CHECK(f.metrics.reads().back() == std::set<std::string>{"default/p001", "default/p002", "default/p003"});
  CHECK(f.desired("p001") == 1);  // 2 x 25 / 50
  CHECK(f.desired("p003") == 4);
  CHECK(f.loop.cycles() == 1);
  f.loop.stop();
}

TEST_CASE("the timer still evaluates every policy, edits or not") {
  Fixture f(300ms);
  core::PolicyList list = manyPolicies(30);
  f.loop.setPolicies(shared(list));
  f.loop.start();
  REQUIRE(f.waitForCycles(1));
  list[3] = gpuPolicy("p003", 2);
  f.loop.setPolicies(shared(list));
  REQUIRE(f.waitForCycles(4));
  f.loop.stop();
  std::size_t full = 0;
  for (const auto& read : f.metrics.reads()) {
    CHECK((read.size() == 30 || read == std::set<std::string>{"default/p003"}));
    if (read.size() == 30) {
      ++full;
    }
  }
  CHECK(full >= 4);
  CHECK(f.desired("p003") == 2);
}

TEST_CASE("a stream of edits never keeps the timer's cycles from running") {
  // Review finding: a tick that passed while a partial evaluation ran was
  // skipped, so edits arriving as fast as partial reads took stopped every
  // full cycle, and every other policy went stale.
  Fixture f(200ms);
  f.metrics.delay = 20ms;
  core::PolicyList list = manyPolicies(30);
  f.loop.setPolicies(shared(list));
  f.loop.start();
  REQUIRE(f.waitForCycles(1));
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t cyclesBefore = f.loop.cycles();
  for (int edit = 0; std::chrono::steady_clock::now() - start < 2s; ++edit) {
    list[7] = gpuPolicy("p007", 10 + edit % 5);
    f.loop.setPolicies(shared(list));
    std::this_thread::sleep_for(5ms);  // the pace of the edits, not a synchronisation
  }
  const std::uint64_t cyclesDuring = f.loop.cycles() - cyclesBefore;
  f.loop.stop();
  std::size_t partial = 0;
  for (const auto& read : f.metrics.reads()) {
    if (read == std::set<std::string>{"default/p007"}) {
      ++partial;
    }
  }
  CHECK(partial > 10);  // the edits were evaluated alone, between the cycles
  // 2 s at 200 ms: 10 ticks; allow for a slow machine.
  CHECK(cyclesDuring >= 6);
}

TEST_CASE("a cycle run before start() is the thread's first: its own first cycle comes an interval later") {
  Fixture f;
  core::PolicyList list = manyPolicies(200);
  f.loop.setPolicies(shared(list));
  f.loop.runOnce();  // serve's first cycle, before it listens
  f.loop.start();
  list[7] = gpuPolicy("p007", 3);
  f.loop.setPolicies(shared(list));
  REQUIRE(f.waitForEvaluations(2));
  f.loop.stop();
  const auto reads = f.metrics.reads();
  REQUIRE(reads.size() == 2);  // not a second full read when the thread started
  CHECK(reads[0].size() == 200);
  CHECK(reads[1] == std::set<std::string>{"default/p007"});
  CHECK(f.loop.cycles() == 1);
}

TEST_CASE("runOnceForCurrentSet: the first list is evaluated once, by the thread's cycle or the caller's") {
  SUBCASE("the timer thread's cycle has read the set: the caller waits for it, and reads nothing") {
    // 200 policies, and 50: a first list small enough for a partial evaluation is a full cycle too.
    for (const int count : {200, 50}) {
      CAPTURE(count);
      Fixture f;
      f.metrics.delay = 300ms;  // the thread's cycle is still reading when the caller asks
      f.loop.start();
      REQUIRE(f.waitForCycles(1));  // the empty set's cycle
      f.loop.setPolicies(shared(manyPolicies(count)));  // the first list: a full cycle, woken
      auto fullReads = [&] {
        std::size_t n = 0;
        for (const auto& read : f.metrics.reads()) {
          n += read.size() == static_cast<std::size_t>(count) ? std::size_t{1} : std::size_t{0};
        }
        return n;
      };
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (fullReads() < 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
      }
      REQUIRE(fullReads() == 1);
      f.loop.runOnceForCurrentSet();
      CHECK(f.loop.cycles() == 2);  // returned after the thread's cycle ended
      CHECK(f.desired("p010") == 4);
      f.loop.stop();
      CHECK(fullReads() == 1);  // and did not run one of its own
    }
  }
  SUBCASE("no cycle has read it: the caller runs one; asked again, none; after a new set, one") {
    Fixture f;
    f.loop.setPolicies(shared(manyPolicies(50)));
    f.loop.runOnceForCurrentSet();
    CHECK(f.metrics.reads().size() == 1);
    CHECK(f.desired("p010") == 4);
    f.loop.runOnceForCurrentSet();
    CHECK(f.metrics.reads().size() == 1);
    core::PolicyList edited = manyPolicies(50);
    edited[10] = gpuPolicy("p010", 3);
    f.loop.setPolicies(shared(edited));
    f.loop.runOnceForCurrentSet();
    CHECK(f.metrics.reads().size() == 2);
    CHECK(f.desired("p010") == 3);
  }
}

}  // namespace
}  // namespace kubeai::server
