#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/evaluation_loop.h"
#include "server/policy_set_diff.h"

// A full cycle, a partial evaluation, and what both do to a policy that is
// refused or gone: the store, the memory and the counts of every state.
namespace kubeai::server {
namespace {

using detail::findShared;
using detail::splitKey;

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void EvaluationLoop::recordState(const std::string& key, PolicyState state) {
  auto [slot, inserted] = stateOf_.try_emplace(key, state);
  if (!inserted) {
    if (slot->second == state) {
      return;
    }
    --stateCounts_[std::string(policyStateName(slot->second))];
    slot->second = state;
  }
  ++stateCounts_[std::string(policyStateName(state))];
}

void EvaluationLoop::forgetState(const std::string& key) {
  if (const auto found = stateOf_.find(key); found != stateOf_.end()) {
    --stateCounts_[std::string(policyStateName(found->second))];
    stateOf_.erase(found);
  }
}

const core::SharedPolicy& EvaluationLoop::keptVersion(const std::string& key) {
  static const core::SharedPolicy kNone;
  const auto memory = memory_.find(key);
  if (memory == memory_.end()) {
    return kNone;  // never evaluated
  }
  if (!memory->second.kept) {
    memory->second.kept = memory->second.evaluated;  // null when never evaluated
  }
  return memory->second.kept;
}

void EvaluationLoop::publishInvalid(const InvalidPolicy& refused) {
  const std::string key = refused.ns + "/" + refused.name;
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
  recordState(key, PolicyState::kInvalid);
  publishedInvalid_.insert(key);
  store_.publish(std::move(entry));
}

void EvaluationLoop::removePolicy(const std::string& key) {
  const auto memory = memory_.find(key);
  const bool invalid = publishedInvalid_.erase(key) != 0;
  if (memory == memory_.end() && !invalid) {
    return;  // not in the store
  }
  const auto [ns, name] = splitKey(key);
  if (memory != memory_.end()) {
    const auto algorithm = memory->second.algorithm.lock();
    memory_.erase(memory);
    if (algorithm) {
      algorithm->forgetPolicy(ns, name);
    }
  }
  forgetState(key);
  store_.remove(ns, name);
  listener_->onRemoved(ns, name);
}

void EvaluationLoop::evaluate(const std::shared_ptr<const core::PolicyList>& set,
                              const std::vector<InvalidPolicy>& invalid, const core::DecideSettings& settings) {
  const auto started = std::chrono::steady_clock::now();
  const core::TimePoint now = clock_();

  // A refused latest version of a policy evaluated before: that policy goes
  // on in its last valid version. The directory hands that version itself;
  // from the API it is the one this loop kept.
  Problems problems;
  core::PolicyList kept;
  for (const InvalidPolicy& refused : invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    problems.emplace(key, &refused.message);
    if (findShared(*set, refused.ns, refused.name) != nullptr) {
      continue;  // its last good version is in the set
    }
    if (const core::SharedPolicy& last = keptVersion(key)) {
      kept.push_back(last);
    }
  }
  // Pointers only: the set itself is shared with its source.
  core::PolicyList withKept;
  if (!kept.empty()) {
    withKept.reserve(set->size() + kept.size());
    withKept.assign(set->begin(), set->end());
    withKept.insert(withKept.end(), kept.begin(), kept.end());
  }
  const core::PolicyList& batch = kept.empty() ? *set : withKept;
  std::vector<bool> fromSet(batch.size(), true);
  std::fill(fromSet.begin() + static_cast<std::ptrdiff_t>(set->size()), fromSet.end(), false);
  evaluateBatch(batch, fromSet, problems, now, settings);

  std::set<std::string> present;  // namespace/name of every policy published this cycle
  for (const core::SharedPolicy& policy : batch) {
    present.insert(present.end(), policy->key());
  }
  for (const InvalidPolicy& refused : invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    if (present.insert(key).second) {
      publishInvalid(refused);  // not served in its last good version
    }
  }
  // Gone from the source, in key order, as listeners see removals.
  std::set<std::string> gone;
  for (const auto& [key, memory] : memory_) {
    if (present.count(key) == 0) {
      gone.insert(key);
    }
  }
  for (const std::string& key : publishedInvalid_) {
    if (present.count(key) == 0) {
      gone.insert(key);
    }
  }
  for (const std::string& key : gone) {
    removePolicy(key);
  }
  listener_->onCycle(stateCounts_, secondsSince(started));
}

void EvaluationLoop::evaluateKeys(const std::shared_ptr<const core::PolicyList>& set,
                                  const std::vector<InvalidPolicy>& invalid, const std::set<std::string>& keys,
                                  const core::DecideSettings& settings) {
  const auto started = std::chrono::steady_clock::now();
  const core::TimePoint now = clock_();
  Problems problems;
  std::map<std::string, const InvalidPolicy*> refusedNow;
  for (const InvalidPolicy& refused : invalid) {
    std::string key = refused.ns + "/" + refused.name;
    if (keys.count(key) != 0) {
      problems.emplace(key, &refused.message);
      refusedNow.emplace(std::move(key), &refused);
    }
  }
  core::PolicyList batch;
  std::vector<bool> fromSet;
  std::vector<const InvalidPolicy*> toPublishInvalid;
  std::vector<const std::string*> toRemove;
  for (const std::string& key : keys) {
    const auto [ns, name] = splitKey(key);
    if (const core::SharedPolicy* policy = findShared(*set, ns, name)) {
      batch.push_back(*policy);
      fromSet.push_back(true);
      continue;
    }
    if (const auto refused = refusedNow.find(key); refused != refusedNow.end()) {
      if (const core::SharedPolicy& last = keptVersion(key)) {
        batch.push_back(last);  // served in its last good version
        fromSet.push_back(false);
      } else {
        toPublishInvalid.push_back(refused->second);
      }
      continue;
    }
    toRemove.push_back(&key);
  }
  // In the order of a full cycle: decisions, the refused, then removals.
  evaluateBatch(batch, fromSet, problems, now, settings);
  for (const InvalidPolicy* refused : toPublishInvalid) {
    publishInvalid(*refused);
  }
  for (const std::string* key : toRemove) {
    removePolicy(*key);
  }
  listener_->onPartial(stateCounts_, keys.size(), secondsSince(started));
}

}  // namespace kubeai::server
