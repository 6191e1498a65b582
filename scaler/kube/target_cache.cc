#include "kube/target_cache.h"

#include <algorithm>
#include <mutex>

namespace kubeai::kube {
namespace {

std::vector<std::string> scopesOf(std::vector<std::string> namespaces) {
  // No namespace, or "" among them (serve's --namespace left empty): all.
  if (namespaces.empty() || std::find(namespaces.begin(), namespaces.end(), "") != namespaces.end()) {
    return {std::string()};
  }
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
  return namespaces;
}

std::size_t indexOf(TargetKind kind) { return static_cast<std::size_t>(kind); }

}  // namespace

std::string_view kindName(TargetKind kind) noexcept {
  return kind == TargetKind::kDeployment ? "Deployment" : "StatefulSet";
}

std::string_view pluralName(TargetKind kind) noexcept {
  return kind == TargetKind::kDeployment ? "deployments" : "statefulsets";
}

TargetCache::TargetCache(std::vector<std::string> namespaces, Clock clock)
    : scopes_(scopesOf(std::move(namespaces))),
      clock_(clock ? std::move(clock) : Clock([] { return std::chrono::steady_clock::now(); })) {}

const std::string* TargetCache::scopeOf(std::string_view ns) const {
  if (scopes_.size() == 1 && scopes_.front().empty()) {
    return &scopes_.front();
  }
  const auto found = std::lower_bound(scopes_.begin(), scopes_.end(), ns);
  return found != scopes_.end() && *found == ns ? &*found : nullptr;
}

void TargetCache::replace(TargetKind kind, std::string_view scope, Namespaces listed) {
  Namespaces old;  // freed outside the lock
  {
    const std::unique_lock lock(mutex_);
    Namespaces& held = byKind_[indexOf(kind)];
    if (scope.empty()) {
      old = std::exchange(held, std::move(listed));
    } else {
      // A namespace's list brings that namespace only (whatever else the
      // server put in it is not ours to hold).
      auto found = held.find(scope);
      if (found != held.end()) {
        old.emplace(found->first, std::move(found->second));
        held.erase(found);
      }
      if (auto fresh = listed.find(scope); fresh != listed.end() && !fresh->second.empty()) {
        held.emplace(std::string(scope), std::move(fresh->second));
      }
    }
    listed_[indexOf(kind)].emplace(scope);
  }
}

void TargetCache::put(TargetKind kind, std::string ns, std::string name, detail::TargetState state) {
  const std::unique_lock lock(mutex_);
  Names& names = byKind_[indexOf(kind)][std::move(ns)];
  names.insert_or_assign(std::move(name), std::move(state));
}

void TargetCache::erase(TargetKind kind, std::string_view ns, std::string_view name) {
  const std::unique_lock lock(mutex_);
  Namespaces& held = byKind_[indexOf(kind)];
  const auto found = held.find(ns);
  if (found == held.end()) {
    return;
  }
  if (auto object = found->second.find(name); object != found->second.end()) {
    found->second.erase(object);
  }
  if (found->second.empty()) {
    held.erase(found);
  }
}

void TargetCache::setFailing(TargetKind kind, std::string_view scope, bool failing, const std::string& lastError) {
  const auto now = clock_();  // outside the lock: a test's clock may take its own
  const std::unique_lock lock(mutex_);
  auto& scopes = failing_[indexOf(kind)];
  if (!failing) {
    if (auto found = scopes.find(scope); found != scopes.end()) {
      scopes.erase(found);
    }
    return;
  }
  auto [found, inserted] = scopes.try_emplace(std::string(scope), Failing{now, lastError});
  if (!inserted) {
    found->second.lastError = lastError;  // since the first failure: kept
  }
}

TargetLookup TargetCache::lookup(TargetKind kind, std::string_view ns, std::string_view name,
                                 std::optional<std::chrono::milliseconds> unhealthyAfter) const {
  TargetLookup out;
  const std::string* scope = scopeOf(ns);
  if (scope == nullptr) {
    out.state = TargetLookup::State::kNotWatched;
    return out;
  }
  const std::shared_lock lock(mutex_);
  if (listed_[indexOf(kind)].count(*scope) == 0) {
    out.state = TargetLookup::State::kNotSynced;
    return out;
  }
  if (unhealthyAfter) {
    const auto& scopes = failing_[indexOf(kind)];
    if (auto failing = scopes.find(*scope); failing != scopes.end()) {
      const auto failingFor =
          std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - failing->second.since);
      if (failingFor > *unhealthyAfter) {
        out.state = TargetLookup::State::kUnhealthy;
        out.error = failing->second.lastError;
        out.failingFor = failingFor;
        return out;
      }
    }
  }
  const Namespaces& held = byKind_[indexOf(kind)];
  const auto names = held.find(ns);
  if (names == held.end()) {
    out.state = TargetLookup::State::kNotFound;
    return out;
  }
  const auto object = names->second.find(name);
  if (object == names->second.end()) {
    out.state = TargetLookup::State::kNotFound;
    return out;
  }
  if (!object->second.error.empty()) {
    out.state = TargetLookup::State::kInvalid;
    out.error = object->second.error;
    return out;
  }
  out.state = TargetLookup::State::kFound;
  out.replicas = object->second.replicas;
  out.ready = object->second.ready;
  return out;
}

bool TargetCache::synced() const {
  const std::shared_lock lock(mutex_);
  return listed_[0].size() == scopes_.size() && listed_[1].size() == scopes_.size();
}

std::size_t TargetCache::size() const {
  const std::shared_lock lock(mutex_);
  std::size_t count = 0;
  for (const Namespaces& held : byKind_) {
    for (const auto& [ns, names] : held) {
      count += names.size();
    }
  }
  return count;
}

}  // namespace kubeai::kube
