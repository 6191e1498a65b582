#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>

namespace kubeai::cli {

struct PluginsOptions {
  std::filesystem::path pluginDir;
  std::string output = "text";  // text | json
};

// Each *.so with its algorithm name or its error. JSON: an array of
// {"file","algorithm"} or {"file","error"}. Exit 1 if any plugin failed.
int runPlugins(const PluginsOptions& options, std::ostream& out, std::ostream& err);

}  // namespace kubeai::cli
