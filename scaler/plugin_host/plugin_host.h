#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/algorithm.h"
#include "core/result.h"
#include "plugin/plugin_image.h"
#include "plugin/plugin_log.h"
#include "plugin_host/host_process.h"
#include "plugin_host/host_protocol.h"

namespace kubeai::plugin::host {

// Makes this process (the server) non-dumpable, so that a plugin host, which
// runs as the same user without capabilities, can neither ptrace it nor write
// its memory (/proc/PID/mem, process_vm_writev). Call once before starting
// hosts. Also turns off core dumps of the server.
core::Status protectServerMemory();

// One failed call (or start) of a plugin host, for metrics and logs.
struct PluginFailure {
  std::string plugin;
  std::filesystem::path file;
  // "crashed" (a signal), "exited", "timeout", "protocol", "down" (backing off).
  std::string kind;
  std::string cause;         // "crashed: SIGSEGV", "timed out after 1000ms", ...
  int consecutive = 0;       // failed calls in a row, this one included
  bool restartsHost = false; // the process died or was killed (not "down")
};

// How long the server, having sent a request, polls for the answer (yielding
// the CPU between polls) before it blocks with the call's deadline
// (PluginHostSettings::replySpin): 50 us is above a round trip's p99 (about
// 20 us on the 2-vCPU KVM machine), so nearly every answer is read without a
// wake-up; a slower plugin costs at most 50 us of polling per call.
// Figures: bench/plugin_host/README.md.
inline constexpr std::chrono::microseconds kDefaultReplySpin{50};

struct PluginHostSettings {
  // The binary run as `EXECUTABLE plugin-host ...`: kubeai-scaler itself.
  std::filesystem::path executable;
  std::chrono::milliseconds callTimeout{1000};  // --plugin-timeout
  // Loading runs the plugin's constructors, which may take longer than a call.
  std::chrono::milliseconds startTimeout{10'000};
  int failuresBeforeUnservable = 3;
  // Restarts back off from the first value, doubling to the second, and start
  // over after a call succeeds on a host that has run for a minute
  // (kBackoffResetAfter), as the kubelet's crash-loop back-off does.
  std::chrono::milliseconds firstBackoff{250};
  std::chrono::milliseconds maxBackoff{60'000};
  // Spins before blocking, traded CPU for latency (bench/plugin_host/README.md):
  // the server's for an answer, within the call's deadline, and the host's for
  // the next request after an answer (at most kMaxRequestSpin). 0 blocks at once.
  std::chrono::microseconds replySpin = kDefaultReplySpin;
  std::chrono::microseconds requestSpin = kDefaultRequestSpin;
  PluginLogSink log;
  std::function<void(const PluginFailure&)> onFailure;  // on the calling thread, after the lock is released
  std::function<void(const std::string& plugin)> onRestart;
};

// One plugin file's version, run in its own process (the plugin host). Calls
// are sent one at a time over a socketpair, each with a deadline. A crash, a
// hang, an exit or a protocol violation fails that call only: the process is
// killed (if alive) and reaped, and the next call after the back-off starts a
// new one. While backing off, calls fail at once. After
// failuresBeforeUnservable failed calls in a row, unservableReason() says why,
// so the policies of this plugin answer UNAVAILABLE. Only the host's own
// failures count (a crash, a hang, an exit, a violation, a failed restart),
// not the calls refused during the back-off. validate() answers an Error with
// reason "PluginCrashed" when the host, not the plugin, failed. Thread-safe.
class PluginHost {
 public:
  // Starts the first process and waits for its Hello: the plugin's name and
  // ABI come from there. Load errors keep the loader's wording.
  static core::Result<std::shared_ptr<PluginHost>> start(PluginImage image, PluginHostSettings settings);

  // Asks the process to destroy its states and exit; kills it if it does not.
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  [[nodiscard]] const std::string& algorithm() const noexcept { return algorithm_; }
  [[nodiscard]] std::uint32_t abiVersion() const noexcept { return abiVersion_; }
  [[nodiscard]] const std::filesystem::path& file() const noexcept { return image_.file(); }

  core::Result<core::AlgorithmOutput> compute(const core::AlgorithmInput& input);
  core::Status validate(const core::ValidateInput& input);
  void forget(std::string_view ns, std::string_view name);
  [[nodiscard]] std::optional<std::string> unservableReason() const;

  // Processes started after the first; the pid of the running one (or -1).
  [[nodiscard]] std::uint64_t restarts() const;
  [[nodiscard]] pid_t pid() const;

  // Use start().
  PluginHost(PluginImage image, PluginHostSettings settings);

 private:
  struct Process {
    pid_t pid = -1;
    int socket = -1;
    FrameReader reader;
  };
  using Clock = std::chrono::steady_clock;

  // Spawns a process and reads its Hello; on failure the process is reaped.
  core::Result<Hello> spawn(Process& process, PluginFailure* failure);
  // Ends a process that failed: kills it unless it died by itself, reaps it,
  // and says how it ended ("crashed: SIGSEGV", "exited with code 3").
  std::string reap(Process& process, bool kill);
  // One request and its answer on the running process (callMutex_ held).
  // `ns` and `name` are the policy the request is for, for the plugin's log lines.
  core::Result<HostMessage> exchange(std::uint64_t id, const std::string& frame, PluginFailure& failure,
                                     std::string_view ns, std::string_view name);
  // Numbers the request and exchanges it under the call lock.
  template <typename Request>
  core::Result<HostMessage> call(Request& request, PluginFailure& failure, std::string_view ns, std::string_view name);
  core::Error failed(PluginFailure failure);  // records a failure, returns the call's error
  core::Error label(const std::string& cause) const;  // "plugin NAME (FILE) <cause>"
  void succeeded();

  PluginImage image_;
  PluginHostSettings settings_;
  std::string algorithm_;
  std::uint32_t abiVersion_ = 0;
  bool validates_ = false;

  std::mutex callMutex_;  // one call on the socket at a time
  Process process_;
  std::uint64_t nextId_ = 0;

  mutable std::mutex stateMutex_;  // guards the failure state below
  int consecutiveFailures_ = 0;
  std::string lastCause_;
  Clock::time_point restartAt_{};
  std::chrono::milliseconds backoff_{0};
  std::uint64_t restarts_ = 0;
  pid_t pid_ = -1;
  Clock::time_point startedAt_{};  // of the running (or last) process

  static constexpr std::chrono::seconds kBackoffResetAfter{60};
};

}  // namespace kubeai::plugin::host
