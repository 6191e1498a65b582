#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/result.h"
#include "kube/api_status.h"
#include "kube/client/kube_client.h"

namespace kubeai::kube {

// What a watcher says about itself; the CLI turns it into log lines, tests
// collect it. Fields are never credentials.
enum class WatchLogLevel { kDebug, kInfo, kWarn, kError };
using WatchLogFields = std::vector<std::pair<std::string, std::string>>;
using WatchLog = std::function<void(WatchLogLevel, std::string_view message, const WatchLogFields& fields)>;

// How a list + watch paces itself, and what it selects: the policy
// watcher's rules (PolicyWatcherOptions says why each is so).
struct ListWatchTiming {
  std::chrono::milliseconds backoffInitial{500};
  std::chrono::milliseconds backoffMax{30'000};
  std::chrono::milliseconds requestTimeout{30'000};  // each list page
  std::int32_t watchTimeoutMinSeconds = 300;
  std::int32_t watchTimeoutMaxSeconds = 600;
  std::int32_t pageSize = 500;
  WatchLog log;  // may be empty; the ListWatch's lines are as it is given them
  // Waits `delay` or until `stop`; false when stopped. Tests record the back-off with it.
  std::function<bool(std::chrono::milliseconds delay, std::stop_token stop)> sleep;
  // Sent as the list's and the watch's labelSelector (canonical text); empty: every object.
  std::string labelSelector{};
};

// A list page's envelope, as the sink read it.
struct ListPageEnd {
  std::string resourceVersion;
  std::string continueToken;  // empty on the last page
};

// One watch line, as the sink classified (and applied) it.
struct WatchLineOutcome {
  enum class Kind {
    kApplied,   // an ADDED, MODIFIED or DELETED event the sink applied
    kBookmark,  // nothing changed; resume from `resourceVersion`
    kIgnored,   // an event the sink logged and skipped
    kStatus,    // the watch failed: `status` (410: list again)
    kRefused,   // not an event at all: `error`; the watch is resumed after a back-off
  };
  Kind kind = Kind::kIgnored;
  std::string resourceVersion;  // kApplied, kBookmark: resume from it when not empty
  detail::ApiStatus status;     // kStatus
  bool errorEvent = false;      // kStatus: an ERROR event, else a bare Status
  std::string error;            // kRefused
};

// What a ListWatch hands its objects to: decoding and holding them is the
// sink's. Called from the ListWatch's thread only.
class ListWatchSink {
 public:
  virtual ~ListWatchSink() = default;
  // A list starts: the pages that follow make a new set.
  virtual void beginList() = 0;
  // One page's 200 body, its items added to the new set; an Error fails the
  // list (which is started over, after a back-off). `path`: the page's
  // request, for messages.
  virtual core::Result<ListPageEnd> listPage(const std::string& path, std::string_view body) = 0;
  // The last page is in: the new set replaces the one held. health() counts
  // the list already (lists, resourceVersion, lastError cleared), so that a
  // consumer handed the set here reads the health of this list, not the
  // previous one; synced() turns true after.
  virtual void endList(const std::string& resourceVersion) = 0;
  // After endList, once the list counts (synced(), health()): the sink's word
  // on it, such as its log line. `pages`: how many the list took.
  virtual void listed(std::size_t pages, const std::string& resourceVersion) = 0;
  // One watch line; the sink logs what it ignores or refuses in it.
  virtual WatchLineOutcome watchLine(std::string_view line) = 0;
  // After watchLine() answered kApplied, once health() counts the line (its
  // resourceVersion, lastError cleared): a sink whose consumer may read
  // health() as it takes the change applies it here rather than in
  // watchLine(), so that no consumer sees an event health() does not yet
  // describe. Default: nothing (watchLine() applied it). If it throws, the
  // line counts no more (resourceVersion is the one before it again) and the
  // watch is resumed from there after a back-off: the event comes again.
  virtual void applyWatchLine() {}
  // The collection's requests fail (`failing`, with the latest `lastError`,
  // which health() already says: called on each failure), or, after
  // failures, work again (a list completed, a watch lasted or brought an
  // event or bookmark: called once). What lets a reader tell a set kept
  // current from one no longer refreshed.
  virtual void healthChanged(bool /*failing*/, const std::string& /*lastError*/) {}
};

// One collection's list + watch, on a thread of its own (DESIGN §6): a
// paginated list (limit, continue), then a watch from its resourceVersion
// with bookmarks; a watch that ends is resumed from the last resourceVersion
// seen, an expired one (HTTP 410, or an ERROR event with code 410) is
// replaced by a fresh list. Failures (connection, 429 with its
// retryAfterSeconds, 5xx, a watch ending at once) back off exponentially with
// jitter; a watch that lasted resets the back-off. PolicyWatcher runs one for
// the policies, TargetWatcher one per namespace and kind.
class ListWatch {
 public:
  struct Health {
    bool synced = false;  // a list completed
    std::string resourceVersion;
    std::uint64_t lists = 0;
    std::uint64_t watches = 0;
    std::string lastError;  // empty once a request succeeds
  };

  // `collectionPath`: "/apis/apps/v1/namespaces/default/deployments";
  // `what` names it in logs ("deployments watch": "deployments watch backing off").
  ListWatch(KubeClient& client, std::string collectionPath, std::string what, ListWatchTiming timing,
            ListWatchSink& sink);
  ~ListWatch();
  ListWatch(const ListWatch&) = delete;
  ListWatch& operator=(const ListWatch&) = delete;

  void start();
  void stop();  // prompt (the stream is told through its stop_token); idempotent
  // Tells the thread to stop without waiting for it: stop() then joins. For
  // many watches stopping side by side.
  void requestStop();

  [[nodiscard]] bool synced() const noexcept { return synced_.load(); }
  [[nodiscard]] Health health() const;
  [[nodiscard]] const std::string& collectionPath() const noexcept { return path_; }

 private:
  enum class WatchEnd { kResume, kRelist, kBackoff, kStopped };
  struct ListFailure {
    std::string message;
    std::optional<std::chrono::milliseconds> retryAfter;
  };

  void run(const std::stop_token& stop);
  std::optional<ListFailure> list(const std::stop_token& stop);
  WatchEnd watch(const std::stop_token& stop, std::optional<std::chrono::milliseconds>& retryAfter);
  bool onLine(std::string_view line, WatchEnd& end, std::optional<std::chrono::milliseconds>& retryAfter,
              std::size_t& changes);
  bool backOff(const std::stop_token& stop, std::optional<std::chrono::milliseconds> retryAfter);
  void fail(std::string message);
  void recovered();  // tells the sink, once, that failures ended
  void log(WatchLogLevel level, std::string_view message, const WatchLogFields& fields = {}) const;

  KubeClient& client_;
  const std::string path_;
  const std::string what_;
  const ListWatchTiming timing_;
  ListWatchSink& sink_;

  std::atomic<bool> synced_{false};
  std::uint32_t failures_ = 0;    // consecutive; watcher thread only
  bool lastWatchLasted_ = false;  // watcher thread only
  bool reportedFailing_ = false;  // the sink was told of a failure; watcher thread only
  std::uint64_t randomState_;     // watcher thread only

  mutable std::mutex mutex_;  // guards the fields below
  std::string resourceVersion_;
  std::uint64_t lists_ = 0;
  std::uint64_t watches_ = 0;
  std::string lastError_;

  std::jthread thread_;
};

}  // namespace kubeai::kube
