#include "kube/event_recorder.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include <nlohmann/json.hpp>

#include "kube/api_status.h"

namespace kubeai::kube {
namespace {

using nlohmann::json;

std::string eventsPath(const std::string& ns) {
  std::string path = "/api/v1/namespaces/";
  path += ns;
  path += "/events";
  return path;
}

core::Error httpError(std::string_view method, const std::string& path, const KubeResponse& response) {
  return core::Error{detail::describeFailure(method, path, response.status, response.body)};
}

// "event UnknownAlgorithm on policy NS/NAME", built with += (GCC 12 warns
// falsely, -Wrestrict, on "literal" + std::string chains).
std::string eventContext(const PolicyReference& object, const PendingEvent& event) {
  std::string context = "event ";
  context += event.reason;
  context += " on policy ";
  context += object.ns;
  context += "/";
  context += object.name;
  return context;
}

EventRecorderOptions withInstance(EventRecorderOptions options) {
  if (options.instance.empty()) {
    // The pod's name is its host name: which replica reported, for `kubectl describe`.
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) == 0) {
      options.instance = host.data();
    }
  }
  return options;
}

}  // namespace

EventRecorder::EventRecorder(KubeClient& client, EventRecorderOptions options, Clock clock)
    : client_(client),
      options_(withInstance(std::move(options))),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::system_clock::now(); })) {}

void EventRecorder::expire(core::TimePoint now) {
  for (auto it = recorded_.begin(); it != recorded_.end();) {
    if (now - it->second.last >= options_.aggregationWindow) {
      it = recorded_.erase(it);
    } else {
      ++it;
    }
  }
}

void EventRecorder::forget(const std::string& ns, const std::string& name) {
  const std::lock_guard lock(mutex_);
  for (auto it = recorded_.begin(); it != recorded_.end();) {
    if (std::get<0>(it->first) == ns && std::get<1>(it->first) == name) {
      it = recorded_.erase(it);
    } else {
      ++it;
    }
  }
}

core::Result<std::chrono::milliseconds> EventRecorder::timeoutFor(std::string_view method, const std::string& path,
                                                                  const PolicyReference& object,
                                                                  const PendingEvent& event) const {
  if (!options_.writeWindow) {
    return options_.requestTimeout;
  }
  const std::chrono::milliseconds window = options_.writeWindow();
  if (window.count() <= 0) {
    std::string message = eventContext(object, event);
    message += ": ";
    message += method;
    message += " ";
    message += path;
    message += ": not sent: leadership lost";
    return core::Error{std::move(message)};
  }
  return std::min(options_.requestTimeout, window);
}

core::Status EventRecorder::record(const PolicyReference& object, const PendingEvent& event) {
  const core::TimePoint now = clock_();
  const Key key{object.ns, object.name, object.uid, static_cast<int>(event.type), event.reason, event.message};
  std::optional<Recorded> previous;
  {
    const std::lock_guard lock(mutex_);
    expire(now);
    if (const auto it = recorded_.find(key); it != recorded_.end()) {
      previous = it->second;
    }
  }
  if (!previous) {
    return create(object, event, key, now);
  }

  std::string path = eventsPath(object.ns);
  path += "/";
  path += previous->eventName;
  const std::int32_t count = previous->count + 1;
  const std::string lastTimestamp = formatTime(now);
  const json patch{{"count", count}, {"lastTimestamp", lastTimestamp}};
  const auto timeout = timeoutFor("PATCH", path, object, event);
  if (!timeout.ok()) {
    return timeout.error();
  }
  auto response = client_.request("PATCH", path, patch.dump(-1, ' ', false, json::error_handler_t::replace),
                                  "application/merge-patch+json", timeout.value());
  if (!response.ok()) {
    return response.error().withContext(eventContext(object, event));
  }
  if (response.value().status == 404) {
    // The Event expired (the API server keeps them an hour by default): a new one.
    {
      const std::lock_guard lock(mutex_);
      recorded_.erase(key);
    }
    return create(object, event, key, now);
  }
  if (response.value().status / 100 != 2) {
    return httpError("PATCH", path, response.value())
        .withContext(eventContext(object, event));
  }
  const std::lock_guard lock(mutex_);
  Recorded& recorded = recorded_[key];
  recorded = *previous;
  recorded.count = count;
  recorded.last = now;
  return core::Ok{};
}

core::Status EventRecorder::create(const PolicyReference& object, const PendingEvent& event, const Key& key,
                                   core::TimePoint now) {
  const std::string path = eventsPath(object.ns);
  const std::string timestamp = formatTime(now);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::uint64_t sequence = 0;
    {
      const std::lock_guard lock(mutex_);
      sequence = ++sequence_;
    }
    // client-go names Events "<object>.<unix nanoseconds in hex>"; the
    // sequence keeps two Events of one instant apart.
    char suffix[40];
    std::snprintf(suffix, sizeof suffix, ".%llx",
                  static_cast<unsigned long long>(
                      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count()) +
                      sequence);
    std::string eventName = object.name;
    eventName += suffix;

    json involved{{"apiVersion", "kubeai.io/v1alpha1"},
                  {"kind", "AIInferenceAutoscalerPolicy"},
                  {"name", object.name},
                  {"namespace", object.ns}};
    if (!object.uid.empty()) {
      involved["uid"] = object.uid;
    }
    if (!object.resourceVersion.empty()) {
      involved["resourceVersion"] = object.resourceVersion;
    }
    json source{{"component", options_.component}};
    if (!options_.instance.empty()) {
      source["host"] = options_.instance;
    }
    const json body{{"apiVersion", "v1"},
                    {"kind", "Event"},
                    {"metadata", {{"name", eventName}, {"namespace", object.ns}}},
                    {"involvedObject", std::move(involved)},
                    {"reason", event.reason},
                    {"message", truncateUtf8(event.message, kMaxEventMessageBytes)},
                    {"type", event.type == EventType::kWarning ? "Warning" : "Normal"},
                    {"source", std::move(source)},
                    {"firstTimestamp", timestamp},
                    {"lastTimestamp", timestamp},
                    {"count", 1},
                    {"reportingComponent", options_.component},
                    {"reportingInstance", options_.instance}};
    // Asked again before each POST: the PATCH before it (or the POST whose
    // name was taken) may have used up the leader's time.
    const auto timeout = timeoutFor("POST", path, object, event);
    if (!timeout.ok()) {
      return timeout.error();
    }
    auto response = client_.request("POST", path, body.dump(-1, ' ', false, json::error_handler_t::replace),
                                    "application/json", timeout.value());
    if (!response.ok()) {
      return response.error().withContext(eventContext(object, event));
    }
    if (response.value().status == 409) {
      continue;  // the name was taken: another one
    }
    if (response.value().status / 100 != 2) {
      return httpError("POST", path, response.value())
          .withContext(eventContext(object, event));
    }
    const std::lock_guard lock(mutex_);
    recorded_[key] = Recorded{std::move(eventName), timestamp, 1, now};
    return core::Ok{};
  }
  std::string message = eventContext(object, event);
  message += ": POST ";
  message += path;
  message += ": HTTP 409 twice: the Event name was taken";
  return core::Error{std::move(message)};
}

}  // namespace kubeai::kube
