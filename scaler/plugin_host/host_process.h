#pragma once

#include <chrono>
#include <filesystem>
#include <sys/types.h>

namespace kubeai::plugin::host {

// How long the host, having answered, polls for the next request (yielding
// the CPU between polls) before it blocks (PluginHostSettings::requestSpin).
// The calls of one cycle come one after another, so the next one is usually
// there within a few microseconds; found asleep, the host costs the call a
// wake-up, on a VM with a halted vCPU an interrupt through the hypervisor.
// 50 us covers a round trip's p99 (about 20 us on the 2-vCPU KVM machine);
// idle, the host stops spinning 50 us after the cycle's last call.
// Figures: bench/plugin_host/README.md.
inline constexpr std::chrono::microseconds kDefaultRequestSpin{50};
// How the server tells the host its spin (the command line is main.cc's):
// whole microseconds, 0 to kMaxRequestSpin; anything else is the default.
inline constexpr const char* kRequestSpinVariable = "KUBEAI_PLUGIN_HOST_SPIN_US";
inline constexpr std::chrono::microseconds kMaxRequestSpin{10'000};

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
