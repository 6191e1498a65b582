#pragma once

#include <cstdint>
#include <string_view>

#include "core/result.h"

// Internal to kubeai::kube (source-only): reading a Scale (autoscaling/v1),
// apart from the requests, for ScaleReplicaSource, the tests and fuzz/.
namespace kubeai::kube::detail {

// spec.replicas of a Scale's JSON body: the replicas asked for, as the HPA
// reads them. Absent (or a null spec) is 0: ScaleSpec.replicas is omitempty,
// so a target scaled to zero sends "spec": {}. Present but not an int32 >= 0
// is an error, never a guess; so is a body that is not a JSON object. Errors
// name what is wrong ("the Scale's spec.replicas -1 is not an integer from 0
// to 2147483647"); the caller adds the request. Never throws.
core::Result<std::int32_t> parseScaleReplicas(std::string_view body);

}  // namespace kubeai::kube::detail
