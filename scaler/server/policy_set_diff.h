#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/policy.h"
#include "server/evaluation_loop.h"

// How the evaluation loop tells what a new policy set changed.
namespace kubeai::server::detail {

// "namespace/name" as (namespace, name); neither part can hold a '/'.
std::pair<std::string, std::string> splitKey(const std::string& key);

// The shared policy ns/name of `set`, or null. O(log n).
const core::SharedPolicy* findShared(const core::PolicyList& set, const std::string& ns, const std::string& name);

// Adds to `out` the keys of the policies that differ between two sets sorted
// by namespace/name: added, removed, or changed. Equal pointers are the same
// policy (the watcher replaces the pointer of what an event changed); other
// pairs are compared by value (core::sameButResourceVersion), so that a
// source that builds every policy anew (the directory) still changes only
// what changed. Stops once `out` holds more than `limit`.
void diffSets(const core::PolicyList& before, const core::PolicyList& after, std::set<std::string>& out,
              std::size_t limit);

// The same for the refused policies (few): a key refused in one list and
// not the other, or for another reason.
void diffInvalid(const std::vector<InvalidPolicy>& before, const std::vector<InvalidPolicy>& after,
                 std::set<std::string>& out);

}  // namespace kubeai::server::detail
