#include "server/decision_store.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "server/duration_text.h"

namespace kubeai::server {

std::string_view policyStateName(PolicyState state) noexcept {
  switch (state) {
    case PolicyState::kPending:
      return "pending";
    case PolicyState::kReady:
      return "ready";
    case PolicyState::kStale:
      return "stale";
    case PolicyState::kInvalid:
      return "invalid";
  }
  return "unknown";
}

bool visiblyDifferent(const PolicyEntry* a, const PolicyEntry* b) noexcept {
  if (a == b) {
    return false;
  }
  if (a == nullptr || b == nullptr) {
    return true;  // known vs unknown: NOT_FOUND on one side only
  }
  if (a->servable() != b->servable()) {
    return true;
  }
  if (a->servable()) {
    // The read time matters too: a stream that found its entry stale on time
    // waits for the next fresh read, which may well decide the same replicas.
    return a->desiredReplicas() != b->desiredReplicas() || a->metricsReadAt != b->metricsReadAt;
  }
  // Both answer UNAVAILABLE; the status message names the state and carries
  // the entry's message.
  return a->state != b->state || a->message != b->message;
}

bool readTooLongAgo(const PolicyEntry& entry, core::TimePoint now, std::chrono::milliseconds bound) noexcept {
  return entry.servable() && entry.metricsReadAt && now - *entry.metricsReadAt > bound;
}

std::string staleOnTimeMessage(const PolicyEntry& entry, core::TimePoint now, std::chrono::milliseconds bound) {
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(
      now - entry.metricsReadAt.value_or(now));
  std::string message = "metrics last read ";
  message += formatDuration(age);
  message += " ago (--metrics-stale-after ";
  message += formatDuration(bound);
  message += ")";
  return message;
}

namespace detail {
namespace {

// FNV-1a, fed the key's bytes piecewise so that "ns/name" hashes the same
// whether it is one string or two views.
constexpr std::size_t kFnvOffset = 14695981039346656037ULL;
constexpr std::size_t kFnvPrime = 1099511628211ULL;

std::size_t fnv(std::size_t hash, std::string_view bytes) noexcept {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

}  // namespace

std::size_t PolicyKeyHash::operator()(std::string_view key) const noexcept { return fnv(kFnvOffset, key); }

std::size_t PolicyKeyHash::operator()(const PolicyKeyView& key) const noexcept {
  return fnv(fnv(fnv(kFnvOffset, key.ns), "/"), key.name);
}

bool PolicyKeyEqual::operator()(const PolicyKeyView& a, std::string_view b) const noexcept {
  return b.size() == a.ns.size() + 1 + a.name.size() && b.substr(0, a.ns.size()) == a.ns && b[a.ns.size()] == '/' &&
         b.substr(a.ns.size() + 1) == a.name;
}

}  // namespace detail

namespace {

std::string keyString(const detail::PolicyKeyView& key) {
  std::string out;
  out.reserve(key.ns.size() + 1 + key.name.size());
  out.append(key.ns).append(1, '/').append(key.name);
  return out;
}

}  // namespace

// The listeners of one key. Its mutex serialises the key's notifications and
// guards `slots`; it is what makes "after ~Subscription the listener is not
// running" true: unsubscribing waits for a notification in progress.
struct DecisionStore::Subscription::KeyListeners {
  struct Slot {
    std::uint64_t id = 0;
    Listener listener;
    std::shared_ptr<const PolicyEntry> last;  // what this listener saw last: no visibly equal repeats
    bool removed = false;                     // unsubscribed from inside a listener; erased after the loop
  };

  explicit KeyListeners(std::string k) : key(std::move(k)) {}

  const std::string key;
  std::mutex mutex;
  std::vector<Slot> slots;
  // Set under `mutex` when the last slot went: the map entry is on its way
  // out, and a subscribe() that finds it makes a new one instead. Atomic
  // because subscribe() reads it without `mutex`.
  std::atomic<bool> dead{false};
  // The thread calling this key's listeners, so that a listener destroying a
  // subscription of this key (e.g. a stream finishing itself) is recognised
  // instead of deadlocking on `mutex`, which that thread already holds.
  std::atomic<std::thread::id> notifyingThread{};
  bool needsCompaction = false;

