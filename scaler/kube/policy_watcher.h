#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/policy.h"
#include "kube/client/kube_client.h"
#include "kube/list_watch.h"  // ListWatch; WatchLog, which the options take
#include "kube/watch_decoding.h"
#include "server/evaluation_loop.h"

namespace kubeai::kube {

// The policy resource (DESIGN §2) as the API serves it.
inline constexpr std::string_view kPolicyGroupVersion = "kubeai.io/v1alpha1";
inline constexpr std::string_view kPolicyPlural = "aiinferenceautoscalerpolicies";

// Everything the API holds at one moment, as the evaluation loop takes it.
struct PolicySnapshot {
  // Valid policies, sorted by namespace then name; never null. Shared with
  // the watcher and the previous snapshots: an event replaces the pointer of
  // the policy it changed, the others stay the same objects (so the loop
  // tells what changed by pointer).
  std::shared_ptr<const core::PolicyList> policies = std::make_shared<const core::PolicyList>();
  // Policies the parser refused; messages name the fields ("spec.maxReplicas: ...").
  std::vector<server::InvalidPolicy> invalid;
  // metadata.generation of each refused policy, by "namespace/name" (the
  // status writer's observedGeneration).
  std::map<std::string, std::int64_t> invalidGenerations;
  // What the API holds as .status (valid and refused policies), by
  // "namespace/name", as compact JSON text, for the policies listed, added or
  // modified since the previous snapshot only (all of them in the first and
  // after a relist): a change to one policy does not hand on, nor make the
  // status writer parse, ten thousand statuses. Absent when the object has
  // no status object. The status writer starts from it, so that a restarted
  // server or a new leader keeps the conditions' lastTransitionTime.
  std::map<std::string, std::string> apiStatuses;
};

struct PolicyWatcherOptions {
  std::string ns;  // empty: all namespaces
  // Watch events arriving within this long of one another are published once.
  std::chrono::milliseconds coalesce{100};
  // Failures back off exponentially with jitter between these; a watch that
  // lasted (or brought events) resets. A relist after a watch that did not is
  // backed off too, so that a server expiring every watch at once is not
  // listed in a hot loop. A server's retryAfterSeconds is taken within
  // [1 s, backoffMax].
  std::chrono::milliseconds backoffInitial{500};
  std::chrono::milliseconds backoffMax{30'000};
  std::chrono::milliseconds requestTimeout{30'000};  // each list page
  // The watch's timeoutSeconds is drawn from [min, max] for each watch, so that
  // many servers do not reconnect in step (client-go does the same).
  std::int32_t watchTimeoutMinSeconds = 300;
  std::int32_t watchTimeoutMaxSeconds = 600;
  std::int32_t pageSize = 500;
  WatchLog log;  // may be empty
  // A MODIFIED event that changes neither the spec (metadata.generation is
  // the same) nor anything else the server uses is a status write: ours
  // (every status the leader writes comes back this way) or another
  // replica's. Its status is handed here at once, from the watcher's thread,
  // and the set is not published again, which would re-evaluate every policy
  // for nothing. Empty: the status waits for the next snapshot's apiStatuses.
  std::function<void(const std::string& ns, const std::string& name, const std::string& status)> onStatus;
  // Waits `delay` or until `stop`; returns false when stopped. Tests replace
  // it to record the back-off without sleeping.
  std::function<bool(std::chrono::milliseconds delay, std::stop_token stop)> sleep;
  // serve --policy-selector's canonical text (LabelSelector::text()), sent as
  // the list's and the watch's labelSelector: the API server selects, so a
  // shard holds its own policies only; one whose labels leave the selector
  // arrives as DELETED, one entering it as ADDED. Empty: every policy.
  std::string labelSelector{};
};

// Reads AIInferenceAutoscalerPolicy objects from the Kubernetes API (DESIGN §6):
// a paginated list (limit, continue), then a watch from the list's
// resourceVersion with bookmarks; a watch that ends is resumed from the last
// resourceVersion seen, an expired one (an ERROR event with code 410, or HTTP
// 410) is replaced by a fresh list. Connection failures, 429 (its
// retryAfterSeconds honoured) and 5xx back off. Those mechanics are
// ListWatch's; the watcher is its sink: it decodes the policies and holds them.
//
// onChange gets the whole set after the first list, after each relist, and
// after watch events (bursts coalesced). It is called from the watcher's own
// threads, one call at a time. health() already counts what it is handed (the
// list, the event, onStatus's too); synced() turns true after the first set.
class PolicyWatcher : private ListWatchSink {
 public:
  using OnChange = std::function<void(PolicySnapshot)>;

  // While a list's set is handed on (onChange, called as the list ends),
  // `lists` and `resourceVersion` already count that list; `synced` is still
  // false then for the first list.
  struct Health {
    bool synced = false;          // the first list completed
    std::string resourceVersion;  // the last one seen
    std::uint64_t lists = 0;      // completed lists (the first one and relists)
    std::uint64_t watches = 0;    // watches started
    std::string lastError;        // the last failure, empty once a request succeeds
  };

  PolicyWatcher(KubeClient& client, PolicyWatcherOptions options, OnChange onChange);
  ~PolicyWatcher() override;
  PolicyWatcher(const PolicyWatcher&) = delete;
  PolicyWatcher& operator=(const PolicyWatcher&) = delete;

  // Starts the list and watch on a background thread.
  void start();
  // Stops promptly (the watch stream is told through its stop_token); idempotent.
  void stop();

  [[nodiscard]] bool synced() const noexcept { return listWatch_.synced(); }
  [[nodiscard]] Health health() const;

  // The collection path, with "?" or "&" to follow: tests and logs.
  [[nodiscard]] std::string collectionPath() const;

 private:
  using Object = detail::WatchedPolicy;
  using Key = std::pair<std::string, std::string>;  // namespace, name: the snapshot's order

  // ListWatchSink, called from the ListWatch's thread.
  void beginList() override;
  core::Result<ListPageEnd> listPage(const std::string& path, std::string_view body) override;
  void endList(const std::string& resourceVersion) override;
  void listed(std::size_t pages, const std::string& resourceVersion) override;
  // Decodes the line; an event is held for applyWatchLine().
  WatchLineOutcome watchLine(std::string_view line) override;
  void applyWatchLine() override;
  // An ADDED, MODIFIED or DELETED event of a policy with a name.
  void apply(const std::string& type, Key key, Object decoded);

  void publishLoop(const std::stop_token& stop);
  void publishNow();
  void markDirty();
  void log(WatchLogLevel level, std::string_view message, const WatchLogFields& fields = {}) const;

  const PolicyWatcherOptions options_;
  const OnChange onChange_;

  std::map<Key, Object> fresh_;  // the list being read; the ListWatch's thread only
  std::size_t listedCount_ = 0;  // policies the last list held, for its log line; likewise
  // The event watchLine() decoded, until applyWatchLine(); likewise.
  struct PendingEvent {
    std::string type;
    Key key;
    Object decoded;
  };
  std::optional<PendingEvent> pending_;

  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable_any dirtyChanged_;
  std::map<Key, Object> objects_;
  // What changed since the last snapshot, so that publishing one edit of
  // 10,000 policies patches the last snapshot's list (pointers copied) rather
  // than walking every object: the keys added, changed or deleted; all of
  // them after a list.
  std::set<Key> changed_;
  bool relisted_ = false;
  std::set<Key> withStatus_;  // objects holding an apiStatus not handed on yet
  std::set<Key> refused_;     // objects the parser refused
  bool dirty_ = false;

  std::mutex publishMutex_;  // one onChange at a time; guards published_
  std::shared_ptr<const core::PolicyList> published_ = std::make_shared<const core::PolicyList>();

  std::jthread publisher_;
  // Last: it calls the members above from its thread until stop() joins it.
  ListWatch listWatch_;
};

}  // namespace kubeai::kube
