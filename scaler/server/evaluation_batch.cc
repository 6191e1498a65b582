#include <chrono>
#include <string>
#include <utility>

#include "core/decide.h"
#include "core/validation.h"
#include "server/evaluation_loop.h"

// The evaluation of a batch of policies (a full cycle's, or the few an edit
// changed): one metric read for the batch, then one decision each.
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

void EvaluationLoop::evaluateBatch(const core::PolicyList& batch, const std::vector<bool>& fromSet,
                                   const Problems& problems, core::TimePoint now,
                                   const core::DecideSettings& settings) {
  if (batch.empty()) {
    return;
  }
  std::vector<core::Result<source::MetricReading>> readings = metrics_.read(batch);
  if (readings.size() != batch.size()) {
    // A source bug must not index out of bounds; treat it as a failed read.
    readings.assign(batch.size(), core::Error{"metric source returned " + std::to_string(readings.size()) +
                                              " readings for " + std::to_string(batch.size()) + " policies"});
  }

  for (std::size_t i = 0; i < batch.size(); ++i) {
    const core::Policy& policy = *batch[i];
    const std::string& ns = policy.metadata.namespace_;
    const std::string& name = policy.metadata.name;
    const std::string key = policy.key();
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
      publishedInvalid_.erase(key);  // served under this name from now on
    }
    if (fromSet[i]) {
      memory.kept.reset();  // the source hands a valid version again
    }
    memory.evaluated = batch[i];
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
        recordState(key, PolicyState::kReady);
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
      recordState(key, entry.state);
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
      recordState(key, entry.state);
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
      recordState(key, PolicyState::kInvalid);
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
      recordState(key, PolicyState::kStale);
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
    recordState(key, PolicyState::kReady);
    memory.lastReady = store_.publish(std::move(entry));
    memory.servingLastReady = true;
  }
}

}  // namespace kubeai::server
