#include "kube/policy_watcher.h"

#include <algorithm>
#include <exception>
#include <optional>
#include <random>
#include <string>
#include <tuple>

#include "kube/api_status.h"
#include "policy/policy_parser.h"

namespace kubeai::kube {
namespace {

using detail::ApiStatus;
using detail::parseApiStatus;
using detail::percentEncode;
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

// A watch that ran this long, or brought a change, shows a healthy server:
// what follows it (a resume, a relist) needs no back-off (client-go's
// reflector uses the same second for its "very short watch").
constexpr std::chrono::seconds kShortWatch{1};

// True when `next` (a MODIFIED object) differs from `held` in its status and
// resourceVersion only: the same generation (the API server bumps it on
// every spec change; metadata such as labels is not used), decoded to the
// same outcome (valid, or refused for the same reason).
bool sameButStatus(const detail::WatchedPolicy& held, const detail::WatchedPolicy& next) {
  return held.generation > 0 && held.generation == next.generation &&
         (held.policy != nullptr) == (next.policy != nullptr) && held.invalidMessage == next.invalidMessage &&
         (!held.policy || held.policy->metadata.uid == next.policy->metadata.uid);
}

std::uint64_t splitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

bool sleepUnlessStopped(std::chrono::milliseconds delay, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::unique_lock lock(mutex);
  wake.wait_for(lock, stop, delay, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace

PolicyWatcher::PolicyWatcher(KubeClient& client, PolicyWatcherOptions options, OnChange onChange)
    : client_(client), options_(std::move(options)), onChange_(std::move(onChange)), randomState_(std::random_device{}()) {
  randomState_ = (randomState_ << 32U) ^ static_cast<std::uint64_t>(std::random_device{}());
}

PolicyWatcher::~PolicyWatcher() { stop(); }

void PolicyWatcher::start() {
  if (thread_.joinable()) {
    return;
  }
  publisher_ = std::jthread([this](const std::stop_token& stop) { publishLoop(stop); });
  thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
}

void PolicyWatcher::stop() {
  // The watcher first: it may still mark changes for the publisher.
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
  if (publisher_.joinable()) {
    publisher_.request_stop();
    publisher_.join();
  }
}

PolicyWatcher::Health PolicyWatcher::health() const {
  const std::lock_guard lock(mutex_);
  return Health{synced_.load(), resourceVersion_, lists_, watches_, lastError_};
}

std::string PolicyWatcher::collectionPath() const {
  std::string path = "/apis/";
  path += kPolicyGroupVersion;
  if (!options_.ns.empty()) {
    path += "/namespaces/";
    path += options_.ns;
  }
  path += "/";
  path += kPolicyPlural;
  return path;
}

void PolicyWatcher::log(WatchLogLevel level, std::string_view message, WatchLogFields fields) const {
  if (options_.log) {
    options_.log(level, message, fields);
  }
}

void PolicyWatcher::fail(std::string message) {
  log(WatchLogLevel::kWarn, "policy watch", {{"error", message}});
  const std::lock_guard lock(mutex_);
  lastError_ = std::move(message);
}

bool PolicyWatcher::backOff(const std::stop_token& stop, std::optional<std::chrono::milliseconds> retryAfter) {
  // Exponential, with "equal jitter": half the step is fixed, half random, so
  // that servers started together do not retry in step.
  const auto initial = std::max<std::int64_t>(options_.backoffInitial.count(), 1);
  const auto cap = std::max<std::int64_t>(options_.backoffMax.count(), initial);
  std::int64_t step = initial;
  for (std::uint32_t i = 0; i < failures_ && step < cap; ++i) {
    step *= 2;
  }
  step = std::min(step, cap);
  ++failures_;
  const std::int64_t half = step / 2;
  std::chrono::milliseconds delay(half + static_cast<std::int64_t>(splitMix(randomState_) %
                                                                   static_cast<std::uint64_t>(step - half + 1)));
  if (retryAfter) {
    // The server said when, within reason: a 429 asking for days would
    // freeze the policy set for as long.
    const auto ceiling = std::max<std::chrono::milliseconds>(options_.backoffMax, std::chrono::seconds(1));
    delay = std::max(delay, std::clamp<std::chrono::milliseconds>(*retryAfter, std::chrono::seconds(1), ceiling));
  }
  log(WatchLogLevel::kDebug, "policy watch backing off", {{"delay", std::to_string(delay.count()) + "ms"}});
  return options_.sleep ? options_.sleep(delay, stop) : sleepUnlessStopped(delay, stop);
}

void PolicyWatcher::run(const std::stop_token& stop) {
  bool needList = true;
  // Set when a relist follows a watch that did not last: the list's success
  // then says nothing of the watch to come, so it must not reset the back-off
  // (a server expiring every watch at once would otherwise be listed in a
  // hot loop).
  bool relistAfterShortWatch = false;
  while (!stop.stop_requested()) {
    if (needList) {
      std::optional<ListFailure> failure;
      try {
        failure = list(stop);
      } catch (const std::exception& error) {
        // The last line of defence: bad API data is handled where it is
        // read, but nothing may end the watcher's thread (or the process).
        failure = ListFailure{concat("list ", collectionPath(), ": ", error.what()), std::nullopt};
      }
      if (stop.stop_requested()) {
        return;
      }
      if (failure) {
        fail(failure->message);
        if (!backOff(stop, failure->retryAfter)) {
          return;
        }
        continue;
      }
      needList = false;
      if (!relistAfterShortWatch) {
        failures_ = 0;
      }
      relistAfterShortWatch = false;
    }
    std::optional<std::chrono::milliseconds> retryAfter;
    switch (watch(stop, retryAfter)) {
      case WatchEnd::kStopped:
        return;
      case WatchEnd::kResume:
        break;
      case WatchEnd::kRelist:
        needList = true;
        if (!lastWatchLasted_) {
          relistAfterShortWatch = true;
          if (!backOff(stop, retryAfter)) {
            return;
          }
        }
        break;
      case WatchEnd::kBackoff:
        if (!backOff(stop, retryAfter)) {
          return;
        }
        break;
    }
  }
}

std::optional<PolicyWatcher::ListFailure> PolicyWatcher::list(const std::stop_token& stop) {
  std::map<Key, Object> fresh;
  std::string resourceVersion;
  std::string continueToken;
  do {
    std::string path = collectionPath();
    path += "?limit=";
    path += std::to_string(options_.pageSize);
    if (!options_.labelSelector.empty()) {
      path += "&labelSelector=";
      path += percentEncode(options_.labelSelector);
    }
    if (!continueToken.empty()) {
      path += "&continue=";
      path += percentEncode(continueToken);
    }
    auto response = client_.request("GET", path, {}, {}, options_.requestTimeout);
    if (!response.ok()) {
      return ListFailure{response.error().message, std::nullopt};
    }
    if (response.value().status != 200) {
      const ApiStatus status = parseApiStatus(response.value().status, response.value().body);
      // An expired continue token is 410 too: the next attempt starts over.
      // The Status's retryAfterSeconds, else the Retry-After header (a 429 from a proxy, the emulator).
      auto retryAfter = status.retryAfter;
      if (!retryAfter && response.value().retryAfter) {
        retryAfter = std::chrono::milliseconds(*response.value().retryAfter);
      }
      return ListFailure{concat("GET ", path, ": ", status.describe()), retryAfter};
    }
    auto page = detail::decodeListPage(response.value().body);
    if (!page.ok()) {
      return ListFailure{concat("GET ", path, ": ", page.error().message), std::nullopt};
    }
    for (detail::DecodedPolicy& item : page.value().items) {
      if (item.key.second.empty()) {
        log(WatchLogLevel::kWarn, "policy without a name ignored", {{"path", path}, {"error", item.object.invalidMessage}});
        continue;
      }
      fresh.insert_or_assign(std::move(item.key), std::move(item.object));
    }
    resourceVersion = std::move(page.value().resourceVersion);
    continueToken = std::move(page.value().continueToken);
  } while (!continueToken.empty() && !stop.stop_requested());
  if (stop.stop_requested()) {
    return std::nullopt;
  }
  std::size_t count = fresh.size();
  {
    const std::lock_guard lock(mutex_);
    // A relist replaces everything: what was deleted while the watch was down is gone.
    objects_ = std::move(fresh);
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
    resourceVersion_ = resourceVersion;
    ++lists_;
    lastError_.clear();
  }
  publishNow();
  synced_ = true;
  log(WatchLogLevel::kInfo, "policies listed",
      {{"path", collectionPath()}, {"policies", std::to_string(count)}, {"resourceVersion", resourceVersion}});
  return std::nullopt;
}

PolicyWatcher::WatchEnd PolicyWatcher::watch(const std::stop_token& stop,
                                             std::optional<std::chrono::milliseconds>& retryAfter) {
  const auto span = static_cast<std::uint64_t>(
      std::max(options_.watchTimeoutMaxSeconds - options_.watchTimeoutMinSeconds, 0) + 1);
  const std::int32_t timeoutSeconds =
      options_.watchTimeoutMinSeconds + static_cast<std::int32_t>(splitMix(randomState_) % span);
  std::string resourceVersion;
  {
    const std::lock_guard lock(mutex_);
    resourceVersion = resourceVersion_;
    ++watches_;
  }
  std::string path = collectionPath();
  path += "?watch=1&allowWatchBookmarks=true&resourceVersion=";
  path += percentEncode(resourceVersion);
  path += "&timeoutSeconds=";
  path += std::to_string(timeoutSeconds);
  if (!options_.labelSelector.empty()) {
    path += "&labelSelector=";
    path += percentEncode(options_.labelSelector);
  }

  WatchEnd end = WatchEnd::kResume;
  std::size_t changes = 0;  // ADDED, MODIFIED, DELETED
  lastWatchLasted_ = false;
  const auto started = std::chrono::steady_clock::now();
  std::optional<core::Result<StreamEnd>> streamed;
  try {
    // The server ends the watch after timeoutSeconds; silence well beyond it
    // means a dead connection.
    streamed.emplace(client_.streamToEnd(
        path, [&](std::string_view line) { return onEvent(line, end, retryAfter, changes); }, stop,
        std::chrono::seconds(timeoutSeconds + 60)));
  } catch (const std::exception& error) {
    // The last line of defence: a line's bad data is handled in onEvent, but
    // an exception from anywhere below must end this watch, not the process.
    if (stop.stop_requested()) {
      return WatchEnd::kStopped;
    }
    fail(concat("watch ", path, ": ", error.what()));
    return WatchEnd::kBackoff;
  }
  const core::Result<StreamEnd>& result = *streamed;
  if (stop.stop_requested()) {
    return WatchEnd::kStopped;
  }
  lastWatchLasted_ = changes > 0 || std::chrono::steady_clock::now() - started >= kShortWatch;
  if (lastWatchLasted_) {
    failures_ = 0;  // the server was healthy for a while: start the back-off over
  }
  if (!result.ok()) {
    fail(result.error().message);
    return WatchEnd::kBackoff;
  }
  const long status = result.value().status;
  if (status != 200 && !retryAfter && result.value().retryAfter) {
    // A watch refused outright (a 429 before any event): the header is the
    // only word on how long to wait.
    retryAfter = std::chrono::milliseconds(*result.value().retryAfter);
  }
  if (status == 410) {
    log(WatchLogLevel::kInfo, "policy watch expired, listing again", {{"resourceVersion", resourceVersion}});
    return WatchEnd::kRelist;
  }
  if (status != 200) {
    if (end != WatchEnd::kBackoff) {
      fail(concat("GET ", path, ": HTTP ", std::to_string(status)));
    }
    return end == WatchEnd::kRelist ? WatchEnd::kRelist : WatchEnd::kBackoff;
  }
  if (end != WatchEnd::kResume) {
    return end;
  }
  // A watch that ends at once without a change (a proxy closing it) must not
  // become a busy loop.
  if (!lastWatchLasted_) {
    fail(concat("GET ", path, ": the watch ended at once"));
    return WatchEnd::kBackoff;
  }
  log(WatchLogLevel::kDebug, "policy watch ended, resuming", {{"events", std::to_string(changes)}});
  return WatchEnd::kResume;
}

bool PolicyWatcher::onEvent(std::string_view line, WatchEnd& end, std::optional<std::chrono::milliseconds>& retryAfter,
                            std::size_t& changes) {
  if (line.empty() || line == "\r") {
    return true;
  }
  // The line is decoded apart (watch_decoding.h), every field read only
  // after its type is checked: a throw here would end the process.
  WatchEvent event = detail::decodeWatchLine(line);
  switch (event.kind) {
    case WatchEvent::Kind::kRefused:
      log(WatchLogLevel::kWarn, "policy watch: a line is refused, resuming", {{"error", event.error}});
      end = WatchEnd::kBackoff;
      return false;
    case WatchEvent::Kind::kStatus:
      // A bare Status's retryAfter is taken even with a 410; an ERROR
      // event's only when it is not one (a relist needs no waiting).
      if (!event.errorEvent || event.status.code != 410) {
        retryAfter = event.status.retryAfter;
      }
      if (event.status.code == 410) {
        end = WatchEnd::kRelist;
        log(WatchLogLevel::kInfo, "policy watch expired, listing again",
            event.errorEvent ? WatchLogFields{{"message", event.status.message}} : WatchLogFields{});
      } else {
        end = WatchEnd::kBackoff;
        fail(concat("watch ", collectionPath(), ": ", event.status.describe()));
      }
      return false;
    case WatchEvent::Kind::kNoType:
      log(WatchLogLevel::kWarn, "policy watch: an event without a type ignored", {{"type", event.error}});
      return true;
    case WatchEvent::Kind::kNoObject:
      log(WatchLogLevel::kWarn, "policy watch: an event without an object", {{"type", event.type}});
      return true;
    case WatchEvent::Kind::kBookmark:
      if (!event.resourceVersion.empty()) {
        const std::lock_guard lock(mutex_);
        resourceVersion_ = event.resourceVersion;
      }
      return true;
    case WatchEvent::Kind::kUnknownType:
      log(WatchLogLevel::kWarn, "policy watch: unknown event type ignored", {{"type", event.type}});
      return true;
    case WatchEvent::Kind::kChange:
      break;
  }
  const std::string& type = event.type;
  const std::string& resourceVersion = event.resourceVersion;
  auto& [key, decoded] = *event.policy;
  if (key.second.empty()) {
    log(WatchLogLevel::kWarn, "policy without a name ignored", {{"type", type}, {"error", decoded.invalidMessage}});
    return true;
  }
  ++changes;
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
    if (!resourceVersion.empty()) {
      resourceVersion_ = resourceVersion;
    }
    lastError_.clear();
  }
  log(WatchLogLevel::kDebug, "policy event", {{"type", type}, {"policy", concat(key.first, "/", key.second)}});
  if (statusOnly) {
    // Under the publishing lock, so that it cannot overtake an older status
    // a snapshot being published still carries. "" (the status removed) is
    // handed on too: an empty status.
    const std::lock_guard publishing(publishMutex_);
    options_.onStatus(key.first, key.second, *statusOnly);
    return true;
  }
  markDirty();
  return true;
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
