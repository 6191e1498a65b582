#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/algorithm_registry.h"
#include "core/decide.h"
#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"
#include "server/decision_store.h"
#include "source/metric_source.h"

namespace kubeai::server {

// What the loop tells telemetry and logs; every method has a no-op default.
// Called on the evaluation thread.
class EvaluationListener {
 public:
  virtual ~EvaluationListener() = default;
  virtual void onDecision(const core::Policy& /*policy*/, const core::Decision& /*decision*/,
                          const core::Observation& /*observation*/, bool /*cooldownActive*/,
                          std::optional<core::TimePoint> /*lastScaleTime*/, double /*seconds*/) {}
  // errorType: "metrics" (a failed read), "stale", "algorithm" (a plugin failed, the policy
  // holds), "plugin_unavailable" (a plugin that keeps failing: not servable), "invalid".
  virtual void onError(const std::string& /*ns*/, const std::string& /*name*/, const std::string& /*errorType*/,
                       const std::string& /*message*/) {}
  virtual void onRemoved(const std::string& /*ns*/, const std::string& /*name*/) {}
  // A policy is served in its last valid version because its latest one was
  // refused (`problem` says why), or no longer (`problem` empty). Called when
  // that changes, before the decision it applies to.
  virtual void onSuperseded(const core::Policy& /*served*/, const std::string& /*problem*/) {}
  // Every policy by state name ("pending", "ready", "stale", "invalid") after
  // each full cycle (every policy evaluated: on the timer, or when triggered),
  // and the cycle's duration.
  virtual void onCycle(const std::map<std::string, std::size_t>& /*policiesByState*/, double /*seconds*/) {}
  // After an evaluation of some policies only (an edit of them, their
  // entries of the metrics file changed): every policy by state name, as
  // onCycle's, so that a gauge of them stays true; `evaluated` counts the
  // policies evaluated, published invalid or removed, and `seconds` is the
  // evaluation's duration. Not a cycle.
  virtual void onPartial(const std::map<std::string, std::size_t>& /*policiesByState*/, std::size_t /*evaluated*/,
                         double /*seconds*/) {}
};

// A policy the source refused, never valid: served as kInvalid with why.
// Entry messages never repeat the policy's name: the RPC status ("policy
// NS/NAME is invalid: ...") and /readyz put it first.
struct InvalidPolicy {
  std::string ns;
  std::string name;
  std::string message;
};

struct EvaluationOptions {
  std::chrono::milliseconds interval{15'000};
  std::chrono::milliseconds staleAfter{45'000};  // --metrics-stale-after, default 3 x interval
  core::DecideSettings decide;                    // --reaction-time
  // What a previous process published for a policy seen for the first time
  // (serve --kubernetes: the policy's status). Called on the evaluation thread.
  std::function<std::optional<core::PublishedSeed>(const core::Policy&)> seed;
};

// Runs every policy through core::decide() each interval (a full cycle), and
// at once when triggered (a plugin changed: a full cycle; a policy or its
// metrics changed: that policy alone, a partial evaluation), carrying each
// policy's History from one decision to the next, and publishes the results
// to the DecisionStore that the gRPC handlers read.
//
// Incremental: setPolicies() compares the new set with the last one handed
// (pointer by pointer, then by value where the pointers differ, the
// resourceVersion aside) and only the policies added, changed or removed,
// valid or refused, are evaluated, published invalid or removed; an edit of
// one policy of 10,000 reads the metrics of that one; a set after an empty
// one (the API's first list) is a full cycle. reevaluate() asks the
// same for named policies. Edits arriving while an evaluation runs are
// evaluated together after it. The timer still runs full cycles.
//
// Replicas: the reading's current replicas (the target's spec.replicas). A
// reading without them is an error of that policy, at once unservable: a
// decision is never made from a guessed current.
//
// First sight: a policy's first decision starts from core::firstSightHistory()
// (its scale-down window holds the current replicas; `seed` brings back what
// a previous process published).
//
// A failed metric read keeps the policy's last decision in force; after
// staleAfter without a good read it becomes kStale, and RPCs answer
// UNAVAILABLE so that the ScaledObject's fallback applies.
//
// A bad edit: a policy whose latest version is refused (listed as invalid)
// while an earlier version was being evaluated keeps being evaluated in that
// version, with its history; the entry is ready and carries the problem, and
// the listener hears onSuperseded. Directory sources hand both versions (the
// kept one in the set, the problem in `invalid`); the Kubernetes source hands
// only the refusal, and the loop keeps the version it last evaluated.
class EvaluationLoop {
 public:
  using Clock = std::function<core::TimePoint()>;

  EvaluationLoop(DecisionStore& store, const core::AlgorithmRegistry& algorithms, source::MetricSource& metrics,
                 EvaluationOptions options, Clock clock = systemClock(), EvaluationListener* listener = nullptr);
  ~EvaluationLoop();
  EvaluationLoop(const EvaluationLoop&) = delete;
  EvaluationLoop& operator=(const EvaluationLoop&) = delete;

  // Replaces the policy set (sorted by namespace, then name, as both sources
  // hand it); what changed since the last set is evaluated at once (see
  // above). Thread-safe; O(N) pointer comparisons, no Policy copied.
  void setPolicies(std::shared_ptr<const core::PolicyList> policies, std::vector<InvalidPolicy> invalid = {});
  // The same for policies held by value (tests): each shared once.
  void setPolicies(std::vector<core::Policy> policies, std::vector<InvalidPolicy> invalid = {});
  // The same, each policy an alias into `policies` (which they keep alive).
  void setPolicies(const std::shared_ptr<const std::vector<core::Policy>>& policies,
                   std::vector<InvalidPolicy> invalid = {});

  // Asks for a full cycle now (plugins changed). Thread-safe.
  void trigger();
  // Asks for these policies ("namespace/name") to be evaluated now, and no
  // others (their metrics changed). Unknown keys are ignored. Thread-safe.
  void reevaluate(const std::vector<std::string>& keys);

  // Runs cycles on a background thread until stop() or destruction.
  void start();
  void stop();

  // One cycle on the calling thread (tests; and the first cycle at start-up,
  // so the server is ready before it listens). Run before start(), it is the
  // thread's first: the thread's own first cycle comes one interval later.
  void runOnce();
  // Returns once a full cycle has evaluated the set last handed: one on the
  // calling thread, unless the timer thread's (woken by that set) did, or is
  // doing, it. The first list from the API is evaluated once, not twice.
  void runOnceForCurrentSet();

  // Full cycles completed so far; tests wait on it.
  [[nodiscard]] std::uint64_t cycles() const;
  // Evaluations completed so far: full cycles and partial evaluations; tests
  // wait on it for an edit to be applied.
  [[nodiscard]] std::uint64_t evaluations() const;

  static Clock systemClock();

 private:
  struct PolicyMemory {
    core::TimePoint firstSeen{};
    std::string uid;  // of the object first seen under this key (empty from the directory)
    bool decided = false;  // history holds a decision (else the next one is the first sight)
    core::History history;
    // The version evaluated last, shared with its source.
    core::SharedPolicy evaluated;
    // The last valid version, once the source refuses the latest one and no
    // longer hands this one (Kubernetes); evaluated in its place.
    core::SharedPolicy kept;
    std::string problem;  // why the latest version is refused; empty when it is not
    std::optional<core::TimePoint> lastGoodRead;
    // The last ready entry published, shared with the store: its decision
    // stays in force while metrics fail, and is served stale after that.
    std::shared_ptr<const PolicyEntry> lastReady;
    bool servingLastReady = false;  // the store holds lastReady (nothing published over it since)
    // The algorithm of the last decision, told to forget the policy when it
    // goes or moves to another algorithm (a plugin's state slot).
    std::weak_ptr<const core::ScalingAlgorithm> algorithm;
    // The algorithm (and its spec) that last accepted this policy's
    // parameters; checked again when either changes.
    std::weak_ptr<const core::ScalingAlgorithm> validatedBy;
    core::AlgorithmSpec validatedSpec;
    std::string parameterProblem;  // the algorithm's refusal, empty when accepted
  };

  // What an evaluation asks about: a refused policy's problem, by namespace/name.
  using Problems = std::map<std::string, const std::string*>;

  void loop(const std::stop_token& stop);
  void runCycle(core::CallReason reason);
  void runPartial();
  // Every policy (a full cycle).
  void evaluate(const std::shared_ptr<const core::PolicyList>& set, const std::vector<InvalidPolicy>& invalid,
                const core::DecideSettings& settings);
  // The policies named by `keys` only: evaluated, published invalid, or
  // removed, as a full cycle would.
  void evaluateKeys(const std::shared_ptr<const core::PolicyList>& set, const std::vector<InvalidPolicy>& invalid,
                    const std::set<std::string>& keys, const core::DecideSettings& settings);
  // Reads and decides `batch` (fromSet[i]: the source hands batch[i], not a
  // kept version) and publishes each.
  void evaluateBatch(const core::PolicyList& batch, const std::vector<bool>& fromSet, const Problems& problems,
                     core::TimePoint now, const core::DecideSettings& settings);
  // A refused policy that is not served in an earlier version.
  void publishInvalid(const InvalidPolicy& refused);
  // A policy gone from the source: out of the store, its memory and plugin state forgotten.
  void removePolicy(const std::string& key);
  // The version kept for a refused policy this loop evaluated before, or
  // null; `set` does not hold it.
  const core::SharedPolicy& keptVersion(const std::string& key);
  // What the store holds for `key` now, for the counts of every state.
  void recordState(const std::string& key, PolicyState state);
  void forgetState(const std::string& key);
  // The algorithm's verdict on the policy's parameters ("" when accepted),
  // asked again only when the algorithm or its spec changed.
  const std::string& checkParameters(const core::Policy& policy, PolicyMemory& memory);

  DecisionStore& store_;
  const core::AlgorithmRegistry& algorithms_;
  source::MetricSource& metrics_;
  const EvaluationOptions options_;
  const Clock clock_;
  EvaluationListener* const listener_;
  EvaluationListener noListener_;

  mutable std::mutex mutex_;  // guards the fields below
  std::condition_variable_any wake_;
  std::shared_ptr<const core::PolicyList> policies_ = std::make_shared<const core::PolicyList>();
  std::shared_ptr<const std::vector<InvalidPolicy>> invalid_ = std::make_shared<const std::vector<InvalidPolicy>>();
  bool fullPending_ = false;           // a full cycle is asked for
  std::set<std::string> pendingKeys_;  // namespace/name of the policies to evaluate (when no full cycle is)
  std::uint64_t cycles_ = 0;
  std::uint64_t evaluations_ = 0;
  std::uint64_t setsHanded_ = 0;   // setPolicies calls so far
  std::uint64_t setsStarted_ = 0;  // setsHanded_ when the last full cycle to start read the set
  std::uint64_t setsCovered_ = 0;  // the same, for the last full cycle to end

  // Touched only by the cycle (one at a time: cycleMutex_).
  std::mutex cycleMutex_;
  std::map<std::string, PolicyMemory> memory_;  // by namespace/name: the policies evaluated
  std::set<std::string> publishedInvalid_;      // namespace/name of the invalid ones in the store (no memory)
  std::map<std::string, PolicyState> stateOf_;   // namespace/name: the state the store holds
  std::map<std::string, std::size_t> stateCounts_ = {{"pending", 0}, {"ready", 0}, {"stale", 0}, {"invalid", 0}};

  std::jthread thread_;
};

}  // namespace kubeai::server
