#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.h"

// Internal to kubeai::kube (source-only): reading a target's replicas from a
// Scale (autoscaling/v1) or from the workload itself (an apps/v1 Deployment or
// StatefulSet), apart from the requests, for ScaleReplicaSource, the tests and
// fuzz/.
namespace kubeai::kube::detail {

// spec.replicas of a Scale's JSON body: the replicas asked for, as the HPA
// reads them. Absent (or a null spec) is 0: ScaleSpec.replicas is omitempty,
// so a target scaled to zero sends "spec": {}. Present but not an int32 >= 0
// is an error, never a guess; so is a body that is not a JSON object. Errors
// name what is wrong ("the Scale's spec.replicas -1 is not an integer from 0
// to 2147483647"); the caller adds the request. Never throws.
core::Result<std::int32_t> parseScaleReplicas(std::string_view body);

// The replicas of an apps/v1 Deployment or StatefulSet.
struct WorkloadReplicas {
  std::int32_t replicas = 0;       // spec.replicas: asked for, as its /scale says
  std::int32_t readyReplicas = 0;  // status.readyReplicas: the rest are starting
};

// Reads a Deployment's or StatefulSet's JSON body (`kind` names it in the
// errors). spec.replicas absent or null is 1: it is a pointer the API server
// defaults to 1 (and a pointer to 0 is still sent), so only a body no API
// server sends lacks it. status.readyReplicas absent or null is 0: an int32
// with omitempty, so 0 ready is sent as nothing, and a new object has no
// status yet. Never status.replicas (a rolling update's surge pods). A body
// that is not a JSON object, without a spec object, or with a count that is
// not an int32 >= 0 is an error naming the field and the value ("the
// Deployment's status.readyReplicas -1 is not an integer from 0 to
// 2147483647"); the caller adds the request. Never throws.
core::Result<WorkloadReplicas> parseWorkloadReplicas(std::string_view body, std::string_view kind);

}  // namespace kubeai::kube::detail
