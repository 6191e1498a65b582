#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/result.h"
#include "kube/client/kube_client.h"
#include "kube/target_cache.h"
#include "source/metric_source.h"

namespace kubeai::kube {

// A reading's error message starts with this when the policy's target does
// not exist (its GET answered 404). The evaluation loop reports it as a
// "metrics" error carrying this message; serve turns it into the status
// writer's errorType "target_not_found" (condition Ready=False, reason
// TargetNotFound) with isTargetNotFound().
inline constexpr std::string_view kTargetNotFoundPrefix = "TargetNotFound: ";

// True when `message` is (or ends with, after context such as "no metrics
// yet: ") a target-not-found error of ScaleReplicaSource.
[[nodiscard]] bool isTargetNotFound(std::string_view message) noexcept;

struct ScaleReplicaSourceOptions {
  std::size_t parallelism = 8;                // requests in flight per cycle
  std::chrono::milliseconds timeout{5'000};   // each GET of a target
  // The watched Deployments and StatefulSets (TargetWatcher's cache): apps/v1
  // targets in its namespaces are read there, with no request. Null: every
  // target is read with a GET (tests, and a caller without a watch).
  const TargetCache* targets{};
  // Once a namespace's watch of the targets' kind has failed for longer
  // (serve: --metrics-stale-after), its policies' readings are an Error
  // naming the failure, not the replicas last held, so the loop's staleness
  // follows. Empty: the replicas last held, however long the watch fails.
  std::optional<std::chrono::milliseconds> targetsUnhealthyAfter{};
};

// What is read of a policy's target: the workload itself for an apps/v1
// Deployment or StatefulSet (spec.replicas and status.readyReplicas), its
// /scale subresource for any other group/version (spec.replicas only: a Scale
// has no ready replicas).
struct TargetRead {
  std::string path;
  bool scale = false;  // path is the /scale subresource
};

// Current and ready replicas from the Kubernetes API (DESIGN §6), over another
// metric source (the file or Prometheus) that gives the metrics: each cycle
// reads the inner source, then every policy's target:
//   - apps/v1 (or no apiVersion) in a namespace of `options.targets`: looked
//     up there (TargetWatcher's list + watch), no request. Before that
//     namespace's first list is in, the reading is an Error saying so (not
//     TargetNotFound: nothing is known yet); absent once listed, it is
//     TargetNotFound; while that list + watch has failed for longer than
//     `options.targetsUnhealthyAfter`, an Error naming the failure;
//   - apps/v1 elsewhere (no cache, or a namespace it does not watch): GET
//     /apis/apps/v1/namespaces/NS/{deployments|statefulsets}/NAME;
//   both setting MetricReading::currentReplicas from spec.replicas and
//   readyReplicas from status.readyReplicas (0 when absent: omitempty, or no
//   status yet);
//   - another group/version (apps.kruise.io/v1beta1 StatefulSet):
//     /apis/<group>/<version>/namespaces/NS/<plural>/NAME/scale, currentReplicas
//     from the Scale's spec.replicas (0 when absent: omitempty) and the ready
//     replicas unknown. A watch cannot serve these: the generic /scale
//     contract has no list of another API's objects we could rely on.
// GETs go once per distinct target, `parallelism` at a time.
// spec.replicas is the replicas asked for (the HPA's and the original's
// choice); never status.replicas, which counts a rolling update's surge pods.
// The inner source's replicas and ready replicas, if any, are replaced.
//
// A target that does not exist makes the policy's reading an Error starting
// with kTargetNotFoundPrefix; any other failure (a count not an int32 >= 0
// included) is an Error naming the path, which the loop treats as a failed
// read (stale after --metrics-stale-after).
class ScaleReplicaSource final : public source::MetricSource {
 public:
  ScaleReplicaSource(source::MetricSource& inner, KubeClient& client, ScaleReplicaSourceOptions options = {});

  // What is read of the target, or an Error for a kind other than Deployment
  // and StatefulSet or for an apiVersion, namespace or name that is not a
  // valid path segment (group/version, RFC 1123 label, RFC 1123 subdomain):
  // nothing else reaches the URL.
  static core::Result<TargetRead> targetRead(const core::Policy& policy);

 private:
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override;
  struct Replicas {
    std::int32_t current = 0;
    std::optional<std::int32_t> ready;
  };
  core::Result<Replicas> fetch(const core::Policy& policy, const TargetRead& read);
  // Sets `reading` from the watch's cache (replicas, or the error); false
  // when the cache does not cover the policy's namespace.
  bool fromCache(const core::Policy& policy, core::Result<source::MetricReading>& reading) const;

  source::MetricSource& inner_;
  KubeClient& client_;
  const ScaleReplicaSourceOptions options_;
};

}  // namespace kubeai::kube
