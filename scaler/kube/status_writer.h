#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"
#include "kube/client/kube_client.h"
#include "kube/event_recorder.h"
#include "kube/policy_status.h"
#include "kube/superseded_status.h"

namespace kubeai::kube {

struct StatusWriterOptions {
  std::vector<std::string> availableAlgorithms;  // for AlgorithmValid=False messages
  // A change of currentMetrics alone (replicas, reason and conditions equal)
  // is written at most this often: metrics move every evaluation, and a write
  // per policy per interval would load the API server for nothing a person
  // reading status needs.
  std::chrono::seconds metricsRefreshInterval{60};
  // A write answered 409, 429, 5xx or not at all is tried this many times in
  // all, backing off from retryBackoff (doubled each time); then the policy
  // stays dirty and the next evaluation tries again.
  int maxAttempts = 3;
  std::chrono::milliseconds retryBackoff{200};
  std::chrono::milliseconds requestTimeout{10'000};
  // How much longer this process is certainly the leader
  // (LeaderElector::remaining()), asked before every status write and Event:
  // the request's timeout is at most that, so that it cannot land after the
  // Lease passed to another replica (mayWrite() alone is true when the
  // request starts, not when it arrives); 0 = send nothing. Empty = no limit.
  std::function<std::chrono::milliseconds()> leadershipRemaining;
  // Client-side limit on status writes and Events together, as client-go's
  // QPS and burst: on average at most maxRequestsPerSecond, with up to
  // maxBurst sent at once after a quiet spell; 0 = none. A new leader
  // rewrites every policy's status once at this rate (serve --status-qps).
  double maxRequestsPerSecond = 20;
  int maxBurst = 40;
  // How often the worker looks at mayWrite() when idle, to notice gained leadership.
  std::chrono::milliseconds leaderPollInterval{250};
  // At most this many Events waiting; more are dropped (counted) rather than
  // growing without bound while the API server is slow.
  std::size_t maxQueuedEvents = 1000;
  EventRecorderOptions events;
  // Problems the worker met (a write or an Event that failed for good): for
  // the log. Called on the worker thread. May be empty.
  std::function<void(const std::string& policyKey, const std::string& error)> onWriteError;
  // The wall clock, for condition and Event times (tests). Empty = system clock.
  std::function<core::TimePoint()> clock;
  // status.shard of every status built (serve's shardNameOf()); empty: not written.
  std::string shard{};
  // Overlapping shard selectors: while leading, a policy this process writes
  // was observed with another shard's non-empty status.shard (so two shards
  // write it, taking turns). Called at most once per policy per
  // shardOverlapWarnInterval, from the watcher's thread. May be empty.
  std::function<void(const std::string& policyKey, const std::string& ourShard, const std::string& otherShard)>
      onShardOverlap{};
  std::chrono::seconds shardOverlapWarnInterval{600};
};

// Writes each policy's status (a JSON merge patch on /status) and records
// Events from a worker thread; the calls below never block on I/O: they
// build the status (cheap), keep the latest per policy, and queue the
// policy's key once however many evaluations pass before the worker gets to
// it, so a policy is written at most once per evaluation and a slow API
// server costs memory per policy, not per evaluation.
//
// A write happens only when a field other than a timestamp changed (see
// compareStatus()), only while mayWrite() (the leader), and is never sent to
// spec. Gaining leadership compares every policy's status with what the API
// held as last observed (observeApiStatus()), so that the new leader writes
// once what differs (everything, when nothing was observed). A 404 (the
// policy was deleted meanwhile) drops the write.
class StatusWriter {
 public:
  struct Stats {
    std::uint64_t writes = 0;         // status PATCHes answered 2xx
    std::uint64_t writeFailures = 0;  // writes given up for now (retried at the next evaluation) or refused
    std::uint64_t events = 0;         // Events created or aggregated
    std::uint64_t eventFailures = 0;  // Events that failed or were dropped
  };

  StatusWriter(KubeClient& client, StatusWriterOptions options, std::function<bool()> mayWrite);
  ~StatusWriter();
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;

  void start();
  // Stops the worker (an in-flight request finishes or times out first).
  void stop();

