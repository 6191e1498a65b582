#include "kube/policy_watch_set.h"

#include <algorithm>
#include <thread>
#include <type_traits>
#include <utility>

#include "kube/label_selector.h"

namespace kubeai::kube {
namespace {

// The snapshot's policy vector, whatever it holds (policies or shared
// pointers to them): the merge copies elements, so with shared pointers it
// copies pointers, never a policy.
using PolicyVector = std::remove_cvref_t<decltype(*PolicySnapshot{}.policies)>;

}  // namespace

PolicyWatchSet::PolicyWatchSet(KubeClient& client, const PolicyWatcherOptions& options,
                               std::vector<std::string> namespaces, PolicyWatcher::OnChange onChange)
    : onChange_(std::move(onChange)) {
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
  if (namespaces.empty()) {
    namespaces.emplace_back();  // all namespaces
  }
  if (namespaces.size() == 1) {
    PolicyWatcherOptions one = options;
    one.ns = namespaces.front();
    watchers_.push_back(std::make_unique<PolicyWatcher>(client, std::move(one), onChange_));
    return;
  }
  parts_.resize(namespaces.size());
  onStatus_ = options.onStatus;
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    PolicyWatcherOptions one = options;
    one.ns = namespaces[i];
    if (onStatus_) {
      // Called under that watcher's publishing lock, then ours: the order onPart takes them in.
      one.onStatus = [this](const std::string& ns, const std::string& name, const std::string& status) {
        onPartStatus(ns, name, status);
      };
    }
    watchers_.push_back(std::make_unique<PolicyWatcher>(
        client, std::move(one), [this, i](PolicySnapshot snapshot) { onPart(i, std::move(snapshot)); }));
  }
}

PolicyWatchSet::~PolicyWatchSet() { stop(); }

void PolicyWatchSet::start() {
  for (const auto& watcher : watchers_) {
    watcher->start();
  }
}

void PolicyWatchSet::stop() {
  std::vector<std::jthread> stopping;
  stopping.reserve(watchers_.size());
  for (const auto& watcher : watchers_) {
    stopping.emplace_back([&watcher] { watcher->stop(); });
  }
}

bool PolicyWatchSet::synced() const {
  return std::all_of(watchers_.begin(), watchers_.end(), [](const auto& watcher) { return watcher->synced(); });
}

std::vector<std::string> PolicyWatchSet::collectionPaths() const {
  std::vector<std::string> paths;
  paths.reserve(watchers_.size());
  for (const auto& watcher : watchers_) {
    paths.push_back(watcher->collectionPath());
  }
  return paths;
}

void PolicyWatchSet::onPart(std::size_t index, PolicySnapshot snapshot) {
  const std::lock_guard lock(mutex_);
  Part& part = parts_[index];
  part.listed = true;
  // Handed on now (or with the first merge), then not held: each snapshot
  // carries only the statuses new since the namespace's previous one.
  std::map<std::string, std::string> statuses = std::move(snapshot.apiStatuses);
  snapshot.apiStatuses.clear();
  part.latest = std::move(snapshot);
  if (!published_) {
    // This snapshot's statuses are newer than any held of the same policy
    // (map::merge would keep the held one).
    for (auto& [key, status] : statuses) {
      pendingStatuses_.insert_or_assign(key, std::move(status));
    }
    statuses.clear();
    if (!std::all_of(parts_.begin(), parts_.end(), [](const Part& p) { return p.listed; })) {
      return;  // not ready to be the whole set yet
    }
    statuses = std::move(pendingStatuses_);
    pendingStatuses_.clear();
    published_ = true;
  }
  PolicySnapshot merged;
  auto policies = std::make_shared<PolicyVector>();
  std::size_t count = 0;
  for (const Part& each : parts_) {
    count += each.latest.policies->size();
  }
  policies->reserve(count);
  for (const Part& each : parts_) {
    policies->insert(policies->end(), each.latest.policies->begin(), each.latest.policies->end());
    merged.invalid.insert(merged.invalid.end(), each.latest.invalid.begin(), each.latest.invalid.end());
    merged.invalidGenerations.insert(each.latest.invalidGenerations.begin(), each.latest.invalidGenerations.end());
  }
  merged.policies = std::move(policies);
  merged.apiStatuses = std::move(statuses);
  if (onChange_) {
    onChange_(std::move(merged));
  }
}

void PolicyWatchSet::onPartStatus(const std::string& ns, const std::string& name, const std::string& status) {
  const std::lock_guard lock(mutex_);
  if (!published_) {
    // Handed on with the first merge, not before it: the merge would bring
    // an older status of the same policy after this one.
    std::string key = ns;
    key += "/";
    key += name;
    pendingStatuses_.insert_or_assign(std::move(key), status);
    return;
  }
  // Under mutex_, as onChange_ is called: after any merge already begun.
  onStatus_(ns, name, status);
}

core::Result<std::vector<std::string>> parseNamespaceList(std::string_view text) {
  std::vector<std::string> namespaces;
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t start = 0;
  const bool empty = std::all_of(text.begin(), text.end(), blank);
  while (!empty) {
    const std::size_t comma = text.find(',', start);
    std::string_view item = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    while (!item.empty() && blank(item.front())) {
      item.remove_prefix(1);
    }
    while (!item.empty() && blank(item.back())) {
      item.remove_suffix(1);
    }
    if (item.empty()) {
      return core::Error{"an empty namespace in the list (two commas, or one at an end)"};
    }
    if (std::string problem = dns1123LabelProblem(item); !problem.empty()) {
      std::string message = "namespace \"";
      message += item;
      message += "\": ";
      message += problem;
      return core::Error{std::move(message)};
    }
    namespaces.emplace_back(item);
    if (comma == std::string_view::npos) {
      break;
    }
    start = comma + 1;
  }
  std::sort(namespaces.begin(), namespaces.end());
  namespaces.erase(std::unique(namespaces.begin(), namespaces.end()), namespaces.end());
  return namespaces;
}

}  // namespace kubeai::kube
