#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/policy.h"
#include "core/result.h"

namespace kubeai::source {

// Something in the directory that was refused, or kept from before, and why.
struct PolicyProblem {
  std::filesystem::path file;
  std::string policy;  // "namespace/name", or empty when the file as a whole failed
  std::string message;

  [[nodiscard]] std::string toString() const;
};

struct PolicySet {
  // Valid, one per namespace/name, sorted by namespace then name; never null. Shared with the
  // directory (and then with the evaluation loop), so 10,000 policies are held
  // once, not once per holder.
  std::shared_ptr<const std::vector<core::Policy>> policies = std::make_shared<const std::vector<core::Policy>>();
  std::vector<PolicyProblem> problems;  // in file order
};

// A directory of policy manifests: every *.yaml, *.yml and *.json directly in
// it, hidden files skipped, symlinks followed (a mounted ConfigMap is symlinks
// into a hidden ..data directory).
//
// A bad edit never takes a working policy away: a file that no longer parses
// keeps serving its last good policies, and a policy that became invalid keeps
// its last good version; both are reported as problems until fixed. A file
// deleted, or a document removed from a file, removes its policies. When two
// files define the same namespace/name, the file first by name wins and the
// other is reported.
class PolicyDirectory {
 public:
  explicit PolicyDirectory(std::filesystem::path directory);

  // Reads the directory again; only files whose contents changed are parsed
  // again. Fails only when the directory itself cannot be read.
  core::Result<PolicySet> reload();

  [[nodiscard]] const std::filesystem::path& path() const noexcept { return directory_; }

 private:
  struct FileState {
    // What was parsed last, as a hash: the text itself would cost as much
    // memory as the policies.
    std::size_t contentHash = 0;
    std::size_t contentSize = 0;
    bool parsed = false;
    // This file's last good policies, sorted by namespace/name: into current_
    // when served, into `shadowed` when an earlier file defines the same name.
    // Pointers, not a map by name: 10,000 keys would cost more than the set.
    std::vector<const core::Policy*> lastGood;
    std::map<std::string, core::Policy> shadowed;
    std::vector<PolicyProblem> problems;  // from the last parse
  };

  // Parses a changed file into `good` (its policies, last good versions kept
  // for documents that became invalid) and its problems into `state`.
  static void parse(const std::filesystem::path& file, FileState& state, const std::string& contents,
                    std::map<std::string, core::Policy>& good);

  std::filesystem::path directory_;
  std::map<std::filesystem::path, FileState> files_;
  std::shared_ptr<const std::vector<core::Policy>> current_ = std::make_shared<const std::vector<core::Policy>>();
};

}  // namespace kubeai::source