  // Evaluation-thread calls.
  void onDecision(const core::Policy& policy, const core::Decision& decision, const core::Observation& observation,
                  std::optional<core::TimePoint> lastScaleTime);
  // errorType: "metrics", "stale", "algorithm", "target_not_found", "replicas", ... (see statusFromError()).
  void onError(const core::Policy& policy, const std::string& errorType, const std::string& message);
  // The same for a caller that knows the policy by name only (as
  // server::EvaluationListener::onError does): the generation and uid are
  // those last seen for it (0 and none for a policy never seen).
  void onError(const std::string& ns, const std::string& name, const std::string& errorType,
               const std::string& message);
  // A policy refused with no earlier version serving: Ready=False/InvalidPolicy, decision fields deleted.
  void onInvalid(const std::string& ns, const std::string& name, std::int64_t generation, const std::string& message);
  // `served` (an earlier version) serves because the latest, generation
  // `latestGeneration`, is refused for `problem`; an empty problem: the latest
  // serves again. While superseded, every status built for the policy (its
  // decisions and errors) keeps SpecValid=False (superseded_status.h), so the
  // served version's decision and the refusal are one status, never two
  // taking turns.
  void onSuperseded(const core::Policy& served, std::int64_t latestGeneration, const std::string& problem);
  void onRemoved(const std::string& ns, const std::string& name);
  // Watcher thread: the policy's `.status` as the API holds it (JSON text;
  // malformed text or fields are ignored, never thrown on). Call it for every
  // policy of each snapshot, before the evaluation sees the snapshot, so that
  // - the conditions built first by this process keep the API's
  //   lastTransitionTime where their status is the same (a restarted server);
  // - what the API holds is what the next write is compared with, so that a
  //   restarted server or a new leader writes only what differs.
  // While this process leads, status is its own to write and its writes
  // come back here later, possibly older than one it has since sent: then it
  // is taken only for a policy not yet written. While another leads, every
  // observation is taken, the other leader's times included.
  void observeApiStatus(const std::string& ns, const std::string& name, const std::string& statusJson);
  void setAvailableAlgorithms(std::vector<std::string> names);

  // Any thread (the evaluation loop's first sight of a policy, as
  // server::EvaluationOptions::seed): what the API's status says was
  // published for `policy` (seedFromApiStatus over the status last observed,
  // status_seed.h). Every replica seeds, leader or not: each answers KEDA.
  [[nodiscard]] std::optional<core::PublishedSeed> seedFor(const core::Policy& policy) const;

  [[nodiscard]] Stats stats() const;
  // True once nothing is queued and no request is in flight, false after
  // `timeout` (tests; a graceful shutdown).
  bool waitIdle(std::chrono::milliseconds timeout);

 private:
  struct Record {
    PolicyReference ref;
    std::int64_t generation = 0;           // metadata.generation last seen
    std::optional<PolicyStatus> built;    // the latest status built
    std::optional<PolicyStatus> written;  // what the API server has, as far as we know
    std::optional<PolicyStatus> observed;  // the status last read from the API (observeApiStatus)
    std::optional<Superseded> superseded;  // an earlier version serves (onSuperseded)
    std::chrono::steady_clock::time_point writtenAt{};
    EventMemory events;
    bool queued = false;
    std::optional<core::TimePoint> overlapWarnedAt{};  // onShardOverlap's last call for it
  };
  struct QueuedEvent {
    PolicyReference ref;
    PendingEvent event;
  };
  enum class WriteResult { kWritten, kGone, kRefused, kRetryLater };

  static std::string keyOf(const std::string& ns, const std::string& name);
  Record& recordFor(const std::string& ns, const std::string& name, const std::string& uid);
  // observeApiStatus under mutex_: the other shard to warn of, when one is due.
  std::optional<std::string> observeLocked(const std::string& ns, const std::string& name, PolicyStatus seen);
  // Whether the status built differs enough from the one written to be sent now.
  [[nodiscard]] bool dueLocked(const Record& record) const;
  void markIfDueLocked(const std::string& key, Record& record);
  // Keeps a newly built status, its conditions' times carried from the API's
  // when this process built none before.
  void setBuiltLocked(Record& record, PolicyStatus status) const;
  // `status` as built for the record, saying so while an earlier version serves.
  static PolicyStatus supersededLocked(const Record& record, PolicyStatus status, core::TimePoint now);
  void queueEventsLocked(const PolicyReference& ref, std::vector<PendingEvent> events);
  void run(const std::stop_token& stop);
  WriteResult write(const PolicyReference& ref, const std::string& body, const std::stop_token& stop);
  void pace(const std::stop_token& stop);
  [[nodiscard]] bool mayWrite() const { return !mayWrite_ || mayWrite_(); }
  // The timeout for a request sent now: at most `limit` and the leadership
  // remaining; 0 when this process may not write.
  [[nodiscard]] std::chrono::milliseconds writeWindow(std::chrono::milliseconds limit) const;
  [[nodiscard]] core::TimePoint now() const;
  void reportError(const std::string& key, const std::string& error) const;

  KubeClient& client_;
  const StatusWriterOptions options_;
  const std::function<bool()> mayWrite_;
  EventRecorder events_;

  mutable std::mutex mutex_;  // guards the fields below; never held across a request
  std::condition_variable_any wake_;
  std::vector<std::string> availableAlgorithms_;
  std::map<std::string, Record> records_;  // by namespace/name
  std::deque<std::string> dirty_;          // keys whose Record is queued
  std::deque<QueuedEvent> queuedEvents_;
  bool busy_ = false;  // the worker is sending something
  bool wasLeader_ = false;
  Stats stats_;

  std::chrono::steady_clock::time_point nextRequest_{};  // touched by the worker only

  std::jthread worker_;
};

}  // namespace kubeai::kube
