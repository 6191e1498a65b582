#include "core/policy.h"

#include <algorithm>
#include <tuple>
#include <utility>

namespace kubeai::core {

const Policy* findInSortedSet(const std::vector<Policy>& set, const std::string& ns, const std::string& name) {
  const auto found = std::lower_bound(set.begin(), set.end(), std::pair{&ns, &name},
                                      [](const Policy& policy, const auto& key) {
                                        return std::tie(policy.metadata.namespace_, policy.metadata.name) <
                                               std::tie(*key.first, *key.second);
                                      });
  if (found == set.end() || found->metadata.namespace_ != ns || found->metadata.name != name) {
    return nullptr;
  }
  return &*found;
}

const Policy* findInSortedSet(const PolicyList& set, const std::string& ns, const std::string& name) {
  const auto found = std::lower_bound(set.begin(), set.end(), std::pair{&ns, &name},
                                      [](const SharedPolicy& policy, const auto& key) {
                                        return std::tie(policy->metadata.namespace_, policy->metadata.name) <
                                               std::tie(*key.first, *key.second);
                                      });
  if (found == set.end() || (*found)->metadata.namespace_ != ns || (*found)->metadata.name != name) {
    return nullptr;
  }
  return found->get();
}

}  // namespace kubeai::core
