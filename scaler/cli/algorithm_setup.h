#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm_registry.h"
#include "core/result.h"
#include "plugin/plugin_loader.h"

namespace kubeai::cli {

// The built-ins plus every plugin in the directory, with what happened to each.
struct AlgorithmSetup {
  std::unique_ptr<core::AlgorithmRegistry> registry;
  std::vector<plugin::PluginLoadReport> plugins;

  [[nodiscard]] bool anyPluginFailed() const;
};

// Fails only when the plugin directory itself cannot be read.
core::Result<AlgorithmSetup> setUpAlgorithms(const std::optional<std::filesystem::path>& pluginDir);

// `spec.algorithm.name: unknown algorithm "X" (available: ...); MaxRatio will
// be used`: what validate and simulate say of a policy whose algorithm is
// neither built in nor loaded, as serve will run it.
std::string unknownAlgorithmWarning(const core::AlgorithmRegistry& registry, std::string_view name);

}  // namespace kubeai::cli
