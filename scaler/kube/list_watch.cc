#include "kube/list_watch.h"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <random>
#include <utility>

namespace kubeai::kube {
namespace {

using detail::ApiStatus;
using detail::parseApiStatus;
using detail::percentEncode;

// Joins with +=: GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
template <typename... Parts>
std::string concat(const Parts&... parts) {
  std::string out;
  ((out += parts), ...);
  return out;
}

// A watch that ran this long, or brought a change, shows a healthy server
// (client-go's reflector uses the same second for its "very short watch").
constexpr std::chrono::seconds kShortWatch{1};

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

ListWatch::ListWatch(KubeClient& client, std::string collectionPath, std::string what, ListWatchTiming timing,
                     ListWatchSink& sink)
    : client_(client),
      path_(std::move(collectionPath)),
      what_(std::move(what)),
      timing_(std::move(timing)),
      sink_(sink),
      randomState_(std::random_device{}()) {
  randomState_ = (randomState_ << 32U) ^ static_cast<std::uint64_t>(std::random_device{}());
}

ListWatch::~ListWatch() { stop(); }

void ListWatch::start() {
  if (!thread_.joinable()) {
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  }
}

void ListWatch::requestStop() { thread_.request_stop(); }

void ListWatch::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    thread_.join();
  }
}

ListWatch::Health ListWatch::health() const {
  const std::lock_guard lock(mutex_);
  return Health{synced_.load(), resourceVersion_, lists_, watches_, lastError_};
}

void ListWatch::log(WatchLogLevel level, std::string_view message, const WatchLogFields& fields) const {
  if (timing_.log) {
    timing_.log(level, message, fields);
  }
}

void ListWatch::fail(std::string message) {
  {
    // Before anyone is told: a reader reacting to the line or to the sink
    // reads this failure in health(), not the one before.
    const std::lock_guard lock(mutex_);
    lastError_ = message;
  }
  log(WatchLogLevel::kWarn, what_, {{"error", message}});
  reportedFailing_ = true;
  sink_.healthChanged(true, message);
}

void ListWatch::recovered() {
  if (reportedFailing_) {
    reportedFailing_ = false;
    {
      // Not only a list or an event serves again: on a quiet collection a
      // bookmark, or a watch that lasted, is all the server sends, and
      // health() must not go on naming the failure it got over.
      const std::lock_guard lock(mutex_);
      lastError_.clear();
    }
    sink_.healthChanged(false, {});
  }
}

bool ListWatch::backOff(const std::stop_token& stop, std::optional<std::chrono::milliseconds> retryAfter) {
  // Exponential with "equal jitter" (half fixed, half random), so that
  // servers started together do not retry in step.
  const auto initial = std::max<std::int64_t>(timing_.backoffInitial.count(), 1);
  const auto cap = std::max<std::int64_t>(timing_.backoffMax.count(), initial);
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
    // freeze the targets for as long.
    const auto ceiling = std::max<std::chrono::milliseconds>(timing_.backoffMax, std::chrono::seconds(1));
    delay = std::max(delay, std::clamp<std::chrono::milliseconds>(*retryAfter, std::chrono::seconds(1), ceiling));
  }
  log(WatchLogLevel::kDebug, concat(what_, " backing off"), {{"delay", std::to_string(delay.count()) + "ms"}});
  return timing_.sleep ? timing_.sleep(delay, stop) : sleepUnlessStopped(delay, stop);
}

