#include "cli/algorithm_setup.h"

#include <algorithm>

namespace kubeai::cli {

bool AlgorithmSetup::anyPluginFailed() const {
  return std::any_of(plugins.begin(), plugins.end(), [](const auto& report) { return !report.ok(); });
}

core::Result<AlgorithmSetup> setUpAlgorithms(const std::optional<std::filesystem::path>& pluginDir) {
  AlgorithmSetup setup{core::AlgorithmRegistry::withBuiltins(), {}};
  if (!pluginDir) {
    return setup;
  }
  auto reports = plugin::loadPluginDirectory(*pluginDir);
  if (!reports.ok()) {
    return reports.error();
  }
  setup.plugins = std::move(reports).value();
  plugin::registerPlugins(*setup.registry, setup.plugins);
  return setup;
}

}  // namespace kubeai::cli
