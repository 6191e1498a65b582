#include "cli/serve_plugins.h"

#include <filesystem>
#include <string>
#include <system_error>
#include <utility>

#include "cli/logging.h"
#include "plugin/plugin_loader.h"
#include "plugin_host/isolated_plugin_algorithm.h"
#include "plugin_host/plugin_host.h"

namespace kubeai::cli {
namespace {

LogLevel levelOf(std::int32_t level) {
  switch (level) {
    case 0: return LogLevel::kDebug;
    case 2: return LogLevel::kWarn;
    case 3: return LogLevel::kError;
    default: return LogLevel::kInfo;
  }
}

void logPluginLine(const plugin::PluginLogLine& line) {
  logEvent(levelOf(line.level), "plugin log",
           {{"plugin", std::string(line.plugin)},
            {"file", std::filesystem::path(line.file).filename().string()},
            {"policy", std::string(line.policyNamespace) + "/" + std::string(line.policyName)},
            {"line", std::string(line.message)}});
}

}  // namespace

core::Result<plugin::PluginReloader::ImageLoader> makePluginLoader(const ServeOptions& options,
                                                                   telemetry::PluginTelemetry& pluginTelemetry) {
  if (options.pluginIsolation == "in-process") {
    logEvent(LogLevel::kWarn, "plugins run in process",
             {{"isolation", "in-process"}, {"risk", "a plugin that crashes or hangs takes the server with it"}});
    return plugin::PluginReloader::ImageLoader(
        [](plugin::PluginImage image) { return plugin::loadPluginImage(image, logPluginLine); });
  }

  // The running binary itself, even if its file was replaced or deleted
  // since: /proc/self/exe resolves to this process's inode at each spawn.
  const std::filesystem::path self = "/proc/self/exe";
  std::error_code ec;
  if (!std::filesystem::exists(self, ec)) {
    return core::Error{"--plugin-isolation=process: cannot start plugin hosts: /proc/self/exe is not readable"};
  }
  if (auto protectedMemory = plugin::host::protectServerMemory(); !protectedMemory.ok()) {
    return protectedMemory.error();
  }
  plugin::host::PluginHostSettings settings;
  settings.executable = self;
  settings.callTimeout = options.pluginTimeout;
  settings.failuresBeforeUnservable = options.pluginFailuresBeforeUnavailable;
  settings.log = logPluginLine;
  settings.onFailure = [&pluginTelemetry](const plugin::host::PluginFailure& failure) {
    pluginTelemetry.recordFailure(failure.plugin, failure.kind);
    // "down" calls are the back-off's; the failure that caused it was said.
    if (failure.kind != "down") {
      logEvent(LogLevel::kError, "plugin failed a call",
               {{"plugin", failure.plugin},
                {"file", failure.file.filename().string()},
                {"cause", failure.cause},
                {"failedInARow", std::to_string(failure.consecutive)}});
    }
  };
  settings.onRestart = [&pluginTelemetry](const std::string& plugin) {
    pluginTelemetry.recordRestart(plugin);
    logEvent(LogLevel::kInfo, "plugin host restarted", {{"plugin", plugin}});
  };
  return plugin::PluginReloader::ImageLoader([settings = std::move(settings)](plugin::PluginImage image) {
    return plugin::host::loadIsolatedPlugin(std::move(image), settings);
  });
}

}  // namespace kubeai::cli
