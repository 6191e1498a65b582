#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/algorithm_registry.h"
#include "plugin/plugin_image.h"
#include "plugin/plugin_loader.h"

namespace kubeai::plugin {

// Keeps a registry in step with a plugin directory while the server runs:
// new and replaced .so files are loaded, removed ones unregistered, without a
// restart. Calls already running finish on the version they started with (the
// registry hands out shared_ptrs; the old library is unloaded when the last
// one goes).
//
// Each version is loaded from its own sealed memfd copy (readPluginImage):
// nothing is written to disk, the file may be rewritten in place afterwards,
// and dlopen never hands back an older version. A plugin that fails to load
// is reported; the others, and the previous version of that one, keep
// working. A file still being written (changed while read, or its ELF cut
// off) is not a failure: its report is `waiting`, the previous version (if
// any) keeps serving, and it is read again on the next reload(). Not
// thread-safe: one reload() at a time (the watcher's thread).
class PluginReloader {
 public:
  // How one checked image becomes an algorithm: dlopen'd here (the default),
  // or run in a plugin-host process (plugin_host/isolated_plugin_algorithm.h).
  using ImageLoader = std::function<core::Result<std::shared_ptr<const core::ScalingAlgorithm>>(PluginImage image)>;

  PluginReloader(core::AlgorithmRegistry& registry, std::filesystem::path directory, ImageLoader load = {});

  // Loads what changed since the last call (by device, inode, size,
  // modification and change time, so a chmod counts), and what failed or was
  // incomplete last time, and returns a report for every .so now in the
  // directory (`file` is the file in the directory). Fails only when the
  // directory cannot be read.
  core::Result<std::vector<PluginLoadReport>> reload();

 private:
  // What stat says of a version of a file.
  struct Fingerprint {
    std::uint64_t device = 0;
    std::uint64_t inode = 0;
    std::int64_t size = 0;
    std::int64_t modifiedNs = 0;
    std::int64_t changedNs = 0;
    bool operator==(const Fingerprint&) const = default;
  };
  struct Loaded {
    Fingerprint fingerprint;
    std::string algorithm;  // registered name; empty when the file failed
    std::string error;      // empty when the current version is loaded
    bool waiting = false;
    bool retry = false;  // read again even when unchanged (incomplete, refused for a directory's mode, I/O)
    std::shared_ptr<const core::ScalingAlgorithm> instance;
  };

  core::AlgorithmRegistry& registry_;
  std::filesystem::path directory_;
  ImageLoader load_;
  std::map<std::filesystem::path, Loaded> files_;  // by file name
};

}  // namespace kubeai::plugin
