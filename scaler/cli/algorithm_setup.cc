#include "cli/algorithm_setup.h"

#include <algorithm>
#include <cctype>

#include "core/policy.h"

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

std::string unknownAlgorithmWarning(const core::AlgorithmRegistry& registry, std::string_view name) {
  std::string text = "spec.algorithm.name: unknown algorithm \"";
  text += name;
  text += "\" (available: ";
  bool first = true;
  for (const std::string& known : registry.names()) {
    text += first ? "" : ", ";
    text += known;
    first = false;
  }
  text += "); ";
  text += core::kDefaultAlgorithm;
  text += " will be used";
  const auto sameLetters = [&](std::string_view known) {
    return known.size() == name.size() && std::equal(known.begin(), known.end(), name.begin(), [](char a, char b) {
             return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
           });
  };
  // Every name of the same letters: a plugin may differ from a built-in in
  // case alone.
  std::string meant;
  for (const std::string& known : registry.names()) {
    if (sameLetters(known)) {
      meant += (meant.empty() ? "\"" : " or \"") + known + "\"";
    }
  }
  if (!meant.empty()) {
    text += " (names are case-sensitive: did you mean " + meant + "?)";
  }
  return text;
}

}  // namespace kubeai::cli