  // Erases slots removed from inside a listener; true when none is left.
  bool compact() {
    if (needsCompaction) {
      needsCompaction = false;
      std::erase_if(slots, [](const Slot& slot) { return slot.removed; });
    }
    if (slots.empty()) {
      dead.store(true);
      return true;
    }
    return false;
  }
};

namespace {

// Marks the calling thread as the one running a key's listeners for as long
// as it lives (also if a listener throws, against the contract).
class NotifyingScope {
 public:
  explicit NotifyingScope(std::atomic<std::thread::id>& slot) : slot_(slot) { slot_.store(std::this_thread::get_id()); }
  ~NotifyingScope() { slot_.store(std::thread::id{}); }
  NotifyingScope(const NotifyingScope&) = delete;
  NotifyingScope& operator=(const NotifyingScope&) = delete;

 private:
  std::atomic<std::thread::id>& slot_;
};

}  // namespace

DecisionStore::Subscription::Subscription(DecisionStore* store, std::shared_ptr<KeyListeners> listeners,
                                          std::uint64_t id)
    : store_(store), listeners_(std::move(listeners)), id_(id) {}

DecisionStore::Subscription::Subscription(Subscription&& other) noexcept
    : store_(std::exchange(other.store_, nullptr)), listeners_(std::move(other.listeners_)), id_(other.id_) {}

DecisionStore::Subscription& DecisionStore::Subscription::operator=(Subscription&& other) noexcept {
  if (this != &other) {
    reset();
    store_ = std::exchange(other.store_, nullptr);
    listeners_ = std::move(other.listeners_);
    id_ = other.id_;
  }
  return *this;
}

DecisionStore::Subscription::~Subscription() { reset(); }

void DecisionStore::Subscription::reset() noexcept {
  if (listeners_) {
    store_->unsubscribe(listeners_, id_);
    listeners_.reset();
    store_ = nullptr;
  }
}

DecisionStore::~DecisionStore() = default;

std::shared_ptr<const PolicyEntry> DecisionStore::publish(PolicyEntry entry) {
  // Built outside the lock; made visible, with its version, under it.
  auto fresh = std::make_shared<PolicyEntry>(std::move(entry));
  const detail::PolicyKeyView key{fresh->ns, fresh->name};
  std::shared_ptr<const PolicyEntry> previous;
  {
    const std::unique_lock lock(entriesMutex_);
    fresh->version = ++lastVersion_;
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      entries_.emplace(keyString(key), fresh);
    } else {
      previous = std::exchange(it->second, fresh);
    }
  }
  // Skipping an invisible change is safe: the publish that made the last
  // visible change notifies after it, and reads the store when it does.
  if (visiblyDifferent(previous.get(), fresh.get())) {
    notify(key);
  }
  return fresh;
}  // `previous` is released here, outside the lock

void DecisionStore::remove(std::string_view ns, std::string_view name) {
  const detail::PolicyKeyView key{ns, name};
  std::shared_ptr<const PolicyEntry> previous;
  {
    const std::unique_lock lock(entriesMutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) {
      return;
    }
    previous = std::move(it->second);
    entries_.erase(it);
  }
  notify(key);
}

std::shared_ptr<const PolicyEntry> DecisionStore::find(std::string_view ns, std::string_view name) const {
  const detail::PolicyKeyView key{ns, name};
  const std::shared_lock lock(entriesMutex_);
  const auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

std::vector<std::shared_ptr<const PolicyEntry>> DecisionStore::all() const {
  std::vector<std::shared_ptr<const PolicyEntry>> out;
  const std::shared_lock lock(entriesMutex_);
  out.reserve(entries_.size());
  for (const auto& [key, entry] : entries_) {
    out.push_back(entry);
  }
  return out;
}

std::size_t DecisionStore::size() const {
  const std::shared_lock lock(entriesMutex_);
  return entries_.size();
}

std::size_t DecisionStore::watchedPolicies() const {
  const std::lock_guard lock(listenersMutex_);
  return listeners_.size();
}

DecisionStore::Subscription DecisionStore::subscribe(std::string_view ns, std::string_view name,
                                                     Listener listener) {
  const detail::PolicyKeyView key{ns, name};
  const std::uint64_t id = nextListenerId_.fetch_add(1, std::memory_order_relaxed);
  for (;;) {
    std::shared_ptr<KeyListeners> listeners;
    {
      const std::lock_guard lock(listenersMutex_);
      auto it = listeners_.find(key);
      if (it == listeners_.end()) {
        it = listeners_.emplace(keyString(key), nullptr).first;
      }
      if (!it->second || it->second->dead.load()) {
        it->second = std::make_shared<KeyListeners>(it->first);
      }
      listeners = it->second;
    }
    bool empty = false;
    {
      const std::lock_guard lock(listeners->mutex);
      if (listeners->dead.load()) {
        continue;  // its last subscriber left in between: make a fresh one
      }
      // Read under the key's lock: every later notification reads the store
      // after this, so the listener never goes back to an older entry.
      auto current = find(ns, name);
      listeners->slots.push_back(KeyListeners::Slot{id, std::move(listener), current, false});
      {
        const NotifyingScope scope(listeners->notifyingThread);
        // By index: the vector does not grow while we hold the lock, and
        // a listener may only mark slots removed.
        listeners->slots.back().listener(current);
      }
      // The first call may have destroyed other subscriptions of this key
      // (not its own: it has none yet), so the list may need compaction.
      empty = listeners->needsCompaction && listeners->compact();
    }
    if (empty) {
      forget(listeners);  // cannot happen with our own slot in it; kept for symmetry
    }
    return Subscription(this, std::move(listeners), id);
  }
}

void DecisionStore::unsubscribe(const std::shared_ptr<KeyListeners>& listeners, std::uint64_t id) noexcept {
  if (listeners->notifyingThread.load() == std::this_thread::get_id()) {
    // Called from inside one of this key's listeners, on the thread that
    // holds listeners->mutex: mark only, the notifying loop erases after it.
    for (auto& slot : listeners->slots) {
      if (slot.id == id) {
        slot.removed = true;
        listeners->needsCompaction = true;
      }
    }
    return;
  }
  bool empty = false;
  {
    // Waits for a notification of this key in progress: once we return, the
    // listener is not running and, being erased, is never called again.
    const std::lock_guard lock(listeners->mutex);
    auto& slots = listeners->slots;
    const auto it = std::find_if(slots.begin(), slots.end(), [id](const auto& slot) { return slot.id == id; });
    if (it != slots.end()) {
      // Order among one key's listeners does not matter: swap and pop.
      std::swap(*it, slots.back());
      slots.pop_back();
    }
    empty = listeners->compact();
  }
  if (empty) {
    forget(listeners);
  }
}

void DecisionStore::forget(const std::shared_ptr<KeyListeners>& listeners) noexcept {
  const std::lock_guard lock(listenersMutex_);
  const auto it = listeners_.find(std::string_view(listeners->key));
  // A subscribe() may already have replaced it with a live one.
  if (it != listeners_.end() && it->second == listeners) {
    listeners_.erase(it);
  }
}

void DecisionStore::notify(const detail::PolicyKeyView& key) {
  std::shared_ptr<KeyListeners> listeners;
  {
    const std::lock_guard lock(listenersMutex_);
    const auto it = listeners_.find(key);
    if (it == listeners_.end()) {
      return;
    }
    listeners = it->second;
  }
  bool empty = false;
  {
    const std::lock_guard lock(listeners->mutex);
    if (listeners->dead.load()) {
      return;
    }
    // Re-read under the key's lock rather than pass on what the publisher
    // wrote: two publishers of one key may reach this point in either order,
    // and the later reader must see the later entry.
    const auto current = find(key.ns, key.name);
    {
      const NotifyingScope scope(listeners->notifyingThread);
      auto& slots = listeners->slots;
      for (std::size_t i = 0; i < slots.size(); ++i) {
        if (slots[i].removed || !visiblyDifferent(slots[i].last.get(), current.get())) {
          continue;
        }
        slots[i].last = current;
        slots[i].listener(current);
      }
    }
    empty = listeners->needsCompaction && listeners->compact();
  }
  if (empty) {
    forget(listeners);
  }
}

}  // namespace kubeai::server
