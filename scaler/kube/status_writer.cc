// The status writer: what the evaluation and watcher threads call (build the
// status, queue it). The worker that sends it is in status_writer_worker.cc.
#include "kube/status_writer.h"

#include <algorithm>

#include "kube/status_seed.h"

namespace kubeai::kube {
namespace {

// The Event recorder asks the writer how long it may still write.
EventRecorderOptions withWriteWindow(EventRecorderOptions options, std::function<std::chrono::milliseconds()> window) {
  if (!options.writeWindow) {
    options.writeWindow = std::move(window);
  }
  return options;
}

}  // namespace

std::string StatusWriter::keyOf(const std::string& ns, const std::string& name) {
  std::string key = ns;
  key += "/";
  key += name;
  return key;
}

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
    record.superseded.reset();
    record.events = EventMemory{};
  }
  record.ref.ns = ns;
  record.ref.name = name;
  if (!uid.empty()) {
    record.ref.uid = uid;
  }
  return record;
}

void StatusWriter::setBuiltLocked(Record& record, PolicyStatus status) const {
  if (!options_.shard.empty()) {
    status.shard = options_.shard;
  }
  if (!record.built && record.observed) {
    // The first status this process builds: a condition whose status is as
    // the API holds it keeps the API's time (set by a previous process or
    // leader), not this process's start.
    status.conditions = carryTransitions(std::move(status.conditions), record.observed->conditions);
  }
  record.built = std::move(status);
}

PolicyStatus StatusWriter::supersededLocked(const Record& record, PolicyStatus status, core::TimePoint now) {
  if (!record.superseded) {
    return status;
  }
  return withSuperseded(std::move(status), *record.superseded,
                        record.built ? record.built->conditions : std::vector<Condition>{}, now);
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
  PolicyStatus status = statusFromDecision(policy, decision, observation, lastScaleTime, availableAlgorithms_,
                                           record.built ? record.built->conditions : std::vector<Condition>{}, time);
  setBuiltLocked(record, supersededLocked(record, std::move(status), time));
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
  setBuiltLocked(record, supersededLocked(record, std::move(*status), time));
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
  setBuiltLocked(record, supersededLocked(record, std::move(*status), time));
  markIfDueLocked(keyOf(ns, name), record);
}

void StatusWriter::onInvalid(const std::string& ns, const std::string& name, std::int64_t generation,
                             const std::string& message) {
  const core::TimePoint time = now();
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(ns, name, {});
  record.generation = generation;
  record.superseded.reset();  // nothing serves
  setBuiltLocked(record, statusFromInvalid(record.built, generation, message, time));
  markIfDueLocked(keyOf(ns, name), record);
}

void StatusWriter::onSuperseded(const core::Policy& served, std::int64_t latestGeneration,
                                const std::string& problem) {
  const core::TimePoint time = now();
  const std::lock_guard lock(mutex_);
  Record& record = recordFor(served.metadata.namespace_, served.metadata.name, served.metadata.uid);
  if (problem.empty()) {
    if (!record.superseded) {
      return;
    }
    record.superseded.reset();
    if (record.built) {
      // At once, not at the next decision: a failing read may hold that back.
      setBuiltLocked(record, withoutSuperseded(*record.built, served.metadata.generation));
    }
  } else {
    const Superseded next{latestGeneration, served.metadata.generation, problem};
    if (record.superseded == next) {
      return;
    }
    record.superseded = next;
    if (record.built) {
      setBuiltLocked(record, supersededLocked(record, *record.built, time));
    }
  }
  markIfDueLocked(served.key(), record);
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
  std::optional<std::string> otherShard;  // onShardOverlap's, called once the lock is released
  {
    const std::lock_guard lock(mutex_);
    otherShard = observeLocked(ns, name, std::move(*seen));
  }
  if (otherShard && options_.onShardOverlap) {
    options_.onShardOverlap(keyOf(ns, name), options_.shard, *otherShard);
  }
}

std::optional<std::string> StatusWriter::observeLocked(const std::string& ns, const std::string& name,
                                                       PolicyStatus seenStatus) {
  std::optional<PolicyStatus> seen = std::move(seenStatus);
  Record& record = recordFor(ns, name, {});
  record.observed = seen;
  std::optional<std::string> otherShard;
  // Another shard's name on a policy this leader has built a status for:
  // both shards select it (a policy moved in has none built yet when its old
  // shard's status is first observed). Said now and then, not per write.
  if (!options_.shard.empty() && seen->shard && !seen->shard->empty() && *seen->shard != options_.shard &&
      record.built && mayWrite()) {
    const core::TimePoint at = now();
    if (!record.overlapWarnedAt || at - *record.overlapWarnedAt >= options_.shardOverlapWarnInterval) {
      record.overlapWarnedAt = at;
      otherShard = *seen->shard;
    }
  }
  // Leading, this process is the only writer and its own writes come back
  // here late (after one sent since, even): taking them would rewrite what
  // the API already has. So only a policy not written yet takes it. Not
  // leading, the API's status is the leader's: taken whole, compared with at
  // once on gaining leadership.
  if (record.written && mayWrite()) {
    return otherShard;
  }
  record.written = std::move(seen);
  record.writtenAt = std::chrono::steady_clock::now();  // metrics alone: rewritten at the refresh interval
  if (record.built) {
    // The leader's times for what we agree on, ours only where our status
    // differs from the API's (not written yet, or not by us).
    record.built->conditions = carryTransitions(std::move(record.built->conditions), record.written->conditions);
  }
  return otherShard;
}

std::optional<core::PublishedSeed> StatusWriter::seedFor(const core::Policy& policy) const {
  const std::lock_guard lock(mutex_);
  const auto found = records_.find(policy.key());
  if (found == records_.end()) {
    return std::nullopt;
  }
  const Record& record = found->second;
  if (!policy.metadata.uid.empty() && !record.ref.uid.empty() && record.ref.uid != policy.metadata.uid) {
    return std::nullopt;  // another object of that name was observed
  }
  return seedFromApiStatus(record.observed, policy.metadata.generation, policy.spec.metrics);
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

}  // namespace kubeai::kube
