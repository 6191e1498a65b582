#include "kube/policy_watcher.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>

#include "policy/policy_parser.h"

namespace kubeai::kube {
namespace {

using detail::WatchEvent;

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// decodePolicy (watch_decoding.cc) implies the parser's apiVersion for list
// items without one: the resource's, which this path lists.
static_assert(kPolicyGroupVersion == policy::kPolicyApiVersion);

// True when `next` (a MODIFIED object) differs from `held` in its status and
// resourceVersion only: the same generation (the API server bumps it on
// every spec change; metadata such as labels is not used), decoded to the
// same outcome (valid, or refused for the same reason).
bool sameButStatus(const detail::WatchedPolicy& held, const detail::WatchedPolicy& next) {
  return held.generation > 0 && held.generation == next.generation &&
         (held.policy != nullptr) == (next.policy != nullptr) && held.invalidMessage == next.invalidMessage &&
         (!held.policy || held.policy->metadata.uid == next.policy->metadata.uid);
}

bool sleepUnlessStopped(std::chrono::milliseconds delay, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  wake.wait_for(lock, stop, delay, [] { return false; });
  return !stop.stop_requested();
}

std::string collectionOf(const std::string& ns) {
  std::string path = "/apis/";
  path += kPolicyGroupVersion;
  if (!ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += "/";
  path += kPolicyPlural;
  return path;
}

// The ListWatch's pacing and selection: the watcher's options.
ListWatchTiming timingOf(const PolicyWatcherOptions& options) {
  ListWatchTiming timing;
  timing.backoffInitial = options.backoffInitial;
  timing.backoffMax = options.backoffMax;
  timing.requestTimeout = options.requestTimeout;
  timing.watchTimeoutMinSeconds = options.watchTimeoutMinSeconds;
  timing.watchTimeoutMaxSeconds = options.watchTimeoutMaxSeconds;
  timing.pageSize = options.pageSize;
  timing.log = options.log;
  timing.sleep = options.sleep;
  timing.labelSelector = options.labelSelector;
  return timing;
}

}  // namespace

PolicyWatcher::PolicyWatcher(KubeClient& client, PolicyWatcherOptions options, OnChange onChange)
    : options_(std::move(options)),
      onChange_(std::move(onChange)),
      listWatch_(client, collectionOf(options_.ns), "policy watch", timingOf(options_), *this) {}

PolicyWatcher::~PolicyWatcher() { stop(); }

void PolicyWatcher::start() {
  if (publisher_.joinable()) {
    return;
  }
  publisher_ = std::jthread([this](const std::stop_token& stop) { publishLoop(stop); });
  listWatch_.start();
}

void PolicyWatcher::stop() {
  // The watch first: it may still mark changes for the publisher.
  listWatch_.stop();
  if (publisher_.joinable()) {
    publisher_.request_stop();
    publisher_.join();
  }
}

PolicyWatcher::Health PolicyWatcher::health() const {
  ListWatch::Health health = listWatch_.health();
  return Health{health.synced, std::move(health.resourceVersion), health.lists, health.watches,
                std::move(health.lastError)};
}

std::string PolicyWatcher::collectionPath() const { return listWatch_.collectionPath(); }

void PolicyWatcher::log(WatchLogLevel level, std::string_view message, const WatchLogFields& fields) const {
  if (options_.log) {
    options_.log(level, message, fields);
  }
}

void PolicyWatcher::beginList() { fresh_.clear(); }

core::Result<ListPageEnd> PolicyWatcher::listPage(const std::string& path, std::string_view body) {
  auto page = detail::decodeListPage(body);
  if (!page.ok()) {
    return page.error();
  }
  for (detail::DecodedPolicy& item : page.value().items) {
    if (item.key.second.empty()) {
      log(WatchLogLevel::kWarn, "policy without a name ignored", {{"path", path}, {"error", item.object.invalidMessage}});
      continue;
    }
    fresh_.insert_or_assign(std::move(item.key), std::move(item.object));
  }
  return ListPageEnd{std::move(page.value().resourceVersion), std::move(page.value().continueToken)};
}

void PolicyWatcher::endList(const std::string& /*resourceVersion*/) {
  listedCount_ = fresh_.size();
  {
    const std::lock_guard lock(mutex_);
    // A relist replaces everything: what was deleted while the watch was down is gone.
    objects_ = std::move(fresh_);
    relisted_ = true;
    changed_.clear();
    withStatus_.clear();
    refused_.clear();
    for (const auto& [key, object] : objects_) {
      if (object.apiStatus) {
        withStatus_.insert(key);
      }
      if (!object.policy) {
        refused_.insert(key);
      }
    }
  }
  fresh_.clear();
  publishNow();
}

void PolicyWatcher::listed(std::size_t /*pages*/, const std::string& resourceVersion) {
  log(WatchLogLevel::kInfo, "policies listed",
      {{"path", collectionPath()}, {"policies", std::to_string(listedCount_)}, {"resourceVersion", resourceVersion}});
}

WatchLineOutcome PolicyWatcher::watchLine(std::string_view line) {
  // The line is decoded apart (watch_decoding.h), every field read only
  // after its type is checked: a throw here would end the process.
  WatchEvent event = detail::decodeWatchLine(line);
  WatchLineOutcome outcome;
  switch (event.kind) {
    case WatchEvent::Kind::kRefused:
      log(WatchLogLevel::kWarn, "policy watch: a line is refused, resuming", {{"error", event.error}});
      outcome.kind = WatchLineOutcome::Kind::kRefused;
      outcome.error = std::move(event.error);
      return outcome;
    case WatchEvent::Kind::kStatus:
      outcome.kind = WatchLineOutcome::Kind::kStatus;
      outcome.status = std::move(event.status);
      outcome.errorEvent = event.errorEvent;
      return outcome;
    case WatchEvent::Kind::kNoType:
      log(WatchLogLevel::kWarn, "policy watch: an event without a type ignored", {{"type", event.error}});
      return outcome;
    case WatchEvent::Kind::kNoObject:
      log(WatchLogLevel::kWarn, "policy watch: an event without an object", {{"type", event.type}});
      return outcome;
    case WatchEvent::Kind::kBookmark:
      outcome.kind = WatchLineOutcome::Kind::kBookmark;
      outcome.resourceVersion = std::move(event.resourceVersion);
      return outcome;
    case WatchEvent::Kind::kUnknownType:
      log(WatchLogLevel::kWarn, "policy watch: unknown event type ignored", {{"type", event.type}});
      return outcome;
    case WatchEvent::Kind::kChange:
      break;
  }
  auto& [key, decoded] = *event.policy;
  if (key.second.empty()) {
    log(WatchLogLevel::kWarn, "policy without a name ignored", {{"type", event.type}, {"error", decoded.invalidMessage}});
    return outcome;
  }
  // Applied once the ListWatch counts the line: a snapshot or onStatus must
  // not reach a consumer before health() says this resourceVersion.
  pending_ = PendingEvent{std::move(event.type), std::move(key), std::move(decoded)};
  outcome.kind = WatchLineOutcome::Kind::kApplied;
  outcome.resourceVersion = std::move(event.resourceVersion);
  return outcome;
}

void PolicyWatcher::applyWatchLine() {
  if (pending_) {
    PendingEvent event = std::move(*pending_);
    pending_.reset();
    apply(event.type, std::move(event.key), std::move(event.decoded));
  }
}

void PolicyWatcher::apply(const std::string& type, Key key, Object decoded) {
  std::optional<std::string> statusOnly;  // set when the event changed the status alone
  {
    const std::lock_guard lock(mutex_);
    if (type == "DELETED") {
      objects_.erase(key);
      changed_.insert(key);
      withStatus_.erase(key);
      refused_.erase(key);
    } else if (auto found = objects_.find(key);
               type == "MODIFIED" && found != objects_.end() && sameButStatus(found->second, decoded)) {
      statusOnly = decoded.apiStatus ? std::move(*decoded.apiStatus) : std::string();
      if (!options_.onStatus) {
        found->second.apiStatus = std::move(statusOnly);  // for the next snapshot
        statusOnly.reset();
        if (found->second.apiStatus) {
          withStatus_.insert(key);
        }
      } else {
        found->second.apiStatus.reset();  // handed on below, newer than any kept
      }
      if (found->second.policy && decoded.policy) {
        // The new resourceVersion, in the next snapshot: the same policy
        // otherwise, which the loop tells by value (no evaluation for it).
        found->second.policy = std::move(decoded.policy);
        changed_.insert(key);
      }
    } else {
      if (decoded.apiStatus) {
        withStatus_.insert(key);
      } else {
        withStatus_.erase(key);
      }
      if (decoded.policy) {
        refused_.erase(key);
      } else {
        refused_.insert(key);
      }
      objects_.insert_or_assign(key, std::move(decoded));
      changed_.insert(key);
    }
  }
  log(WatchLogLevel::kDebug, "policy event", {{"type", type}, {"policy", concat(key.first, "/", key.second)}});
  if (statusOnly) {
    // Under the publishing lock, so that it cannot overtake an older status
    // a snapshot being published still carries. "" (the status removed) is
    // handed on too: an empty status.
    const std::lock_guard publishing(publishMutex_);
    options_.onStatus(key.first, key.second, *statusOnly);
    return;
  }
  markDirty();
}

void PolicyWatcher::markDirty() {
  {
    const std::lock_guard lock(mutex_);
    dirty_ = true;
  }
  dirtyChanged_.notify_all();
}

void PolicyWatcher::publishLoop(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    {
      std::unique_lock lock(mutex_);
      if (!dirtyChanged_.wait(lock, stop, [this] { return dirty_; })) {
        return;
      }
    }
    // Let the rest of a burst arrive (a relist's worth of ADDED events, a
    // kubectl apply of many files), then publish once.
    if (!sleepUnlessStopped(options_.coalesce, stop)) {
      return;
    }
    publishNow();
  }
}

void PolicyWatcher::publishNow() {
  const std::lock_guard publishing(publishMutex_);
  PolicySnapshot snapshot;
  {
    const std::lock_guard lock(mutex_);
    dirty_ = false;
    for (const Key& key : withStatus_) {
      if (const auto found = objects_.find(key); found != objects_.end() && found->second.apiStatus) {
        // Handed on once, then not held: a later event brings the object anew.
        snapshot.apiStatuses.emplace(concat(key.first, "/", key.second), std::move(*found->second.apiStatus));
        found->second.apiStatus.reset();
      }
    }
    withStatus_.clear();
    auto policies = std::make_shared<core::PolicyList>();
    if (relisted_) {
      policies->reserve(objects_.size());
      for (const auto& [key, object] : objects_) {
        if (object.policy) {
          policies->push_back(object.policy);
        }
      }
    } else {
      // The last snapshot's list with the changed keys patched: pointers
      // copied (O(N), cheap), no policy copied, no object walked.
      *policies = *published_;
      for (const Key& key : changed_) {
        const auto at = std::lower_bound(policies->begin(), policies->end(), key,
                                         [](const core::SharedPolicy& policy, const Key& wanted) {
                                           return std::tie(policy->metadata.namespace_, policy->metadata.name) <
                                                  std::tie(wanted.first, wanted.second);
                                         });
        const bool held = at != policies->end() && (*at)->metadata.namespace_ == key.first &&
                          (*at)->metadata.name == key.second;
        const auto found = objects_.find(key);
        const core::SharedPolicy* now =
            found != objects_.end() && found->second.policy ? &found->second.policy : nullptr;
        if (now != nullptr && held) {
          *at = *now;
        } else if (now != nullptr) {
          policies->insert(at, *now);
        } else if (held) {
          policies->erase(at);
        }
      }
    }
    relisted_ = false;
    changed_.clear();
    for (const Key& key : refused_) {
      if (const auto found = objects_.find(key); found != objects_.end()) {
        snapshot.invalid.push_back({key.first, key.second, found->second.invalidMessage});
        snapshot.invalidGenerations[concat(key.first, "/", key.second)] = found->second.generation;
      }
    }
    published_ = policies;
    snapshot.policies = std::move(policies);
  }
  if (onChange_) {
    onChange_(std::move(snapshot));
  }
}

}  // namespace kubeai::kube
