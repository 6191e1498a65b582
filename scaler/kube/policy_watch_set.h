#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "kube/client/kube_client.h"
#include "kube/policy_watcher.h"

namespace kubeai::kube {

// serve --namespace a,b: one PolicyWatcher per namespace (a Role per
// namespace is enough: nothing lists across namespaces), their sets merged
// into one PolicySnapshot for the loop. With no namespace (all) or one, the
// single watcher's snapshots pass through untouched.
//
// The merged set is published only once every namespace has been listed, so
// that serve does not say it is ready with one namespace's policies; after
// that, each namespace's change publishes the merge at once (a namespace
// relisting hands on its own apiStatuses only; the others' were handed on).
// Status-only events (options.onStatus) before that first merge are held
// with the listed namespaces' statuses, the newest of each policy kept, and
// handed on in it; after it, at once.
// Policies stay sorted by namespace, then name: the namespaces are sorted,
// and each watcher's set is sorted within its namespace.
class PolicyWatchSet {
 public:
  // `options.ns` is ignored: each watcher gets one of `namespaces` (empty:
  // one watcher of all namespaces). Duplicates are watched once.
  PolicyWatchSet(KubeClient& client, const PolicyWatcherOptions& options, std::vector<std::string> namespaces,
                 PolicyWatcher::OnChange onChange);
  ~PolicyWatchSet();
  PolicyWatchSet(const PolicyWatchSet&) = delete;
  PolicyWatchSet& operator=(const PolicyWatchSet&) = delete;

  void start();
  // Stops every watcher, side by side (each may be waiting on a list request); idempotent.
  void stop();

  // Every namespace listed.
  [[nodiscard]] bool synced() const;
  [[nodiscard]] std::size_t size() const noexcept { return watchers_.size(); }
  // Each watcher's collection path, in namespace order (logs, tests).
  [[nodiscard]] std::vector<std::string> collectionPaths() const;

 private:
  // The latest set of one namespace (no apiStatuses: those are handed on at once).
  struct Part {
    bool listed = false;
    PolicySnapshot latest;
  };

  void onPart(std::size_t index, PolicySnapshot snapshot);
  // A watcher's status-only event: held in pendingStatuses_ until the first
  // merge is published (newer wins), then handed to options.onStatus.
  void onPartStatus(const std::string& ns, const std::string& name, const std::string& status);

  const PolicyWatcher::OnChange onChange_;
  std::function<void(const std::string&, const std::string&, const std::string&)> onStatus_;  // several watchers only
  std::mutex mutex_;  // guards parts_ and pendingStatuses_; one onChange at a time
  std::vector<Part> parts_;
  // The statuses of namespaces listed before the last one: handed on with the first merge.
  std::map<std::string, std::string> pendingStatuses_;
  bool published_ = false;
  std::vector<std::unique_ptr<PolicyWatcher>> watchers_;
};

// serve --namespace's value: a comma-separated list of namespaces, each a
// DNS-1123 label, blanks around items ignored, sorted and deduplicated; empty
// (or blank) = all namespaces. The error names the bad item.
core::Result<std::vector<std::string>> parseNamespaceList(std::string_view text);

}  // namespace kubeai::kube
