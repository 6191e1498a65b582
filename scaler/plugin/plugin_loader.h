#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "core/algorithm_registry.h"
#include "core/result.h"
#include "plugin/plugin_log.h"

namespace kubeai::plugin {

// One shared object and what became of it.
struct PluginLoadReport {
  std::filesystem::path file;
  std::shared_ptr<const core::ScalingAlgorithm> algorithm;  // null when loading failed
  std::string error;                                        // empty when loaded
  // Not loaded (yet) because the file is still being written (it changed while
  // read, or its ELF is cut off): `error` says "waiting for FILE to be
  // complete: ..."; not a failure, retried on the next change.
  bool waiting = false;

  [[nodiscard]] bool ok() const noexcept { return algorithm != nullptr; }
};

class PluginImage;

// Loads one plugin: readPluginImage(file) (owner and mode checked, a complete
// ELF, copied into a sealed memfd), then loadPluginImage(). Errors keep the
// seed's troubleshooting wording:
//   "plugin not found: FILE"
//   "plugin missing Algorithm symbol: FILE"
//   "does not implement ScalingAlgorithm: FILE: <what is wrong, e.g. ABI version 2.0, host supports 1.0>"
//   "cannot load plugin FILE: <dlerror>" (not an ELF file, missing dependency, ...)
//   "plugins not supported" (platforms without dlopen)
//   "plugin FILE is writable by others (mode 0666): refused" (and the other refusals of readPluginImage)
core::Result<std::shared_ptr<const core::ScalingAlgorithm>> loadPlugin(const std::filesystem::path& file);

// dlopens an image through its /proc/self/fd path; errors name image.file(),
// never the descriptor. The image may be destroyed afterwards: the library
// stays mapped until the algorithm (and every call on it) is gone.
// `log` receives what the plugin logs through the ABI 1.1 host logger.
core::Result<std::shared_ptr<const core::ScalingAlgorithm>> loadPluginImage(const PluginImage& image,
                                                                             PluginLogSink log = {});

// Turns a plugin's checked image into an algorithm: loadPluginImage (in
// process), or a plugin host's (plugin_host/plugin_host.h).
using PluginImageLoader =
    std::function<core::Result<std::shared_ptr<const core::ScalingAlgorithm>>(PluginImage image)>;

// Loads every regular file named *.so directly in `directory`, in file-name
// order, each read with readPluginImage and then given to `loader` (by
// default loadPluginImage, in process). One bad plugin never stops the
// others: its report carries the error. Fails as a whole only when the
// directory itself cannot be read.
core::Result<std::vector<PluginLoadReport>> loadPluginDirectory(const std::filesystem::path& directory,
                                                                const PluginImageLoader& loader = {});

// Registers each loaded algorithm. A report whose algorithm has an empty name
// or a name already registered (a built-in or an earlier plugin) becomes an
// error report ("duplicate algorithm name \"X\": already provided by ...").
void registerPlugins(core::AlgorithmRegistry& registry, std::vector<PluginLoadReport>& reports);

}  // namespace kubeai::plugin
