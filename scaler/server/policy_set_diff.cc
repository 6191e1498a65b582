#include "server/policy_set_diff.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace kubeai::server::detail {

std::pair<std::string, std::string> splitKey(const std::string& key) {
  const std::size_t slash = key.find('/');
  if (slash == std::string::npos) {
    return {std::string(), key};
  }
  return {key.substr(0, slash), key.substr(slash + 1)};
}

const core::SharedPolicy* findShared(const core::PolicyList& set, const std::string& ns, const std::string& name) {
  const auto found = std::lower_bound(set.begin(), set.end(), std::pair{&ns, &name},
                                      [](const core::SharedPolicy& policy, const auto& key) {
                                        return std::tie(policy->metadata.namespace_, policy->metadata.name) <
                                               std::tie(*key.first, *key.second);
                                      });
  if (found == set.end() || (*found)->metadata.namespace_ != ns || (*found)->metadata.name != name) {
    return nullptr;
  }
  return &*found;
}

void diffSets(const core::PolicyList& before, const core::PolicyList& after, std::set<std::string>& out,
              std::size_t limit) {
  std::size_t i = 0;
  std::size_t j = 0;
  while ((i < before.size() || j < after.size()) && out.size() <= limit) {
    if (i < before.size() && j < after.size() && before[i] == after[j]) {
      ++i;
      ++j;
      continue;
    }
    if (j == after.size()) {
      out.insert(before[i++]->key());
      continue;
    }
    if (i == before.size()) {
      out.insert(after[j++]->key());
      continue;
    }
    const core::Policy& a = *before[i];
    const core::Policy& b = *after[j];
    const auto keyA = std::tie(a.metadata.namespace_, a.metadata.name);
    const auto keyB = std::tie(b.metadata.namespace_, b.metadata.name);
    if (keyA < keyB) {
      out.insert(a.key());
      ++i;
    } else if (keyB < keyA) {
      out.insert(b.key());
      ++j;
    } else {
      if (!core::sameButResourceVersion(a, b)) {
        out.insert(a.key());
      }
      ++i;
      ++j;
    }
  }
}

void diffInvalid(const std::vector<InvalidPolicy>& before, const std::vector<InvalidPolicy>& after,
                 std::set<std::string>& out) {
  if (before.empty() && after.empty()) {
    return;
  }
  std::map<std::string, const std::string*> was;
  for (const InvalidPolicy& refused : before) {
    was.emplace(refused.ns + "/" + refused.name, &refused.message);
  }
  for (const InvalidPolicy& refused : after) {
    std::string key = refused.ns + "/" + refused.name;
    const auto found = was.find(key);
    if (found == was.end() || *found->second != refused.message) {
      out.insert(std::move(key));
    }
    if (found != was.end()) {
      was.erase(found);
    }
  }
  for (const auto& [key, message] : was) {
    out.insert(key);
  }
}

}  // namespace kubeai::server::detail
