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
  // Policies by state name after each cycle ("pending", "ready", "stale", "invalid").
  virtual void onCycle(const std::map<std::string, std::size_t>& /*policiesByState*/, double /*seconds*/) {}
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

// Runs every policy through core::decide() each interval, and at once when
// triggered (a policy, the metrics or a plugin changed), carrying each
// policy's History from one decision to the next, and publishes the results
// to the DecisionStore that the gRPC handlers read.
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
  // hand it); takes effect at the next cycle, which this triggers. Thread-safe.
  void setPolicies(std::vector<core::Policy> policies, std::vector<InvalidPolicy> invalid = {});
  // The same, sharing the set with its source (never null).
  void setPolicies(std::shared_ptr<const std::vector<core::Policy>> policies, std::vector<InvalidPolicy> invalid = {});

  // Asks for a cycle now (metrics or plugins changed). Thread-safe.
  void trigger();

  // Runs cycles on a background thread until stop() or destruction.
  void start();
  void stop();

  // One cycle on the calling thread (tests; and the first cycle at start-up,
  // so the server is ready before it listens).
  void runOnce();

  // Cycles completed so far; tests wait on it.
  [[nodiscard]] std::uint64_t cycles() const;

  static Clock systemClock();

 private:
  struct PolicyMemory {
    core::TimePoint firstSeen{};
    std::string uid;  // of the object first seen under this key (empty from the directory)
    bool decided = false;  // history holds a decision (else the next one is the first sight)
    core::History history;
    // The last valid version, once the source refuses the latest one and no
    // longer hands this one (Kubernetes); evaluated in its place.
    std::optional<core::Policy> kept;
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

  void loop(const std::stop_token& stop);
  void runCycle(core::CallReason reason);
  void evaluate(const std::shared_ptr<const std::vector<core::Policy>>& set, const std::vector<InvalidPolicy>& invalid,
                const core::DecideSettings& settings);
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
  std::shared_ptr<const std::vector<core::Policy>> policies_ = std::make_shared<const std::vector<core::Policy>>();
  std::shared_ptr<const std::vector<InvalidPolicy>> invalid_ = std::make_shared<const std::vector<InvalidPolicy>>();
  bool triggered_ = false;
  std::uint64_t cycles_ = 0;

  // Touched only by the cycle (one at a time: cycleMutex_).
  std::mutex cycleMutex_;
  std::map<std::string, PolicyMemory> memory_;  // by namespace/name: the policies evaluated
  std::set<std::string> publishedInvalid_;      // namespace/name of the invalid ones in the store
  std::shared_ptr<const std::vector<core::Policy>> lastEvaluated_;  // the set of the last cycle, for kept versions

  std::jthread thread_;
};

}  // namespace kubeai::server
