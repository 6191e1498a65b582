#include "kube/status_writer.h"

#include <algorithm>

#include <nlohmann/json.hpp>

namespace kubeai::kube {
namespace {

std::string statusPath(const PolicyReference& ref) {
  std::string path = "/apis/kubeai.io/v1alpha1/namespaces/";
  path += ref.ns;
  path += "/aiinferenceautoscalerpolicies/";
  path += ref.name;
  path += "/status";
  return path;
}

std::string keyOf(const std::string& ns, const std::string& name) {
  std::string key = ns;
  key += "/";
  key += name;
  return key;
}

// The server's own words for an error answer, when it sent a Status object.
std::string serverMessage(const KubeResponse& response) {
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("message") && body["message"].is_string()) {
    return body["message"].get<std::string>();
  }
  return response.body.substr(0, 200);
}

bool retryable(long status) { return status == 409 || status == 429 || status >= 500; }

// The Event recorder asks the writer how long it may still write.
EventRecorderOptions withWriteWindow(EventRecorderOptions options, std::function<std::chrono::milliseconds()> window) {
  if (!options.writeWindow) {
    options.writeWindow = std::move(window);
  }
  return options;
}

}  // namespace

StatusWriter::StatusWriter(KubeClient& client, StatusWriterOptions options, std::function<bool()> mayWrite)
    : client_(client),
      options_(std::move(options)),
      mayWrite_(std::move(mayWrite)),
      events_(client,
              withWriteWindow(options_.events,
                              [this] { return writeWindow(options_.events.requestTimeout); }),
              options_.clock),
      availableAlgorithms_(options_.availableAlgorithms) {}

StatusWriter::~StatusWriter() { stop(); }

void StatusWriter::start() {
  if (!worker_.joinable()) {
    worker_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  }
}

void StatusWriter::stop() {
  if (worker_.joinable()) {
    worker_.request_stop();
    wake_.notify_all();
    worker_.join();
  }
}

std::chrono::milliseconds StatusWriter::writeWindow(std::chrono::milliseconds limit) const {
  if (!mayWrite()) {
    return std::chrono::milliseconds(0);
  }
  if (options_.leadershipRemaining) {
    limit = std::min(limit, options_.leadershipRemaining());
  }
  return std::max(limit, std::chrono::milliseconds(0));
}

core::TimePoint StatusWriter::now() const {
  return options_.clock ? options_.clock() : std::chrono::system_clock::now();
}

void StatusWriter::reportError(const std::string& key, const std::string& error) const {
  if (options_.onWriteError) {
    options_.onWriteError(key, error);
  }
}

StatusWriter::Record& StatusWriter::recordFor(const std::string& ns, const std::string& name, const std::string& uid) {
  Record& record = records_[keyOf(ns, name)];
  if (!uid.empty() && !record.ref.uid.empty() && record.ref.uid != uid) {
    // Deleted and created again under the same name: a new object whose
    // status holds nothing of ours, and whose Events start afresh.
    record.built.reset();
    record.written.reset();
    record.observed.reset();  // perhaps the old object's: one write too many at worst
    record.events = EventMemory{};
  }
  record.ref.ns = ns;
  record.ref.name = name;
  if (!uid.empty()) {
    record.ref.uid = uid;
  }
  return record;
}

void StatusWriter::setBuiltLocked(Record& record, PolicyStatus status) {
  if (!record.built && record.observed) {
    // The first status this process builds: a condition whose status is as
    // the API holds it keeps the API's time (set by a previous process or
    // leader), not this process's start.
    status.conditions = carryTransitions(std::move(status.conditions), record.observed->conditions);
  }
  record.built = std::move(status);
}

bool StatusWriter::dueLocked(const Record& record) const {
  if (!record.built) {
    return false;
  }
  if (!record.written) {
    return true;
  }
  switch (compareStatus(*record.written, *record.built)) {
    case StatusChange::kNone: return false;
    case StatusChange::kSignificant: return true;
    case StatusChange::kMetricsOnly:
      return std::chrono::steady_clock::now() - record.writtenAt >= options_.metricsRefreshInterval;
  }
  return true;
}

void StatusWriter::markIfDueLocked(const std::string& key, Record& record) {
  if (record.queued) {
    return;
  }
  if (dueLocked(record)) {
    record.queued = true;
    dirty_.push_back(key);
    wake_.notify_all();
  }
}

void StatusWriter::queueEventsLocked(const PolicyReference& ref, std::vector<PendingEvent> events) {
  // Only the leader records Events; the transitions are tracked by every
  // replica all the same, so that a new leader does not repeat old ones.
  if (events.empty() || !mayWrite()) {
    return;
  }
  for (PendingEvent& event : events) {
    if (queuedEvents_.size() >= options_.maxQueuedEvents) {
      ++stats_.eventFailures;
      continue;
    }
    queuedEvents_.push_back(QueuedEvent{ref, std::move(event)});
  }
  wake_.notify_all();
}

