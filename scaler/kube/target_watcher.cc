#include "kube/target_watcher.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <string_view>
#include <utility>

#include "kube/target_decoding.h"

namespace kubeai::kube {
namespace {

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

std::string collectionOf(const std::string& scope, TargetKind kind) {
  std::string path = "/apis/apps/v1";
  if (!scope.empty()) {
    path += "/namespaces/";
    path += scope;
  }
  path += "/";
  path += pluralName(kind);
  return path;
}

// The watch's name in its log lines ("deployments watch backing off").
std::string watchName(TargetKind kind) { return concat(pluralName(kind), " watch"); }

// `log` with the collection added to every line's fields: which of the
// watches a line is from.
WatchLog withCollection(const WatchLog& log, std::string collection) {
  if (!log) {
    return {};
  }
  return [log, collection = std::move(collection)](WatchLogLevel level, std::string_view message,
                                                   const WatchLogFields& fields) {
    WatchLogFields named = fields;
    named.emplace_back("collection", collection);
    log(level, message, named);
  };
}

}  // namespace

// One scope's and kind's objects: a list's pages into a fresh set that
// replaces the cache's at its end, then the watch's events into the cache.
class TargetWatcher::Sink final : public ListWatchSink {
 public:
  // `log` names the collection (withCollection).
  Sink(TargetCache& cache, std::string scope, TargetKind kind, WatchLog log, std::function<void()> onListed)
      : cache_(cache), scope_(std::move(scope)), kind_(kind), log_(std::move(log)), onListed_(std::move(onListed)) {}

  void beginList() override { fresh_.clear(); }

  core::Result<ListPageEnd> listPage(const std::string& /*path*/, std::string_view body) override {
    auto page = detail::decodeTargetListPage(body, kindName(kind_));
    if (!page.ok()) {
      return page.error();
    }
    for (detail::DecodedTarget& item : page.value().items) {
      if (!keep(item, "list")) {
        continue;
      }
      fresh_[std::move(item.ns)].insert_or_assign(std::move(item.name), std::move(item.state));
    }
    return ListPageEnd{std::move(page.value().resourceVersion), std::move(page.value().continueToken)};
  }

  void endList(const std::string& /*resourceVersion*/) override {
    cache_.replace(kind_, scope_, std::move(fresh_));
    fresh_.clear();
    onListed_();
  }

  void listed(std::size_t pages, const std::string& resourceVersion) override {
    say(WatchLogLevel::kInfo, concat(watchName(kind_), ": listed"),
        {{"pages", std::to_string(pages)}, {"resourceVersion", resourceVersion}});
  }

  WatchLineOutcome watchLine(std::string_view line) override {
    detail::TargetWatchEvent event = detail::decodeTargetWatchLine(line, kindName(kind_));
    WatchLineOutcome outcome;
    using Kind = detail::TargetWatchEvent::Kind;
    switch (event.kind) {
      case Kind::kRefused:
        say(WatchLogLevel::kWarn, concat(watchName(kind_), ": a line is refused, watching again"),
            {{"error", event.error}});
        outcome.kind = WatchLineOutcome::Kind::kRefused;
        outcome.error = std::move(event.error);
        return outcome;
      case Kind::kStatus:
        outcome.kind = WatchLineOutcome::Kind::kStatus;
        outcome.status = std::move(event.status);
        outcome.errorEvent = event.errorEvent;
        return outcome;
      case Kind::kNoType:
        say(WatchLogLevel::kWarn, "target watch: an event without a type ignored", {{"type", event.error}});
        return outcome;
      case Kind::kNoObject:
        say(WatchLogLevel::kWarn, "target watch: an event without an object", {{"type", event.type}});
        return outcome;
      case Kind::kUnknownType:
        say(WatchLogLevel::kWarn, "target watch: unknown event type ignored", {{"type", event.type}});
        return outcome;
      case Kind::kBookmark:
        outcome.kind = WatchLineOutcome::Kind::kBookmark;
        outcome.resourceVersion = std::move(event.resourceVersion);
        return outcome;
      case Kind::kChange:
        break;
    }
    outcome.resourceVersion = std::move(event.resourceVersion);
    if (!keep(event.target, event.type)) {
      outcome.kind = WatchLineOutcome::Kind::kBookmark;  // nothing applied, but the version moved on
      return outcome;
    }
    // Into the cache in applyWatchLine(), once health() says this
    // resourceVersion: no reader of the cache is ahead of health().
    pending_ = std::move(event);
    outcome.kind = WatchLineOutcome::Kind::kApplied;
    return outcome;
  }

