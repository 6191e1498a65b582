#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/decision.h"
#include "core/history.h"

namespace kubeai::server {

// Where a policy stands, as the gRPC handlers answer for it.
enum class PolicyState {
  kPending,  // loaded, not evaluated yet: UNAVAILABLE ("not evaluated yet")
  kReady,    // a decision to serve
  kStale,    // metrics failed for longer than --metrics-stale-after: UNAVAILABLE, so KEDA's fallback applies
  kInvalid,  // the policy is invalid and never evaluated: UNAVAILABLE with the errors
};

std::string_view policyStateName(PolicyState state) noexcept;  // "pending", "ready", "stale", "invalid"

// What the store holds for one policy. Immutable once published: readers get
// a shared_ptr and never wait on the writer.
struct PolicyEntry {
  std::string ns;
  std::string name;
  PolicyState state = PolicyState::kPending;
  std::optional<core::Decision> decision;  // the last decision (kept while stale)
  std::string message;                     // why pending/stale/invalid, for the RPC status and /readyz
  core::TimePoint decidedAt{};
  // When the metrics behind `decision` were last read successfully (the
  // evaluation loop's clock). The RPC path refuses a decision whose read is
  // older than --metrics-stale-after, whether or not a cycle completed since.
  std::optional<core::TimePoint> metricsReadAt;
  // Set by the store on every publish from one store-wide counter, so it only
  // grows for a key, also across remove() and a later publish().
  std::uint64_t version = 0;

  // What KEDA sees: the desired replicas and IsActive (desired > 0).
  [[nodiscard]] bool servable() const noexcept { return state == PolicyState::kReady && decision.has_value(); }
  [[nodiscard]] std::int32_t desiredReplicas() const noexcept { return decision ? decision->desiredReplicas : 0; }
  [[nodiscard]] bool active() const noexcept { return desiredReplicas() > 0; }
};

// True when KEDA could tell `a` and `b` apart through any RPC: known or not,
// servable or not, and then the desired replicas (so IsActive too) and the
// time of the metrics read (a fresh read makes servable again what the RPC
// path's clock found stale: see readTooLongAgo), or the message an unservable
// entry answers with. nullptr is an unknown policy.
[[nodiscard]] bool visiblyDifferent(const PolicyEntry* a, const PolicyEntry* b) noexcept;

// True when `entry` serves a decision whose metrics were last read more than
// `bound` (--metrics-stale-after) before `now`: the RPC path's own staleness
// check, which holds whether or not the evaluation loop completed a cycle
// since (a read that hangs, a plugin call that never returns). Exactly at the
// bound is not past it. An entry without metricsReadAt (not published by the
// evaluation loop: tests, benchmarks) is never stale on time.
[[nodiscard]] bool readTooLongAgo(const PolicyEntry& entry, core::TimePoint now,
                                  std::chrono::milliseconds bound) noexcept;

// Why readTooLongAgo() holds, for the RPC status and /readyz, without the
// policy's name: "metrics last read 47.2s ago (--metrics-stale-after 45s)".
[[nodiscard]] std::string staleOnTimeMessage(const PolicyEntry& entry, core::TimePoint now,
                                             std::chrono::milliseconds bound);

namespace detail {
// Store keys are "namespace/name"; lookups hash the two parts in place, so
// the O(1) read path of every RPC allocates nothing.
struct PolicyKeyView {
  std::string_view ns;
  std::string_view name;
};
struct PolicyKeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const noexcept;
  std::size_t operator()(const PolicyKeyView& key) const noexcept;
};
struct PolicyKeyEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
  bool operator()(const PolicyKeyView& a, std::string_view b) const noexcept;
  bool operator()(std::string_view a, const PolicyKeyView& b) const noexcept { return (*this)(b, a); }
};
}  // namespace detail

