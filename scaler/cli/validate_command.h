#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace kubeai::cli {

struct ValidateOptions {
  std::vector<std::string> paths;  // files, or directories of *.yaml / *.yml / *.json
  std::optional<std::filesystem::path> pluginDir;  // to check algorithm names against
};

// One line per policy on `out`: "FILE: NAMESPACE/NAME: ok", or one line per
// error with its field path. Exit 0 when every policy is valid; 2, with a
// summary on `err`, when one is invalid, a file cannot be read, or an argument
// holds no policy at all.
int runValidate(const ValidateOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli
