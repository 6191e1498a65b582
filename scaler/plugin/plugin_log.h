#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

namespace kubeai::plugin {

// One line a plugin logged through the ABI 1.1 host logger, with what the
// server adds: which plugin, from which file, during which policy's call.
struct PluginLogLine {
  std::int32_t level = 1;  // kubeai_log_level: 0 debug, 1 info, 2 warn, 3 error
  std::string_view plugin;
  std::string_view file;
  std::string_view policyNamespace;
  std::string_view policyName;
  std::string_view message;
};

// Where those lines go: serve's structured log, or the plugin host's socket.
// Called on the thread of the compute() call; must not throw.
using PluginLogSink = std::function<void(const PluginLogLine& line)>;

// At most this many lines of at most this many bytes are kept per call; the
// rest are counted and reported in one more line, so a plugin logging in a
// loop cannot flood the log (or the host's socket).
inline constexpr int kMaxLogLinesPerCall = 16;
inline constexpr std::size_t kMaxLogLineBytes = 1024;

}  // namespace kubeai::plugin