  void applyWatchLine() override {
    if (!pending_) {
      return;
    }
    detail::TargetWatchEvent event = std::move(*pending_);
    pending_.reset();
    if (event.type == "DELETED") {
      cache_.erase(kind_, event.target.ns, event.target.name);
    } else {
      cache_.put(kind_, std::move(event.target.ns), std::move(event.target.name), std::move(event.target.state));
    }
  }

  void healthChanged(bool failing, const std::string& lastError) override {
    cache_.setFailing(kind_, scope_, failing, lastError);
  }

 private:
  // False for an object that cannot be held: no name, or no namespace in a
  // cluster-wide watch. A namespace's own list may leave the namespace out.
  bool keep(detail::DecodedTarget& target, std::string_view how) {
    if (target.ns.empty()) {
      target.ns = scope_;
    }
    if (target.name.empty() || target.ns.empty()) {
      say(WatchLogLevel::kWarn, "target watch: an object without a name or namespace ignored",
          {{"kind", std::string(kindName(kind_))}, {"event", std::string(how)}});
      return false;
    }
    // A namespace's watch holds that namespace only.
    return scope_.empty() || target.ns == scope_;
  }

  void say(WatchLogLevel level, std::string_view message, const WatchLogFields& fields) const {
    if (log_) {
      log_(level, message, fields);
    }
  }

  TargetCache& cache_;
  const std::string scope_;
  const TargetKind kind_;
  const WatchLog log_;
  const std::function<void()> onListed_;
  TargetCache::Namespaces fresh_;  // the list being read
  std::optional<detail::TargetWatchEvent> pending_;  // watchLine()'s change, until applyWatchLine()
};

TargetWatcher::TargetWatcher(KubeClient& client, TargetWatcherOptions options)
    : cache_(std::move(options.namespaces), std::move(options.clock)) {
  for (const std::string& scope : cache_.scopes()) {
    for (TargetKind kind : kTargetKinds) {
      ListWatchTiming timing = options.timing;
      timing.log = withCollection(options.timing.log, collectionOf(scope, kind));
      sinks_.push_back(std::make_unique<Sink>(cache_, scope, kind, timing.log, [this] { listed(); }));
      watches_.push_back(
          std::make_unique<ListWatch>(client, collectionOf(scope, kind), watchName(kind), timing, *sinks_.back()));
    }
  }
}

TargetWatcher::~TargetWatcher() { stop(); }

void TargetWatcher::start() {
  for (auto& watch : watches_) {
    watch->start();
  }
}

void TargetWatcher::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  syncedChanged_.notify_all();
  // Each told first, then joined: they stop side by side, not one after another.
  for (auto& watch : watches_) {
    watch->requestStop();
  }
  for (auto& watch : watches_) {
    watch->stop();
  }
}

void TargetWatcher::listed() {
  {
    const std::lock_guard lock(mutex_);  // a waiter between its check and its wait is not missed
  }
  syncedChanged_.notify_all();
}

bool TargetWatcher::waitSynced() {
  std::unique_lock lock(mutex_);
  syncedChanged_.wait(lock, [this] { return stopped_ || cache_.synced(); });
  return cache_.synced() && !stopped_;
}

std::vector<ListWatch::Health> TargetWatcher::health() const {
  std::vector<ListWatch::Health> out;
  out.reserve(watches_.size());
  for (const auto& watch : watches_) {
    out.push_back(watch->health());
  }
  return out;
}

std::vector<std::string> TargetWatcher::collectionPaths() const {
  std::vector<std::string> out;
  out.reserve(watches_.size());
  for (const auto& watch : watches_) {
    out.push_back(watch->collectionPath());
  }
  return out;
}

}  // namespace kubeai::kube
