#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/algorithm_registry.h"
#include "plugin/plugin_loader.h"

namespace kubeai::plugin {

// Keeps a registry in step with a plugin directory while the server runs:
// new and replaced .so files are loaded, removed ones unregistered, without a
// restart. Calls already running finish on the version they started with (the
// registry hands out shared_ptrs; the old library is unloaded when the last
// one goes).
//
// glibc's dlopen returns the already-loaded library for a path it has open, so
// each version is loaded from its own uniquely named copy in `scratchDir`
// (unlinked right after loading: the mapping stays). A plugin that fails to
// load is reported; the others, and the previous version of that one, keep
// working. Not thread-safe: one reload() at a time (the watcher's thread).
class PluginReloader {
 public:
  PluginReloader(core::AlgorithmRegistry& registry, std::filesystem::path directory,
                 std::filesystem::path scratchDir);

  // Loads what changed since the last call (by size, modification time and
  // inode) and returns a report for every .so now in the directory (`file`
  // is the file in the directory). Fails only when the directory cannot be read.
  core::Result<std::vector<PluginLoadReport>> reload();

 private:
  struct Loaded {
    std::uintmax_t size = 0;
    std::filesystem::file_time_type modified;
    std::uint64_t inode = 0;
    std::string algorithm;  // registered name; empty when the file failed
    std::string error;
    std::shared_ptr<const core::ScalingAlgorithm> instance;
  };

  core::AlgorithmRegistry& registry_;
  std::filesystem::path directory_;
  std::filesystem::path scratchDir_;
  std::uint64_t copies_ = 0;
  std::map<std::filesystem::path, Loaded> files_;  // by file name
};

}  // namespace kubeai::plugin