void StatusWriter::onDecision(const core::Policy& policy, const core::Decision& decision,
                              const core::Observation& observation, std::optional<core::TimePoint> lastScaleTime) {
  const core::TimePoint time = now();
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(policy.metadata.namespace_, policy.metadata.name, policy.metadata.uid);
  record.ref.resourceVersion = policy.metadata.resourceVersion;
  record.generation = policy.metadata.generation;
  setBuiltLocked(record, statusFromDecision(policy, decision, observation, lastScaleTime, availableAlgorithms_,
                                            record.built ? record.built->conditions : std::vector<Condition>{},
                                            time));
  queueEventsLocked(record.ref, eventsForDecision(record.events, decision, availableAlgorithms_));
  markIfDueLocked(policy.key(), record);
}

void StatusWriter::onError(const core::Policy& policy, const std::string& errorType, const std::string& message) {
  const core::TimePoint time = now();
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(policy.metadata.namespace_, policy.metadata.name, policy.metadata.uid);
  record.ref.resourceVersion = policy.metadata.resourceVersion;
  record.generation = policy.metadata.generation;
  std::optional<PolicyStatus> status =
      statusFromError(record.built, policy.metadata.generation, errorType, message, time);
  if (!status) {
    return;
  }
  setBuiltLocked(record, std::move(*status));
  markIfDueLocked(policy.key(), record);
}

void StatusWriter::onError(const std::string& ns, const std::string& name, const std::string& errorType,
                           const std::string& message) {
  const core::TimePoint time = now();
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(ns, name, {});
  std::optional<PolicyStatus> status = statusFromError(record.built, record.generation, errorType, message, time);
  if (!status) {
    return;
  }
  setBuiltLocked(record, std::move(*status));
  markIfDueLocked(keyOf(ns, name), record);
}

void StatusWriter::onInvalid(const std::string& ns, const std::string& name, std::int64_t generation,
                             const std::string& message) {
  const core::TimePoint time = now();
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(ns, name, {});
  record.generation = generation;
  setBuiltLocked(record, statusFromInvalid(record.built, generation, message, time));
  markIfDueLocked(keyOf(ns, name), record);
}

void StatusWriter::onRemoved(const std::string& ns, const std::string& name) {
  {
    const std::lock_guard lock(mutex_);
    // A key still in dirty_ finds no record and is skipped.
    records_.erase(keyOf(ns, name));
    std::erase_if(queuedEvents_,
                  [&](const QueuedEvent& queued) { return queued.ref.ns == ns && queued.ref.name == name; });
  }
  events_.forget(ns, name);
}

void StatusWriter::observeApiStatus(const std::string& ns, const std::string& name, const std::string& statusJson) {
  std::optional<PolicyStatus> seen = parseApiStatus(statusJson);
  if (!seen) {
    return;  // not a JSON object: what we knew stands
  }
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(ns, name, {});
  record.observed = seen;
  // Leading, this process is the only writer and its own writes come back
  // here late (after one sent since, even): taking them would rewrite what
  // the API already has. So only a policy not written yet takes it. Not
  // leading, the API's status is the leader's: taken whole, compared with at
  // once on gaining leadership.
  if (record.written && mayWrite()) {
    return;
  }
  record.written = std::move(seen);
  record.writtenAt = std::chrono::steady_clock::now();  // metrics alone: rewritten at the refresh interval
  if (record.built) {
    // The leader's times for what we agree on, ours only where our status
    // differs from the API's (not written yet, or not by us).
    record.built->conditions = carryTransitions(std::move(record.built->conditions), record.written->conditions);
  }
}

void StatusWriter::setAvailableAlgorithms(std::vector<std::string> names) {
  const std::lock_guard lock(mutex_);
  availableAlgorithms_ = std::move(names);
}

StatusWriter::Stats StatusWriter::stats() const {
  const std::lock_guard lock(mutex_);
  return stats_;
}

bool StatusWriter::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return wake_.wait_for(lock, timeout, [&] { return dirty_.empty() && queuedEvents_.empty() && !busy_; });
}

