#include "server/decision_store.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "test_support.h"

namespace kubeai::server {
namespace {

using testing::readyEntry;
using testing::unservableEntry;

// Records what a listener was called with.
struct Recorder {
  std::mutex mutex;
  std::vector<std::shared_ptr<const PolicyEntry>> calls;

  DecisionStore::Listener listener() {
    return [this](const std::shared_ptr<const PolicyEntry>& entry) {
      const std::lock_guard lock(mutex);
      calls.push_back(entry);
    };
  }
  std::size_t count() {
    const std::lock_guard lock(mutex);
    return calls.size();
  }
  std::shared_ptr<const PolicyEntry> last() {
    const std::lock_guard lock(mutex);
    return calls.empty() ? nullptr : calls.back();
  }
};

TEST_CASE("publish, find, all, remove") {
  DecisionStore store;
  CHECK(store.find("default", "chat") == nullptr);
  CHECK(store.size() == 0);

  store.publish(readyEntry("default", "chat", 3));
  store.publish(readyEntry("team", "chat", 5));
  const auto chat = store.find("default", "chat");
  REQUIRE(chat != nullptr);
  CHECK(chat->desiredReplicas() == 3);
  CHECK(chat->active());
  CHECK(chat->servable());
  CHECK(store.find("team", "chat")->desiredReplicas() == 5);
  CHECK(store.find("chat", "default") == nullptr);  // namespace and name are not interchangeable
  CHECK(store.find("default/chat", "") == nullptr);
  CHECK(store.all().size() == 2);
  CHECK(store.size() == 2);

  // A reader keeps its snapshot while the writer replaces it.
  store.publish(readyEntry("default", "chat", 0));
  CHECK(chat->desiredReplicas() == 3);
  CHECK(store.find("default", "chat")->desiredReplicas() == 0);
  CHECK_FALSE(store.find("default", "chat")->active());

  store.remove("default", "chat");
  CHECK(store.find("default", "chat") == nullptr);
  store.remove("default", "chat");  // unknown: nothing happens
  CHECK(store.size() == 1);
}

TEST_CASE("versions only grow for a key, also across remove and publish") {
  DecisionStore store;
  store.publish(readyEntry("default", "chat", 1));
  const auto first = store.find("default", "chat")->version;
  store.publish(readyEntry("default", "other", 1));
  store.publish(readyEntry("default", "chat", 1));
  const auto second = store.find("default", "chat")->version;
  CHECK(second > first);
  store.remove("default", "chat");
  store.publish(readyEntry("default", "chat", 1));
  CHECK(store.find("default", "chat")->version > second);
}

TEST_CASE("policyStateName") {
  CHECK(policyStateName(PolicyState::kPending) == "pending");
  CHECK(policyStateName(PolicyState::kReady) == "ready");
  CHECK(policyStateName(PolicyState::kStale) == "stale");
  CHECK(policyStateName(PolicyState::kInvalid) == "invalid");
}

TEST_CASE("visiblyDifferent: what KEDA can tell apart") {
  const auto ready3 = readyEntry("d", "p", 3);
  auto ready3Later = readyEntry("d", "p", 3);
  ready3Later.decidedAt = core::TimePoint{} + std::chrono::seconds(15);
  ready3Later.decision->reason = "within tolerance";
  const auto ready4 = readyEntry("d", "p", 4);
  const auto stale = unservableEntry("d", "p", PolicyState::kStale, "metrics failed");
  auto staleWithDecision = stale;
  staleWithDecision.decision = ready3.decision;  // kept while stale: still not servable
  const auto staleOther = unservableEntry("d", "p", PolicyState::kStale, "metrics failed for 2m");
  const auto pending = unservableEntry("d", "p", PolicyState::kPending, "metrics failed");
  auto readyNoDecision = ready3;
  readyNoDecision.decision.reset();
  auto ready3Read = ready3;
  ready3Read.metricsReadAt = core::TimePoint{} + std::chrono::seconds(30);
  auto ready3ReadAgain = ready3;
  ready3ReadAgain.metricsReadAt = core::TimePoint{} + std::chrono::seconds(45);
  auto staleRead = stale;
  staleRead.metricsReadAt = ready3Read.metricsReadAt;

  struct Row {
    const PolicyEntry* a;
    const PolicyEntry* b;
    bool different;
  };
  const std::vector<Row> rows = {
      {nullptr, nullptr, false},               // both unknown
      {nullptr, &ready3, true},                // appears
      {&ready3, nullptr, true},                // goes
      {&ready3, &ready3Later, false},          // same replicas; time and reason are not visible
      {&ready3, &ready4, true},                // the replicas
      {&ready3, &stale, true},                 // servable -> UNAVAILABLE
      {&stale, &staleWithDecision, false},     // the kept decision is not served
      {&stale, &staleOther, true},             // the message of the UNAVAILABLE status
      {&stale, &pending, true},                // the state named in the status
      {&ready3, &readyNoDecision, true},       // ready without a decision is not servable
      {&ready3Read, &ready3ReadAgain, true},   // a fresh read: servable again if the clock made it stale
      {&ready3Read, &ready3Read, false},       // the same read
      {&ready3, &ready3Read, true},            // a read time appears
      {&stale, &staleRead, false},             // unservable either way: the read time is not visible
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    CHECK(visiblyDifferent(rows[i].a, rows[i].b) == rows[i].different);
    CHECK(visiblyDifferent(rows[i].b, rows[i].a) == rows[i].different);
  }
}

TEST_CASE("a listener gets the current entry at once, then only visible changes") {
  DecisionStore store;
  Recorder recorder;
  auto subscription = store.subscribe("default", "chat", recorder.listener());
  REQUIRE(recorder.count() == 1);  // unknown yet
  CHECK(recorder.last() == nullptr);

  store.publish(readyEntry("default", "chat", 3));  // appears
  REQUIRE(recorder.count() == 2);
  CHECK(recorder.last()->desiredReplicas() == 3);

  auto later = readyEntry("default", "chat", 3);
  later.decidedAt = core::TimePoint{} + std::chrono::seconds(30);
  store.publish(later);  // nothing visible
  CHECK(recorder.count() == 2);

  store.publish(readyEntry("default", "other", 1));  // another key
  CHECK(recorder.count() == 2);

  store.publish(readyEntry("default", "chat", 0));  // replicas (and IsActive)
  CHECK(recorder.count() == 3);

  store.publish(unservableEntry("default", "chat", PolicyState::kStale, "metrics failed"));
  CHECK(recorder.count() == 4);
  store.publish(unservableEntry("default", "chat", PolicyState::kStale, "metrics failed"));  // same status
  CHECK(recorder.count() == 4);
  store.publish(unservableEntry("default", "chat", PolicyState::kStale, "metrics failed again"));
  CHECK(recorder.count() == 5);

  store.remove("default", "chat");
  CHECK(recorder.count() == 6);
  CHECK(recorder.last() == nullptr);
  store.remove("default", "chat");
  CHECK(recorder.count() == 6);

  store.publish(readyEntry("default", "chat", 2));  // back again
  CHECK(recorder.count() == 7);

  // A subscriber joining a known policy starts from its entry.
  Recorder second;
  auto secondSubscription = store.subscribe("default", "chat", second.listener());
  REQUIRE(second.count() == 1);
  CHECK(second.last()->desiredReplicas() == 2);
}

TEST_CASE("after a subscription is destroyed its listener is never called again") {
  DecisionStore store;
  Recorder kept;
  Recorder dropped;
  auto keptSubscription = store.subscribe("default", "chat", kept.listener());
  {
    auto droppedSubscription = store.subscribe("default", "chat", dropped.listener());
    CHECK(store.watchedPolicies() == 1);
    store.publish(readyEntry("default", "chat", 1));
    CHECK(dropped.count() == 2);
  }
  store.publish(readyEntry("default", "chat", 2));
  CHECK(dropped.count() == 2);
  CHECK(kept.count() == 3);

  // Moving keeps one live subscription; the moved-from one is inert.
  DecisionStore::Subscription moved = std::move(keptSubscription);
  CHECK(moved.active());
  CHECK_FALSE(keptSubscription.active());  // NOLINT(bugprone-use-after-move): documented state
  store.publish(readyEntry("default", "chat", 3));
  CHECK(kept.count() == 4);
  moved = DecisionStore::Subscription{};
  store.publish(readyEntry("default", "chat", 4));
  CHECK(kept.count() == 4);
  CHECK(store.watchedPolicies() == 0);
}

TEST_CASE("a listener may destroy its own subscription, and other ones of its key") {
  DecisionStore store;
  DecisionStore::Subscription self;
  DecisionStore::Subscription sibling;
  int selfCalls = 0;
  Recorder siblingRecorder;
  sibling = store.subscribe("default", "chat", siblingRecorder.listener());
  self = store.subscribe("default", "chat", [&](const std::shared_ptr<const PolicyEntry>& entry) {
    ++selfCalls;
    if (entry != nullptr && entry->desiredReplicas() == 0) {
      self = DecisionStore::Subscription{};     // itself: as a stream finishing from its listener would
      sibling = DecisionStore::Subscription{};  // and another one of the same key
    }
  });
  CHECK(selfCalls == 1);
  store.publish(readyEntry("default", "chat", 1));
  CHECK(selfCalls == 2);
  store.publish(readyEntry("default", "chat", 0));  // unsubscribes both from inside the call
  CHECK(selfCalls == 3);
  const auto siblingCalls = siblingRecorder.count();
  store.publish(readyEntry("default", "chat", 5));
  CHECK(selfCalls == 3);
  CHECK(siblingRecorder.count() == siblingCalls);
  CHECK(store.watchedPolicies() == 0);
  // The key works as before for new subscribers.
  Recorder fresh;
  auto freshSubscription = store.subscribe("default", "chat", fresh.listener());
  store.publish(readyEntry("default", "chat", 6));
  CHECK(fresh.count() == 2);
}

// A helper that lets a test hold a listener inside its call.
class Gate {
 public:
  void enter(std::chrono::milliseconds timeout = testing::kDeadline) {
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait_for(lock, timeout, [this] { return opened_; });
  }
  bool waitEntered() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, testing::kDeadline, [this] { return entered_; });
  }
  void open() {
    const std::lock_guard lock(mutex_);
    opened_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool opened_ = false;
};

TEST_CASE("a listener held up on one key blocks neither readers nor other keys") {
  DecisionStore store;
  store.publish(readyEntry("default", "slow", 1));
  Gate gate;
  auto slow = store.subscribe("default", "slow", [&](const std::shared_ptr<const PolicyEntry>& entry) {
    if (entry != nullptr && entry->desiredReplicas() == 2) {
      gate.enter();
    }
  });
  std::thread publisher([&] { store.publish(readyEntry("default", "slow", 2)); });
  REQUIRE(gate.waitEntered());

  // While that listener runs: reads of the same key, and everything on another key.
  CHECK(store.find("default", "slow")->desiredReplicas() == 2);
  Recorder other;
  auto otherSubscription = store.subscribe("default", "fast", other.listener());
  store.publish(readyEntry("default", "fast", 7));
  CHECK(other.count() == 2);
  CHECK(store.find("default", "fast")->desiredReplicas() == 7);
  otherSubscription = DecisionStore::Subscription{};
  CHECK(store.all().size() == 2);

  gate.open();
  publisher.join();
}

TEST_CASE("destroying a subscription waits for its listener call in progress") {
  DecisionStore store;
  std::atomic<bool> running{false};
  Gate gate;
  auto subscription = store.subscribe("default", "chat", [&](const std::shared_ptr<const PolicyEntry>& entry) {
    if (entry != nullptr) {
      running.store(true);
      // Stays in the call a little (the gate is never opened), so that the
      // destruction below starts while it runs. The check does not depend on
      // the timing: whenever destruction returns, the call must be over.
      gate.enter(std::chrono::milliseconds(100));
      running.store(false);
    }
  });
  std::thread publisher([&] { store.publish(readyEntry("default", "chat", 1)); });
  REQUIRE(gate.waitEntered());
  subscription = DecisionStore::Subscription{};
  CHECK_FALSE(running.load());
  publisher.join();
}

TEST_CASE("concurrent publish, remove, find, subscribe and unsubscribe from several threads") {
  DecisionStore store;
  constexpr int kKeys = 16;
  const auto name = [](int i) { return testing::numbered("p", i); };

  // Subscriptions kept for the whole run: each checks that its listener sees
  // versions in store order, and remembers the last entry it saw.
  struct Watcher {
    std::mutex mutex;
    std::shared_ptr<const PolicyEntry> last;
    std::uint64_t lastVersion = 0;
    bool first = true;
    bool ordered = true;
    bool repeated = false;
  };
  std::vector<std::unique_ptr<Watcher>> watchers;
  std::vector<DecisionStore::Subscription> kept;
  for (int i = 0; i < kKeys; ++i) {
    auto watcher = std::make_unique<Watcher>();
    Watcher* w = watcher.get();
    kept.push_back(store.subscribe("default", name(i), [w](const std::shared_ptr<const PolicyEntry>& entry) {
      const std::lock_guard lock(w->mutex);
      if (entry != nullptr) {
        if (entry->version <= w->lastVersion) {
          w->ordered = false;
        }
        w->lastVersion = entry->version;
      }
      if (!w->first && !visiblyDifferent(w->last.get(), entry.get())) {
        w->repeated = true;
      }
      w->first = false;
      w->last = entry;
    }));
    watchers.push_back(std::move(watcher));
  }

  constexpr int kOperations = 4000;
  std::atomic<long> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (int i = 0; i < kOperations; ++i) {
        const int key = static_cast<int>(random() % kKeys);
        const auto roll = random() % 10;
        if (roll == 0) {
          store.remove("default", name(key));
        } else if (roll == 1) {
          store.publish(unservableEntry("default", name(key), PolicyState::kStale, testing::numbered("m", static_cast<long>(random() % 2))));
        } else {
          store.publish(readyEntry("default", name(key), static_cast<std::int32_t>(random() % 3)));
        }
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(100 + t));
      std::vector<DecisionStore::Subscription> mine;
      for (int i = 0; i < kOperations; ++i) {
        const int key = static_cast<int>(random() % kKeys);
        const auto roll = random() % 4;
        if (roll == 0 || mine.empty()) {
          mine.push_back(store.subscribe("default", name(key), [&calls](const auto&) { calls.fetch_add(1); }));
        } else if (roll == 1) {
          std::swap(mine[random() % mine.size()], mine.back());
          mine.pop_back();
        } else {
          const auto entry = store.find("default", name(key));
          if (entry != nullptr) {
            CHECK(entry->name == name(key));
          }
          if (roll == 3 && i % 100 == 0) {
            CHECK(store.all().size() <= kKeys);
          }
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }

  // Everyone is quiet now: every kept watcher ends on what the store holds.
  for (int i = 0; i < kKeys; ++i) {
    CAPTURE(i);
    const std::lock_guard lock(watchers[static_cast<std::size_t>(i)]->mutex);
    const auto& w = *watchers[static_cast<std::size_t>(i)];
    CHECK(w.ordered);
    CHECK_FALSE(w.repeated);
    const auto current = store.find("default", name(i));
    CHECK_FALSE(visiblyDifferent(w.last.get(), current.get()));
  }
  CHECK(calls.load() > 0);
  kept.clear();
  CHECK(store.watchedPolicies() == 0);
}

TEST_CASE("10,000 policies with a subscription each: one flip of all reaches each listener once") {
  DecisionStore store;
  constexpr int kPolicies = 10000;
  std::vector<int> calls(kPolicies, 0);
  std::vector<DecisionStore::Subscription> subscriptions;
  subscriptions.reserve(kPolicies);
  for (int i = 0; i < kPolicies; ++i) {
    store.publish(readyEntry("default", testing::numbered("p", i), 1));
    subscriptions.push_back(store.subscribe("default", testing::numbered("p", i),
                                            [&calls, i](const auto&) { ++calls[static_cast<std::size_t>(i)]; }));
  }
  CHECK(store.watchedPolicies() == kPolicies);
  for (int i = 0; i < kPolicies; ++i) {
    store.publish(readyEntry("default", testing::numbered("p", i), 0));
  }
  for (int i = 0; i < kPolicies; ++i) {
    REQUIRE(calls[static_cast<std::size_t>(i)] == 2);  // the current entry at subscribe, then the flip
  }
  subscriptions.clear();
  CHECK(store.watchedPolicies() == 0);
  CHECK(store.size() == kPolicies);
}

}  // namespace
}  // namespace kubeai::server
