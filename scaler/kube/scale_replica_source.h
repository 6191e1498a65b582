#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/result.h"
#include "kube/client/kube_client.h"
#include "source/metric_source.h"

namespace kubeai::kube {

// A reading's error message starts with this when the policy's target does
// not exist (the /scale answered 404). The evaluation loop reports it as a
// "metrics" error carrying this message; serve turns it into the status
// writer's errorType "target_not_found" (condition Ready=False, reason
// TargetNotFound) with isTargetNotFound().
inline constexpr std::string_view kTargetNotFoundPrefix = "TargetNotFound: ";

// True when `message` is (or ends with, after context such as "no metrics
// yet: ") a target-not-found error of ScaleReplicaSource.
[[nodiscard]] bool isTargetNotFound(std::string_view message) noexcept;

struct ScaleReplicaSourceOptions {
  std::size_t parallelism = 8;                // requests in flight per cycle
  std::chrono::milliseconds timeout{5'000};   // each /scale GET
};

// Current replicas from the Kubernetes /scale subresource (DESIGN §6), over
// another metric source (the file or Prometheus) that gives the metrics: each
// cycle reads the inner source, then GETs
// /apis/<group>/<version>/namespaces/NS/{deployments|statefulsets}/NAME/scale
// for every policy (once per distinct target, `parallelism` at a time) and
// sets MetricReading::currentReplicas from the Scale's spec.replicas, the
// replicas asked for (the HPA's and the original's choice); 0 when absent
// (omitempty). Never status.replicas: it counts a rolling update's surge pods.
// The inner source's replicas, if any, are replaced.
//
// A target that does not exist makes the policy's reading an Error starting
// with kTargetNotFoundPrefix; any other failure (spec.replicas not an int32
// >= 0 included) is an Error naming the path, which the loop treats as a
// failed read (stale after --metrics-stale-after).
class ScaleReplicaSource final : public source::MetricSource {
 public:
  ScaleReplicaSource(source::MetricSource& inner, KubeClient& client, ScaleReplicaSourceOptions options = {});

  std::vector<core::Result<source::MetricReading>> read(const std::vector<core::Policy>& policies) override;

  // The target's /scale path, or an Error for a kind without one or for an
  // apiVersion, namespace or name that is not a valid path segment (group/
  // version, RFC 1123 label, RFC 1123 subdomain): nothing else reaches the URL.
  static core::Result<std::string> scalePath(const core::Policy& policy);

 private:
  core::Result<std::int32_t> fetch(const core::Policy& policy, const std::string& path);

  source::MetricSource& inner_;
  KubeClient& client_;
  const ScaleReplicaSourceOptions options_;
};

}  // namespace kubeai::kube
