#pragma once

#include <filesystem>
#include <sys/types.h>

namespace kubeai::plugin::host {

// What the server hands a plugin-host process on its command line
// (`kubeai-scaler plugin-host ...`, hidden).
struct HostProcessArgs {
  int socketFd = 3;  // this end of the socketpair
  int imageFd = 4;   // the plugin's sealed memfd (PluginImage)
  pid_t parentPid = 0;
  std::filesystem::path file;  // the plugin as the server names it, for messages
};

// The plugin-host process: confines itself (dies with the server, no new
// privileges, no capabilities, no descriptors but its two), loads the plugin
// from the memfd, says Hello (or LoadFailed), then answers requests one at a
// time until the server closes the socket or asks it to shut down. Returns
// the process's exit code: 0 when told to stop, 2 for a broken protocol, 3
// when the plugin did not load. A plugin that crashes takes only this process.
int runPluginHost(const HostProcessArgs& args);

}  // namespace kubeai::plugin::host
