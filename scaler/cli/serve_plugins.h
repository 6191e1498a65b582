#pragma once

#include <memory>

#include "cli/serve_command.h"
#include "core/result.h"
#include "plugin/plugin_reloader.h"
#include "telemetry/plugin_telemetry.h"
#include "telemetry/telemetry.h"

namespace kubeai::cli {

// How serve turns a plugin file into an algorithm, by --plugin-isolation:
//  - "process": a plugin-host process per file (this binary, `plugin-host`),
//    every call within --plugin-timeout, failures counted on /metrics and
//    logged with plugin, file and cause; the server made non-dumpable first,
//    so a host cannot write its memory;
//  - "in-process": dlopen'd into serve, as before.
// Both send the plugins' own log lines to serve's log with plugin and policy
// fields. `pluginTelemetry` must outlive the loader.
core::Result<plugin::PluginReloader::ImageLoader> makePluginLoader(const ServeOptions& options,
                                                                   telemetry::PluginTelemetry& pluginTelemetry);

}  // namespace kubeai::cli