void StatusWriter::pace(const std::stop_token& stop) {
  if (!(options_.maxRequestsPerSecond > 0)) {  // 0 (or NaN): unpaced
    return;
  }
  // A token bucket kept as one time (GCRA): nextRequest_ is when the bucket
  // is next allowed to send; it may lag now by up to maxBurst - 1 gaps, which
  // is the burst saved up while idle. Bounded (one a day at the slowest, a
  // burst of 100,000 at most) so that the time arithmetic cannot overflow.
  const double seconds = std::min(1.0 / options_.maxRequestsPerSecond, 86'400.0);
  const auto gap = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(seconds));
  const auto start = std::chrono::steady_clock::now();
  nextRequest_ = std::max(nextRequest_, start - gap * (std::clamp(options_.maxBurst, 1, 100'000) - 1));
  if (nextRequest_ > start) {
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, nextRequest_, [] { return false; });
  }
  nextRequest_ += gap;
}

StatusWriter::WriteResult StatusWriter::write(const PolicyReference& ref, const std::string& body,
                                              const std::stop_token& stop) {
  const std::string path = statusPath(ref);
  const std::string key = keyOf(ref.ns, ref.name);
  std::chrono::milliseconds backoff = options_.retryBackoff;
  std::string lastError;
  for (int attempt = 1; attempt <= std::max(options_.maxAttempts, 1); ++attempt) {
    if (stop.stop_requested() || !mayWrite()) {
      return WriteResult::kRetryLater;  // losing the Lease stops writes at once
    }
    pace(stop);
    // Asked after pacing, just before sending: a write must be answered (or
    // given up) while leadership is still certain, not land after a takeover.
    const std::chrono::milliseconds timeout = writeWindow(options_.requestTimeout);
    if (stop.stop_requested() || timeout.count() <= 0) {
      return WriteResult::kRetryLater;
    }
    // No resourceVersion in the patch: a merge patch without one cannot
    // conflict, and status is ours alone to write.
    auto response = client_.request("PATCH", path, body, "application/merge-patch+json", timeout);
    if (response.ok()) {
      const long status = response.value().status;
      if (status / 100 == 2) {
        return WriteResult::kWritten;
      }
      if (status == 404) {
        return WriteResult::kGone;
      }
      lastError = "PATCH ";
      lastError += path;
      lastError += ": HTTP ";
      lastError += std::to_string(status);
      lastError += ": ";
      lastError += serverMessage(response.value());
      if (!retryable(status)) {
        reportError(key, lastError);
        return WriteResult::kRefused;
      }
    } else {
      lastError = response.error().message;
    }
    if (attempt < options_.maxAttempts) {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, stop, backoff, [] { return false; });
      if (stop.stop_requested()) {
        return WriteResult::kRetryLater;
      }
      backoff *= 2;
    }
  }
  std::string message = "status not written after ";
  message += std::to_string(std::max(options_.maxAttempts, 1));
  message += " attempts, trying again at the next evaluation: ";
  message += lastError;
  reportError(key, message);
  return WriteResult::kRetryLater;
}

void StatusWriter::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    const bool leader = mayWrite();
    std::unique_lock lock(mutex_);
    if (leader && !wasLeader_) {
      // The previous leader may have written anything, or not the latest:
      // compare with what the API held as last observed and write what
      // differs; with nothing observed, write the current state once.
      const auto steadyNow = std::chrono::steady_clock::now();
      for (auto& [key, record] : records_) {
        record.written = record.observed;
        record.writtenAt = steadyNow;
        markIfDueLocked(key, record);
      }
    }
    wasLeader_ = leader;
    if (!leader) {
      queuedEvents_.clear();
      wake_.notify_all();  // waitIdle()
      wake_.wait_for(lock, stop, options_.leaderPollInterval, [] { return false; });
      continue;
    }

    if (!queuedEvents_.empty()) {
      QueuedEvent queued = std::move(queuedEvents_.front());
      queuedEvents_.pop_front();
      busy_ = true;
      lock.unlock();
      pace(stop);
      const core::Status recorded = events_.record(queued.ref, queued.event);
      if (!recorded.ok()) {
        reportError(keyOf(queued.ref.ns, queued.ref.name), recorded.error().message);
      }
      lock.lock();
      busy_ = false;
      ++(recorded.ok() ? stats_.events : stats_.eventFailures);
      wake_.notify_all();
      continue;
    }

    if (dirty_.empty()) {
      wake_.wait_for(lock, stop, options_.leaderPollInterval,
                     [&] { return !dirty_.empty() || !queuedEvents_.empty(); });
      continue;
    }

    const std::string key = std::move(dirty_.front());
    dirty_.pop_front();
    const auto found = records_.find(key);
    if (found == records_.end()) {
      continue;  // removed meanwhile
    }
    found->second.queued = false;
    if (!dueLocked(found->second)) {
      // Nothing (left) to write: queued while a write was in flight (nothing
      // written yet, so anything was due) and that write settled it, or
      // queued twice across a removal, or the API's status observed since.
      continue;
    }
    const PolicyReference ref = found->second.ref;
    const PolicyStatus sent = *found->second.built;
    const std::string body = statusMergePatch(sent);
    busy_ = true;
    lock.unlock();

    const WriteResult result = write(ref, body, stop);

    lock.lock();
    busy_ = false;
    wake_.notify_all();
    if (result == WriteResult::kWritten) {
      ++stats_.writes;
    } else if (result != WriteResult::kGone) {
      ++stats_.writeFailures;
    }
    const auto after = records_.find(key);
    if (after == records_.end() || after->second.ref.uid != ref.uid) {
      continue;  // removed, or another object by now
    }
    if (result == WriteResult::kRetryLater) {
      continue;  // stays unwritten: the next evaluation queues it again
    }
    // kGone and kRefused are settled too: a deleted policy's removal
    // follows, and a refused status would be refused again until it changes.
    Record& record = after->second;
    record.written = sent;
    record.writtenAt = std::chrono::steady_clock::now();
    // Built again while this one was in flight: the newer one may be due.
    markIfDueLocked(key, record);
  }
}

}  // namespace kubeai::kube
