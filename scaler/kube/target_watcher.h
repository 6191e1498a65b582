#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "kube/client/kube_client.h"
#include "kube/list_watch.h"
#include "kube/target_cache.h"

namespace kubeai::kube {

struct TargetWatcherOptions {
  // The namespaces watched; empty: all (serve's --namespace).
  std::vector<std::string> namespaces;
  ListWatchTiming timing;
  // When a watch's failures began, and how long ago (tests); empty: steady_clock.
  TargetCache::Clock clock{};
};

// The apps/v1 Deployments and StatefulSets of the watched namespaces, held
// as ScaleReplicaSource needs them (DESIGN §6): a list + watch (ListWatch:
// pagination, bookmarks, resume, relist on 410, back-off) per namespace and
// kind, each object reduced as it is read to its spec.replicas and
// status.readyReplicas (target_decoding.h), into a TargetCache. No GET per
// target per cycle: the policies' reads are lookups.
//
// RBAC: list and watch on deployments and statefulsets (apps), in each
// watched namespace or cluster-wide.
class TargetWatcher {
 public:
  TargetWatcher(KubeClient& client, TargetWatcherOptions options);
  ~TargetWatcher();
  TargetWatcher(const TargetWatcher&) = delete;
  TargetWatcher& operator=(const TargetWatcher&) = delete;

  void start();
  // Stops every watch promptly, and wakes waitSynced(); idempotent.
  void stop();

  [[nodiscard]] const TargetCache& cache() const noexcept { return cache_; }
  // Every namespace's first list of both kinds is in.
  [[nodiscard]] bool synced() const { return cache_.synced(); }
  // Waits until synced (true) or stopped (false).
  bool waitSynced();

  // One per namespace and kind, in the cache's scope order, Deployments first: tests and logs.
  [[nodiscard]] std::vector<ListWatch::Health> health() const;
  [[nodiscard]] std::vector<std::string> collectionPaths() const;

 private:
  class Sink;

  void listed();

  TargetCache cache_;
  std::mutex mutex_;  // guards stopped_, with syncedChanged_
  std::condition_variable syncedChanged_;
  bool stopped_ = false;
  std::vector<std::unique_ptr<Sink>> sinks_;
  std::vector<std::unique_ptr<ListWatch>> watches_;  // after sinks_: destroyed (stopped) first
};

}  // namespace kubeai::kube