void ListWatch::run(const std::stop_token& stop) {
  bool needList = true;
  // A relist after a watch that did not last must not reset the back-off: a
  // server expiring every watch at once would be listed in a hot loop.
  bool relistAfterShortWatch = false;
  while (!stop.stop_requested()) {
    if (needList) {
      std::optional<ListFailure> failure;
      try {
        failure = list(stop);
      } catch (const std::exception& error) {
        // Nothing may end the watch's thread (or the process): bad data is
        // handled where it is read, this is the last line of defence.
        failure = ListFailure{concat("list ", path_, ": ", error.what()), std::nullopt};
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

std::optional<ListWatch::ListFailure> ListWatch::list(const std::stop_token& stop) {
  sink_.beginList();
  std::string resourceVersion;
  std::string continueToken;
  std::size_t pages = 0;
  do {
    std::string path = path_;
    path += "?limit=";
    path += std::to_string(timing_.pageSize);
    if (!timing_.labelSelector.empty()) {
      path += "&labelSelector=";
      path += percentEncode(timing_.labelSelector);
    }
    if (!continueToken.empty()) {
      path += "&continue=";
      path += percentEncode(continueToken);
    }
    auto response = client_.request("GET", path, {}, {}, timing_.requestTimeout);
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
    auto page = sink_.listPage(path, response.value().body);
    if (!page.ok()) {
      return ListFailure{concat("GET ", path, ": ", page.error().message), std::nullopt};
    }
    ++pages;
    resourceVersion = std::move(page.value().resourceVersion);
    continueToken = std::move(page.value().continueToken);
  } while (!continueToken.empty() && !stop.stop_requested());
  if (stop.stop_requested()) {
    return std::nullopt;
  }
  {
    // Counted before the sink hands the set on (endList says why); synced
    // only after, so that readiness follows the set handed on.
    const std::lock_guard lock(mutex_);
    resourceVersion_ = resourceVersion;
    ++lists_;
    lastError_.clear();
  }
  sink_.endList(resourceVersion);
  synced_ = true;
  recovered();
  sink_.listed(pages, resourceVersion);
  return std::nullopt;
}

ListWatch::WatchEnd ListWatch::watch(const std::stop_token& stop,
                                     std::optional<std::chrono::milliseconds>& retryAfter) {
  const auto span = static_cast<std::uint64_t>(
      std::max(timing_.watchTimeoutMaxSeconds - timing_.watchTimeoutMinSeconds, 0) + 1);
  const std::int32_t timeoutSeconds =
      timing_.watchTimeoutMinSeconds + static_cast<std::int32_t>(splitMix(randomState_) % span);
  std::string resourceVersion;
  {
    const std::lock_guard lock(mutex_);
    resourceVersion = resourceVersion_;
    ++watches_;
  }
  std::string path = path_;
  path += "?watch=1&allowWatchBookmarks=true&resourceVersion=";
  path += percentEncode(resourceVersion);
  path += "&timeoutSeconds=";
  path += std::to_string(timeoutSeconds);
  if (!timing_.labelSelector.empty()) {
    path += "&labelSelector=";
    path += percentEncode(timing_.labelSelector);
  }

  WatchEnd end = WatchEnd::kResume;
  std::size_t changes = 0;
  lastWatchLasted_ = false;
  const auto started = std::chrono::steady_clock::now();
  std::optional<core::Result<StreamEnd>> streamed;
  try {
    // The server ends the watch after timeoutSeconds; silence well beyond it
    // means a dead connection.
    streamed.emplace(client_.streamToEnd(
        path, [&](std::string_view line) { return onLine(line, end, retryAfter, changes); }, stop,
        std::chrono::seconds(timeoutSeconds + 60)));
  } catch (const std::exception& error) {
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
    failures_ = 0;
    // Not a watch that served and then failed (an ERROR event, a line the
    // sink refused, the stream broken, an HTTP error): health() must go on
    // naming that failure while we back off.
    const bool endedInFailure = !result.ok() || end == WatchEnd::kBackoff ||
                                (result.value().status != 200 && result.value().status != 410);
    if (!endedInFailure) {
      recovered();
    }
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
    log(WatchLogLevel::kInfo, concat(what_, " expired, listing again"), {{"resourceVersion", resourceVersion}});
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
  log(WatchLogLevel::kDebug, concat(what_, " ended, resuming"), {{"events", std::to_string(changes)}});
  return WatchEnd::kResume;
}

bool ListWatch::onLine(std::string_view line, WatchEnd& end, std::optional<std::chrono::milliseconds>& retryAfter,
                       std::size_t& changes) {
  if (line.empty() || line == "\r") {
    return true;
  }
  WatchLineOutcome outcome = sink_.watchLine(line);
  switch (outcome.kind) {
    case WatchLineOutcome::Kind::kRefused:
      end = WatchEnd::kBackoff;  // the sink said why
      return false;
    case WatchLineOutcome::Kind::kStatus:
      // A bare Status's retryAfter is taken even with a 410; an ERROR
      // event's only when it is not one (a relist needs no waiting).
      if (!outcome.errorEvent || outcome.status.code != 410) {
        retryAfter = outcome.status.retryAfter;
      }
      if (outcome.status.code == 410) {
        end = WatchEnd::kRelist;
        log(WatchLogLevel::kInfo, concat(what_, " expired, listing again"),
            outcome.errorEvent ? WatchLogFields{{"message", outcome.status.message}} : WatchLogFields{});
      } else {
        end = WatchEnd::kBackoff;
        fail(concat("watch ", path_, ": ", outcome.status.describe()));
      }
      return false;
    case WatchLineOutcome::Kind::kIgnored:
      return true;
    case WatchLineOutcome::Kind::kApplied:
      ++changes;
      break;
    case WatchLineOutcome::Kind::kBookmark:
      break;
  }
  const bool applied = outcome.kind == WatchLineOutcome::Kind::kApplied;
  std::optional<std::string> previousVersion;  // set when the line moved resourceVersion_
  {
    // Counted before the change is handed on (applyWatchLine says why).
    const std::lock_guard lock(mutex_);
    if (!outcome.resourceVersion.empty()) {
      previousVersion = std::exchange(resourceVersion_, std::move(outcome.resourceVersion));
    }
    if (applied) {
      lastError_.clear();
    }
  }
  if (applied) {
    try {
      sink_.applyWatchLine();
    } catch (...) {
      // Not applied: the watch resumed after the back-off (watch() catches
      // this) must start before this event, so that the server sends it
      // again; health() says so meanwhile. watch()'s fail() sets lastError.
      if (previousVersion) {
        const std::lock_guard lock(mutex_);
        resourceVersion_ = std::move(*previousVersion);
      }
      throw;
    }
  }
  recovered();  // the server serves the watch
  return true;
}

}  // namespace kubeai::kube
