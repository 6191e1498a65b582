#include "server/evaluation_loop.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include "server/policy_set_diff.h"

namespace kubeai::server {
namespace {

using detail::diffInvalid;
using detail::diffSets;

// Above this many changed policies a set is evaluated whole: a relist, the
// first set. Walking a set of keys costs more than the cycle it saves.
constexpr std::size_t kMinPartialLimit = 64;

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
  auto shared = std::make_shared<core::PolicyList>();
  shared->reserve(policies.size());
  for (core::Policy& policy : policies) {
    shared->push_back(std::make_shared<const core::Policy>(std::move(policy)));
  }
  setPolicies(std::shared_ptr<const core::PolicyList>(std::move(shared)), std::move(invalid));
}

void EvaluationLoop::setPolicies(const std::shared_ptr<const std::vector<core::Policy>>& policies,
                                 std::vector<InvalidPolicy> invalid) {
  auto shared = std::make_shared<core::PolicyList>();
  if (policies) {
    shared->reserve(policies->size());
    for (const core::Policy& policy : *policies) {
      shared->push_back(core::SharedPolicy(policies, &policy));  // an alias: owns the vector, copies nothing
    }
  }
  setPolicies(std::shared_ptr<const core::PolicyList>(std::move(shared)), std::move(invalid));
}

void EvaluationLoop::setPolicies(std::shared_ptr<const core::PolicyList> policies, std::vector<InvalidPolicy> invalid) {
  auto nextPolicies = policies ? std::move(policies) : std::make_shared<const core::PolicyList>();
  auto nextInvalid = std::make_shared<const std::vector<InvalidPolicy>>(std::move(invalid));
  {
    const std::lock_guard lock(mutex_);
    if (policies_->empty() && invalid_->empty()) {
      // The first set (the API's first list): every policy is new, and a
      // full cycle is what runOnceForCurrentSet can wait for.
      fullPending_ = true;
      pendingKeys_.clear();
    } else if (!fullPending_) {
      const std::size_t limit = std::max(kMinPartialLimit, nextPolicies->size() / 4);
      diffSets(*policies_, *nextPolicies, pendingKeys_, limit);
      if (pendingKeys_.size() <= limit) {
        diffInvalid(*invalid_, *nextInvalid, pendingKeys_);
      }
      if (pendingKeys_.size() > limit) {
        fullPending_ = true;
        pendingKeys_.clear();
      }
    }
    policies_ = std::move(nextPolicies);
    invalid_ = std::move(nextInvalid);
    ++setsHanded_;
  }
  wake_.notify_all();
}

void EvaluationLoop::trigger() {
  {
    const std::lock_guard lock(mutex_);
    fullPending_ = true;
    pendingKeys_.clear();
  }
  wake_.notify_all();
}

void EvaluationLoop::reevaluate(const std::vector<std::string>& keys) {
  if (keys.empty()) {
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    if (fullPending_) {
      return;  // a full cycle covers them
    }
    pendingKeys_.insert(keys.begin(), keys.end());
    if (pendingKeys_.size() > std::max(kMinPartialLimit, policies_->size() / 4)) {
      fullPending_ = true;
      pendingKeys_.clear();
    }
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

std::uint64_t EvaluationLoop::evaluations() const {
  const std::lock_guard lock(mutex_);
  return evaluations_;
}

void EvaluationLoop::loop(const std::stop_token& stop) {
  // Cycles start every interval, not an interval after the last one ended:
  // a cycle that takes long (10,000 policies, a slow Prometheus) does not
  // push every later one back. Triggered cycles and partial evaluations come
  // in between and leave the schedule alone; a cycle that overran the next
  // tick starts the next at once. The schedule moves on after full cycles
  // only: a tick that passes during a partial evaluation is still due, so a
  // stream of edits (one every coalesce window, each read taking as long)
  // cannot keep every other policy from its cycle until it goes stale.
  auto nextTick = std::chrono::steady_clock::now();
  core::CallReason reason = core::CallReason::kCycle;
  bool full = true;
  {
    const std::lock_guard lock(mutex_);
    if (cycles_ > 0) {  // runOnce() before start(): that was the first cycle
      nextTick += options_.interval;
      full = fullPending_;  // asked for since: a triggered cycle
      reason = core::CallReason::kTriggered;
    }
  }
  while (!stop.stop_requested()) {
    if (full) {
      runCycle(reason);
      const auto now = std::chrono::steady_clock::now();
      while (nextTick <= now) {
        nextTick += options_.interval;
      }
    } else {
      runPartial();
    }
    std::unique_lock lock(mutex_);
    wake_.wait_until(lock, stop, nextTick, [this] { return fullPending_ || !pendingKeys_.empty(); });
    // Plugins tell the two apart: "N cycles in a row" counts the timed ones.
    const bool timed = std::chrono::steady_clock::now() >= nextTick;
    reason = timed ? core::CallReason::kCycle : core::CallReason::kTriggered;
    full = timed || fullPending_;
  }
}

void EvaluationLoop::runOnce() { runCycle(core::CallReason::kCycle); }

void EvaluationLoop::runOnceForCurrentSet() {
  std::unique_lock lock(mutex_);
  const std::uint64_t wanted = setsHanded_;
  if (setsStarted_ != wanted || fullPending_ || !pendingKeys_.empty()) {
    lock.unlock();
    runCycle(core::CallReason::kCycle);
    return;
  }
  // A cycle has read this set: its decisions are the ones wanted.
  wake_.wait(lock, [&] { return setsCovered_ >= wanted; });
}

void EvaluationLoop::runCycle(core::CallReason reason) {
  std::shared_ptr<const core::PolicyList> policies;
  std::shared_ptr<const std::vector<InvalidPolicy>> invalid;
  core::DecideSettings settings = options_.decide;
  settings.reason = reason;
  std::uint64_t covering = 0;
  {
    const std::lock_guard lock(mutex_);
    policies = policies_;
    invalid = invalid_;
    fullPending_ = false;  // asked for during the cycle: another one
    pendingKeys_.clear();  // this cycle evaluates them
    settings.cycle = cycles_ + 1;
    covering = setsHanded_;
    setsStarted_ = covering;
  }
  {
    const std::lock_guard cycle(cycleMutex_);
    evaluate(policies, *invalid, settings);
  }
  {
    const std::lock_guard lock(mutex_);
    ++cycles_;
    ++evaluations_;
    setsCovered_ = std::max(setsCovered_, covering);
  }
  wake_.notify_all();  // runOnceForCurrentSet may wait for this cycle
}

void EvaluationLoop::runPartial() {
  std::shared_ptr<const core::PolicyList> policies;
  std::shared_ptr<const std::vector<InvalidPolicy>> invalid;
  std::set<std::string> keys;
  core::DecideSettings settings = options_.decide;
  settings.reason = core::CallReason::kTriggered;
  {
    const std::lock_guard lock(mutex_);
    policies = policies_;
    invalid = invalid_;
    keys.swap(pendingKeys_);
    settings.cycle = cycles_ + 1;  // between cycles, as a triggered cycle was: plugins see kTriggered
  }
  if (keys.empty()) {
    return;
  }
  {
    const std::lock_guard cycle(cycleMutex_);
    evaluateKeys(policies, *invalid, keys, settings);
  }
  const std::lock_guard lock(mutex_);
  ++evaluations_;
}

}  // namespace kubeai::server
