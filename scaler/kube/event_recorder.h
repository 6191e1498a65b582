#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <tuple>

#include "core/history.h"
#include "core/result.h"
#include "kube/client/kube_client.h"
#include "kube/policy_status.h"

namespace kubeai::kube {

// The policy an Event is about (its involvedObject).
struct PolicyReference {
  std::string ns;
  std::string name;
  std::string uid;              // may be empty (a policy known only by name)
  std::string resourceVersion;  // may be empty
};

struct EventRecorderOptions {
  std::string component = "kubeai-scaler";  // source.component and reportingComponent
  std::string instance;  // reportingInstance and source.host; empty: the host name (the pod)
  // A repeat of the same (object, type, reason, message) within this window
  // raises the count of the Event already there instead of making another,
  // as client-go's EventCorrelator does.
  std::chrono::seconds aggregationWindow{600};
  std::chrono::milliseconds requestTimeout{10'000};
  // How long this process may still write (a leader's certain tenure), asked
  // before every request, the second of a PATCH -> 404 -> POST too: each is
  // sent with at most that timeout, so that none lands after another replica
  // took over, and none at all once it is zero. Empty = no limit. The status
  // writer fills it from its mayWrite and leadershipRemaining.
  std::function<std::chrono::milliseconds()> writeWindow;
};

// Records core/v1 Events on policies. Synchronous: called from the status
// writer's worker thread, never from the evaluation. Thread-safe.
class EventRecorder {
 public:
  using Clock = std::function<core::TimePoint()>;

  EventRecorder(KubeClient& client, EventRecorderOptions options, Clock clock = {});

  // POSTs a new Event, or PATCHes (merge patch) the count and lastTimestamp
  // of the same one recorded within the aggregation window. Errors name the
  // request, the HTTP status and the server's message.
  core::Status record(const PolicyReference& object, const PendingEvent& event);

  // Forgets the aggregation state of a policy that is gone.
  void forget(const std::string& ns, const std::string& name);

 private:
  struct Recorded {
    std::string eventName;
    std::string firstTimestamp;
    std::int32_t count = 0;
    core::TimePoint last{};
  };
  // ns, name, uid, type, reason, message
  using Key = std::tuple<std::string, std::string, std::string, int, std::string, std::string>;

  core::Status create(const PolicyReference& object, const PendingEvent& event, const Key& key, core::TimePoint now);
  // The request's timeout within writeWindow; an error naming the request
  // when the window is closed.
  core::Result<std::chrono::milliseconds> timeoutFor(std::string_view method, const std::string& path,
                                                     const PolicyReference& object, const PendingEvent& event) const;
  void expire(core::TimePoint now);

  KubeClient& client_;
  const EventRecorderOptions options_;
  const Clock clock_;
  std::mutex mutex_;  // guards recorded_; never held across a request
  std::map<Key, Recorded> recorded_;
  std::uint64_t sequence_ = 0;  // makes Event names unique within one instant
};

}  // namespace kubeai::kube