// The latest decision per policy, read by the gRPC handlers in O(1) without
// blocking on the evaluation loop, and watched by the streams.
//
// Thread-safe. Readers (find, all) take a shared lock for a hash lookup and
// copy a shared_ptr; publish/remove hold the exclusive lock only to swap a
// pointer. Listeners hang off their own key: notifying one policy's streams
// never holds a lock another policy's readers, publishers or listeners need.
class DecisionStore {
 public:
  // Called with the entry current when the call is made (nullptr: unknown).
  //
  // Contract, per subscription:
  // - the first call happens inside subscribe(), with the current entry, before
  //   it returns; every later call is made on the publishing thread after a
  //   change visible to KEDA (see visiblyDifferent), never twice in a row with
  //   visibly equal entries;
  // - calls for one key are serialised and carry entries in store order, so
  //   the last call always reflects the latest state;
  // - the listener must be quick and must not block (a stream reactor records
  //   the value and starts a write if none is in flight) and must not throw;
  // - it may call find() and all(), and may destroy subscriptions of its own
  //   key, its own included; it must not call publish(), remove() or
  //   subscribe(), nor destroy a subscription of another key (those would
  //   deadlock on the key's lock).
  using Listener = std::function<void(const std::shared_ptr<const PolicyEntry>&)>;

  // Unsubscribes on destruction; after it returns the listener is not running
  // and will not be called again (when a listener destroys its own
  // subscription, it simply is not called again). Must not outlive the store.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& other) noexcept;
    Subscription& operator=(Subscription&& other) noexcept;
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    ~Subscription();

    [[nodiscard]] bool active() const noexcept { return listeners_ != nullptr; }

   private:
    friend class DecisionStore;
    struct KeyListeners;
    Subscription(DecisionStore* store, std::shared_ptr<KeyListeners> listeners, std::uint64_t id);
    void reset() noexcept;

    DecisionStore* store_ = nullptr;
    std::shared_ptr<KeyListeners> listeners_;
    std::uint64_t id_ = 0;
  };

  DecisionStore() = default;
  DecisionStore(const DecisionStore&) = delete;
  DecisionStore& operator=(const DecisionStore&) = delete;
  ~DecisionStore();

  // Replaces the entry for entry.ns/entry.name (its version is set by the
  // store) and returns it, so a publisher can keep it without a copy.
  std::shared_ptr<const PolicyEntry> publish(PolicyEntry entry);

  // Removes a policy; its listeners get nullptr once (NOT_FOUND from then on).
  void remove(std::string_view ns, std::string_view name);

  // nullptr when the policy is unknown.
  [[nodiscard]] std::shared_ptr<const PolicyEntry> find(std::string_view ns, std::string_view name) const;

  // Every entry, for /metrics and /readyz (no particular order).
  [[nodiscard]] std::vector<std::shared_ptr<const PolicyEntry>> all() const;

  [[nodiscard]] std::size_t size() const;

  // Policies with at least one subscription (for /metrics and tests: it
  // drops back when streams end).
  [[nodiscard]] std::size_t watchedPolicies() const;

  // Calls `listener` now with the current entry of ns/name (nullptr if the
  // policy is not known yet: it may appear later), then on every visible
  // change, as described at Listener.
  [[nodiscard]] Subscription subscribe(std::string_view ns, std::string_view name, Listener listener);

 private:
  using KeyListeners = Subscription::KeyListeners;

  void unsubscribe(const std::shared_ptr<KeyListeners>& listeners, std::uint64_t id) noexcept;
  void notify(const detail::PolicyKeyView& key);
  void forget(const std::shared_ptr<KeyListeners>& listeners) noexcept;

  mutable std::shared_mutex entriesMutex_;
  std::unordered_map<std::string, std::shared_ptr<const PolicyEntry>, detail::PolicyKeyHash,
                     detail::PolicyKeyEqual>
      entries_;
  std::uint64_t lastVersion_ = 0;  // guarded by entriesMutex_

  // Only ever held for a map lookup, insert or erase; never while calling a
  // listener.
  mutable std::mutex listenersMutex_;
  std::unordered_map<std::string, std::shared_ptr<KeyListeners>, detail::PolicyKeyHash, detail::PolicyKeyEqual>
      listeners_;
  std::atomic<std::uint64_t> nextListenerId_{1};
};

}  // namespace kubeai::server
