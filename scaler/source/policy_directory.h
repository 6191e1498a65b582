#pragma once

#include <filesystem>
#include <map>
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
  std::vector<core::Policy> policies;   // valid, one per namespace/name, sorted by it
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
    std::string contents;                              // what was parsed last
    std::map<std::string, core::Policy> lastGood;      // by namespace/name, in this file
    std::vector<PolicyProblem> problems;               // from the last parse
  };

  void parse(const std::filesystem::path& file, FileState& state, const std::string& contents);

  std::filesystem::path directory_;
  std::map<std::filesystem::path, FileState> files_;
};

}  // namespace kubeai::source
