#include "server/evaluation_loop.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "core/decide.h"
#include "core/validation.h"

namespace kubeai::server {
namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

const std::string kNoProblem;


std::string formatSeconds(core::TimePoint::duration duration) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(duration).count()) + "s";
}

// Tells the algorithm a policy used before that it is no longer used by it.
void rememberAlgorithm(auto& memory, std::shared_ptr<const core::ScalingAlgorithm> used, const std::string& ns,
                       const std::string& name) {
  const auto previous = memory.algorithm.lock();
  if (previous && previous != used) {
    previous->forgetPolicy(ns, name);
  }
  memory.algorithm = used;
}

}  // namespace

EvaluationLoop::Clock EvaluationLoop::systemClock() {
  return [] { return std::chrono::system_clock::now(); };
}

EvaluationLoop::EvaluationLoop(DecisionStore& store, const core::AlgorithmRegistry& algorithms,
                               source::MetricSource& metrics, EvaluationOptions options, Clock clock,
                               EvaluationListener* listener)
    : store_(store),
      algorithms_(algorithms),
      metrics_(metrics),
      options_(options),
      clock_(std::move(clock)),
      listener_(listener != nullptr ? listener : &noListener_) {}

EvaluationLoop::~EvaluationLoop() { stop(); }

void EvaluationLoop::setPolicies(std::vector<core::Policy> policies, std::vector<InvalidPolicy> invalid) {
  setPolicies(std::make_shared<const std::vector<core::Policy>>(std::move(policies)), std::move(invalid));
}

void EvaluationLoop::setPolicies(std::shared_ptr<const std::vector<core::Policy>> policies,
                                 std::vector<InvalidPolicy> invalid) {
  auto nextPolicies = policies ? std::move(policies) : std::make_shared<const std::vector<core::Policy>>();
  auto nextInvalid = std::make_shared<const std::vector<InvalidPolicy>>(std::move(invalid));
  {
    const std::lock_guard lock(mutex_);
    policies_ = std::move(nextPolicies);
    invalid_ = std::move(nextInvalid);
    triggered_ = true;
  }
  wake_.notify_all();
}

void EvaluationLoop::trigger() {
  {
    const std::lock_guard lock(mutex_);
    triggered_ = true;
  }
  wake_.notify_all();
}

void EvaluationLoop::start() {
  if (!thread_.joinable()) {
    thread_ = std::jthread([this](const std::stop_token& stop) { loop(stop); });
  }
}

void EvaluationLoop::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();
  }
}

std::uint64_t EvaluationLoop::cycles() const {
  const std::lock_guard lock(mutex_);
  return cycles_;
}

void EvaluationLoop::loop(const std::stop_token& stop) {
  // Cycles start every interval, not an interval after the last one ended:
  // a cycle that takes long (10,000 policies, a slow Prometheus) does not
  // push every later one back. Triggered cycles come in between and leave the
  // schedule alone; a cycle that overran the next tick starts the next at once.
  auto nextTick = std::chrono::steady_clock::now();
  core::CallReason reason = core::CallReason::kCycle;
  while (!stop.stop_requested()) {
    runCycle(reason);
    const auto now = std::chrono::steady_clock::now();
    while (nextTick <= now) {
      nextTick += options_.interval;
    }
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, nextTick, [this] { return triggered_; });
    // Plugins tell the two apart: "N cycles in a row" counts the timed ones.
    reason = std::chrono::steady_clock::now() >= nextTick ? core::CallReason::kCycle : core::CallReason::kTriggered;
  }
}

void EvaluationLoop::runOnce() { runCycle(core::CallReason::kCycle); }

void EvaluationLoop::runCycle(core::CallReason reason) {
  std::shared_ptr<const std::vector<core::Policy>> policies;
  std::shared_ptr<const std::vector<InvalidPolicy>> invalid;
  core::DecideSettings settings = options_.decide;
  settings.reason = reason;
  {
    const std::lock_guard lock(mutex_);
    policies = policies_;
    invalid = invalid_;
    triggered_ = false;  // a trigger during the cycle asks for another one
    settings.cycle = cycles_ + 1;
  }
  {
    const std::lock_guard cycle(cycleMutex_);
    evaluate(policies, *invalid, settings);
  }
  const std::lock_guard lock(mutex_);
  ++cycles_;
}

