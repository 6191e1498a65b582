#include "kube/status_seed.h"

#include "kube/client/kube_time.h"

namespace kubeai::kube {

std::optional<core::PublishedSeed> seedFromApiStatus(const std::optional<PolicyStatus>& status,
                                                     std::int64_t generation) {
  if (!status || status->observedGeneration < 1 || status->observedGeneration != generation ||
      !status->desiredReplicas || *status->desiredReplicas < 0) {
    return std::nullopt;
  }
  core::PublishedSeed seed;
  seed.desiredReplicas = *status->desiredReplicas;
  if (status->lastScaleTime) {
    seed.lastScaleTime = parseTime(*status->lastScaleTime);
  }
  return seed;
}

}  // namespace kubeai::kube
