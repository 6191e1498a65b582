// What the list and watch fuzzers check of every policy object decoded.
#pragma once

#include <string>

#include "fuzz_check.h"
#include "kube/policy_status.h"
#include "kube/watch_decoding.h"

namespace kubeai::fuzz {

// Valid, or refused with a message; keyed by the policy's own namespace and
// name; a status kept is JSON that the status writer can read.
inline void checkDecodedPolicy(const kube::detail::DecodedPolicy& decoded) {
  const auto& object = decoded.object;
  KUBEAI_FUZZ_CHECK((object.policy != nullptr) == object.invalidMessage.empty(), object.invalidMessage);
  if (object.policy) {
    KUBEAI_FUZZ_CHECK(decoded.key.first == object.policy->metadata.namespace_ &&
                          decoded.key.second == object.policy->metadata.name && !decoded.key.second.empty(),
                      decoded.key.first + "/" + decoded.key.second);
    KUBEAI_FUZZ_CHECK(object.generation == object.policy->metadata.generation, decoded.key.second);
  }
  if (object.apiStatus) {
    KUBEAI_FUZZ_CHECK(kube::parseApiStatus(*object.apiStatus).has_value(), *object.apiStatus);
  }
}

}  // namespace kubeai::fuzz