const std::string& EvaluationLoop::checkParameters(const core::Policy& policy, PolicyMemory& memory) {
  const core::AlgorithmSpec& spec = policy.spec.algorithm;
  const std::shared_ptr<const core::ScalingAlgorithm> algorithm =
      algorithms_.find(spec.name.empty() ? core::kDefaultAlgorithm : spec.name);
  if (!algorithm) {
    memory.parameterProblem.clear();  // decide() falls back to MaxRatio and says so
    memory.validatedBy.reset();
    return memory.parameterProblem;
  }
  if (memory.validatedBy.lock() == algorithm && memory.validatedSpec == spec) {
    return memory.parameterProblem;
  }
  const core::Status verdict = core::checkAlgorithmParameters(policy, *algorithm);
  if (!verdict.ok() && verdict.error().reason == "PluginCrashed") {
    // The plugin's host failed, not its check: the decision says so (its
    // calls fail too), and the parameters are checked again next cycle.
    memory.validatedBy.reset();
    memory.parameterProblem.clear();
    return memory.parameterProblem;
  }
  memory.validatedBy = algorithm;
  memory.validatedSpec = spec;
  memory.parameterProblem = verdict.ok() ? std::string() : verdict.error().message;
  return memory.parameterProblem;
}

void EvaluationLoop::evaluate(const std::shared_ptr<const std::vector<core::Policy>>& set,
                              const std::vector<InvalidPolicy>& invalid, const core::DecideSettings& settings) {
  const auto started = std::chrono::steady_clock::now();
  const core::TimePoint now = clock_();
  std::map<std::string, std::size_t> states = {{"pending", 0}, {"ready", 0}, {"stale", 0}, {"invalid", 0}};
  std::set<std::string> present;  // namespace/name of every policy published this cycle

  // A refused latest version of a policy evaluated before: that policy goes
  // on in its last valid version. The directory hands that version itself;
  // from the API it is the one this loop kept.
  std::map<std::string, const std::string*> problems;
  std::vector<const core::Policy*> kept;
  for (const InvalidPolicy& refused : invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    problems.emplace(key, &refused.message);
    const auto memory = memory_.find(key);
    if (memory == memory_.end() || core::findInSortedSet(*set, refused.ns, refused.name) != nullptr) {
      continue;  // never evaluated, or its last good version is in the set
    }
    if (!memory->second.kept) {
      const core::Policy* last =
          lastEvaluated_ ? core::findInSortedSet(*lastEvaluated_, refused.ns, refused.name) : nullptr;
      if (last == nullptr) {
        continue;
      }
      memory->second.kept = *last;
    }
    kept.push_back(&*memory->second.kept);
  }
  std::vector<core::Policy> withKept;  // only when some are kept: the set is shared with its source
  if (!kept.empty()) {
    withKept.reserve(set->size() + kept.size());
    withKept.assign(set->begin(), set->end());
    for (const core::Policy* policy : kept) {
      withKept.push_back(*policy);
    }
  }
  const std::vector<core::Policy>& policies = kept.empty() ? *set : withKept;

  std::vector<core::Result<source::MetricReading>> readings = metrics_.read(policies);
  if (readings.size() != policies.size()) {
    // A source bug must not index out of bounds; treat it as a failed read.
    readings.assign(policies.size(), core::Error{"metric source returned " + std::to_string(readings.size()) +
                                                 " readings for " + std::to_string(policies.size()) + " policies"});
  }

  for (std::size_t i = 0; i < policies.size(); ++i) {
    const core::Policy& policy = policies[i];
    const std::string& ns = policy.metadata.namespace_;
    const std::string& name = policy.metadata.name;
    const std::string key = policy.key();
    present.insert(key);
    auto [slot, inserted] = memory_.try_emplace(key);
    PolicyMemory& memory = slot->second;
    if (!inserted && !policy.metadata.uid.empty() && policy.metadata.uid != memory.uid) {
      // Deleted and created again between two sets: a new object, seen for the first time.
      if (!memory.problem.empty()) {
        listener_->onSuperseded(policy, kNoProblem);
      }
      if (const auto algorithm = memory.algorithm.lock()) {
        algorithm->forgetPolicy(ns, name);
      }
      memory = PolicyMemory{};
      inserted = true;
    }
    if (inserted) {
      memory.firstSeen = now;
      memory.uid = policy.metadata.uid;
    }
    if (i < set->size()) {
      memory.kept.reset();  // the source hands a valid version again
    }
    const auto problem = problems.find(key);
    const std::string& problemNow = problem != problems.end() ? *problem->second : kNoProblem;
    if (memory.problem != problemNow) {
      memory.problem = problemNow;
      listener_->onSuperseded(policy, memory.problem);
    }

    PolicyEntry entry;
    entry.ns = ns;
    entry.name = name;

    if (!readings[i].ok()) {
      const std::string& error = readings[i].error().message;
      listener_->onError(ns, name, "metrics", error);
      const core::TimePoint since = memory.lastGoodRead.value_or(memory.firstSeen);
      if (now - since >= options_.staleAfter) {
        entry.state = PolicyState::kStale;
        if (memory.lastReady) {
          entry.decision = memory.lastReady->decision;
          entry.decidedAt = memory.lastReady->decidedAt;
          entry.metricsReadAt = memory.lastReady->metricsReadAt;
        }
        // No "policy NS/NAME" here: the RPC status and /readyz put the name first.
        entry.message = "metrics unavailable for " + formatSeconds(now - since) + ": " + error;
        // The listener writes status and logs each new problem once: its
        // message must not change every cycle as the seconds above do.
        listener_->onError(ns, name, "stale",
                           "metrics unavailable for longer than " + formatSeconds(options_.staleAfter) + ": " + error);
      } else if (memory.lastReady && memory.servingLastReady) {
        // The last decision stays in force until stale. The store holds that
        // very entry (a stale one is only published past this branch, and a
        // good read after it publishes a new lastReady): nothing to publish.
        ++states["ready"];
        continue;
      } else if (memory.lastReady) {
        // Not servable already (no replica data before): stays so, the last decision kept for the record.
        entry.state = PolicyState::kStale;
        entry.decision = memory.lastReady->decision;
        entry.decidedAt = memory.lastReady->decidedAt;
        entry.metricsReadAt = memory.lastReady->metricsReadAt;
        entry.message = "metrics unavailable: " + error;
      } else {
        entry.state = PolicyState::kPending;
        entry.message = "no metrics yet: " + error;
      }
      ++states[std::string(policyStateName(entry.state))];
      memory.servingLastReady = false;
      store_.publish(std::move(entry));
      continue;
    }

    const source::MetricReading& reading = readings[i].value();
    if (!reading.currentReplicas) {
      // Never a decision from a guessed current: the last published value
      // is not what the workload runs after KEDA's fallback or a manual
      // scale, and minReplicas is not either.
      const std::string error = "no replica data for " + policy.spec.targetRef.kind + " " + ns + "/" +
                                policy.spec.targetRef.name + ": the metric source gave no current replicas";
      listener_->onError(ns, name, "replicas", error);
      entry.state = memory.lastReady ? PolicyState::kStale : PolicyState::kPending;
      if (memory.lastReady) {
        entry.decision = memory.lastReady->decision;
        entry.decidedAt = memory.lastReady->decidedAt;
        entry.metricsReadAt = memory.lastReady->metricsReadAt;
      }
      entry.message = error;
      ++states[std::string(policyStateName(entry.state))];
      memory.servingLastReady = false;
      store_.publish(std::move(entry));
      continue;
    }

    memory.lastGoodRead = now;
    if (const std::string& refused = checkParameters(policy, memory); !refused.empty()) {
      // Refused where the policy is checked, as `validate` does: no decision
      // from parameters the algorithm cannot use. Its history is kept for
      // when they are fixed.
      listener_->onError(ns, name, "invalid", refused);
      entry.state = PolicyState::kInvalid;
      entry.message = refused;
      ++states["invalid"];
      memory.servingLastReady = false;
      store_.publish(std::move(entry));
      continue;
    }
    const core::Observation observation = reading.observation(*reading.currentReplicas);
    if (!memory.decided) {
      memory.history = core::firstSightHistory(observation.currentReplicas, now,
                                               options_.seed ? options_.seed(policy) : std::nullopt);
      memory.decided = true;
    }
    const auto decideStarted = std::chrono::steady_clock::now();
    core::Outcome outcome =
        core::decide(policy, observation, std::move(memory.history), now, algorithms_, settings);
    const double decideSeconds = secondsSince(decideStarted);
    memory.history = std::move(outcome.history);

    const core::Decision& decision = outcome.decision;
    const auto cooldown = std::chrono::seconds(policy.spec.effectiveCooldownSeconds());
    const bool cooldownActive = memory.history.lastChangeAt && cooldown.count() > 0 &&
                                now - *memory.history.lastChangeAt < cooldown;
    listener_->onDecision(policy, decision, observation, cooldownActive, memory.history.lastChangeAt, decideSeconds);
    if (!decision.algorithmError.empty()) {
      listener_->onError(ns, name, "algorithm", decision.algorithmError);
    }
    rememberAlgorithm(memory, algorithms_.find(decision.algorithm), ns, name);

    if (!decision.algorithmUnservable.empty()) {
      // A plugin that keeps failing: not servable, so KEDA's fallback applies;
      // the last good decision stays on the entry for the record.
      entry.state = PolicyState::kStale;
      if (memory.lastReady) {
        entry.decision = memory.lastReady->decision;
        entry.decidedAt = memory.lastReady->decidedAt;
        entry.metricsReadAt = memory.lastReady->metricsReadAt;
      } else {
        entry.decision = decision;
        entry.decidedAt = now;
        entry.metricsReadAt = now;
      }
      entry.message = decision.algorithmUnservable;
      listener_->onError(ns, name, "plugin_unavailable", decision.algorithmUnservable);
      ++states["stale"];
      memory.servingLastReady = false;
      store_.publish(std::move(entry));
      continue;
    }

    entry.state = PolicyState::kReady;
    entry.decision = std::move(outcome.decision);
    entry.decidedAt = now;
    entry.metricsReadAt = now;
    // A ready entry's message is the problem of its latest version, for /readyz.
    entry.message = memory.problem;
    ++states["ready"];
    memory.lastReady = store_.publish(std::move(entry));
    memory.servingLastReady = true;
  }
  lastEvaluated_ = set;

  for (const InvalidPolicy& refused : invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    if (present.count(key) != 0) {
      continue;  // its last good version is being served
    }
    present.insert(key);
    if (const auto gone = memory_.find(key); gone != memory_.end()) {
      if (const auto algorithm = gone->second.algorithm.lock()) {
        algorithm->forgetPolicy(refused.ns, refused.name);  // its state goes with its memory
      }
      memory_.erase(gone);
    }
    PolicyEntry entry;
    entry.ns = refused.ns;
    entry.name = refused.name;
    entry.state = PolicyState::kInvalid;
    entry.message = refused.message;
    listener_->onError(refused.ns, refused.name, "invalid", refused.message);
    ++states["invalid"];
    store_.publish(std::move(entry));
  }

  std::set<std::string> gone;  // in key order, as listeners see removals
  std::map<std::string, std::weak_ptr<const core::ScalingAlgorithm>> forgetting;
  for (auto it = memory_.begin(); it != memory_.end();) {
    if (present.count(it->first) == 0) {
      gone.insert(it->first);
      forgetting.emplace(it->first, it->second.algorithm);
      it = memory_.erase(it);
    } else {
      ++it;
    }
  }
  for (const std::string& key : publishedInvalid_) {
    if (present.count(key) == 0) {
      gone.insert(key);
    }
  }
  for (const std::string& key : gone) {
    // Keys are "namespace/name"; neither part can hold a '/'.
    const std::size_t slash = key.find('/');
    const std::string ns = key.substr(0, slash);
    const std::string name = key.substr(slash + 1);
    if (const auto forgotten = forgetting.find(key); forgotten != forgetting.end()) {
      if (const auto algorithm = forgotten->second.lock()) {
        algorithm->forgetPolicy(ns, name);
      }
    }
    store_.remove(ns, name);
    listener_->onRemoved(ns, name);
  }
  std::set<std::string> invalidNow;
  for (const InvalidPolicy& refused : invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    if (memory_.count(key) == 0) {
      invalidNow.insert(key);
    }
  }
  publishedInvalid_ = std::move(invalidNow);
  listener_->onCycle(states, secondsSince(started));
}

}  // namespace kubeai::server
