#include "plugin_host/plugin_host.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "plugin_host/socket_io.h"

extern char** environ;

namespace kubeai::plugin::host {
namespace {

using Clock = std::chrono::steady_clock;

std::string signalName(int signal) {
  const char* abbrev = ::sigabbrev_np(signal);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signal);
}

std::string describeExit(int status) {
  if (WIFSIGNALED(status)) {
    return "crashed: " + signalName(WTERMSIG(status));
  }
  if (WIFEXITED(status)) {
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  }
  return "ended (wait status " + std::to_string(status) + ")";
}

std::string kindOf(const std::string& cause) {
  return cause.rfind("crashed", 0) == 0 ? "crashed" : "exited";
}

std::string milliseconds(std::chrono::milliseconds value) { return std::to_string(value.count()) + "ms"; }

// The loader's rules for a name, applied to what a host says (its plugin's
// constructors may have written to the socket first): "" when it is fine.
std::string badName(const std::string& name) {
  constexpr std::size_t kMaxNameLength = 253;
  if (name.empty()) {
    return "an empty name";
  }
  if (name.size() > kMaxNameLength) {
    return "a name longer than " + std::to_string(kMaxNameLength) + " characters";
  }
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) > 0x7e) {
      return "a name with a space or a control character";
    }
  }
  return {};
}

// What the host's decoder would refuse, found before sending: that call
// fails alone, never the host (and the other policies' states with it).
std::string tooLarge(const std::vector<std::pair<std::string, std::string>>& parameters, std::size_t weights) {
  if (parameters.size() > kMaxListItems || weights > kMaxListItems) {
    return "more than " + std::to_string(kMaxListItems) + " parameters or weights";
  }
  for (const auto& [key, value] : parameters) {
    if (key.size() > kMaxTextBytes || value.size() > kMaxTextBytes) {
      return "parameter " + key.substr(0, 64) + ": longer than " + std::to_string(kMaxTextBytes) + " bytes";
    }
  }
  return {};
}

// The environment of the host. Under the sanitizers the host is instrumented
// too: its runtime must leave a plugin's SIGSEGV or abort() to the kernel,
// so the server sees the signal, and must not turn exit(3) into a leak report.
std::vector<std::string> hostEnvironment(std::chrono::microseconds requestSpin) {
  std::vector<std::string> env;
  const std::string spinPrefix = std::string(kRequestSpinVariable) + "=";
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::string_view(*entry).starts_with(spinPrefix)) {
      continue;  // the settings', not whatever the server was started with
    }
    env.emplace_back(*entry);
  }
  env.push_back(spinPrefix + std::to_string(std::clamp(requestSpin, std::chrono::microseconds{0}, kMaxRequestSpin).count()));
#if defined(__SANITIZE_ADDRESS__)
  // Both runtimes read the signal flags (the UBSan part parses its own
  // variable after ASan's), so both are told.
  const std::string handlers = "handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0";
  for (const auto& [variable, extra] : {std::pair<std::string_view, std::string>{"ASAN_OPTIONS=", handlers + ":detect_leaks=0"},
                                        std::pair<std::string_view, std::string>{"UBSAN_OPTIONS=", handlers}}) {
    std::string options = extra;
    for (auto it = env.begin(); it != env.end(); ++it) {
      if (it->rfind(variable, 0) == 0) {
        options = it->substr(variable.size()) + ":" + options;
        env.erase(it);
        break;
      }
    }
    env.push_back(std::string(variable) + options);
  }
#endif
  return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (std::string& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

std::vector<std::pair<std::string, std::string>> wireParameters(const core::AlgorithmParameters* parameters) {
  std::vector<std::pair<std::string, std::string>> out;
  if (parameters != nullptr) {
    out.assign(parameters->begin(), parameters->end());
  }
  return out;
}

}  // namespace

core::Status protectServerMemory() {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return core::Error{std::string("cannot protect the server's memory from plugin hosts: prctl(PR_SET_DUMPABLE): ") +
                       std::strerror(errno)};
  }
  return core::Ok{};
}

PluginHost::PluginHost(PluginImage image, PluginHostSettings settings)
    : image_(std::move(image)), settings_(std::move(settings)), backoff_(settings_.firstBackoff) {}

core::Result<std::shared_ptr<PluginHost>> PluginHost::start(PluginImage image, PluginHostSettings settings) {
  auto host = std::make_shared<PluginHost>(std::move(image), std::move(settings));
  PluginFailure failure;
  auto hello = host->spawn(host->process_, &failure);
  if (!hello.ok()) {
    return hello.error();
  }
  host->algorithm_ = hello.value().algorithm;
  host->abiVersion_ = hello.value().abiVersion;
  host->validates_ = hello.value().validates;
  host->pid_ = host->process_.pid;
  host->startedAt_ = Clock::now();
  return host;
}

PluginHost::~PluginHost() {
  const std::lock_guard lock(callMutex_);
  if (process_.pid <= 0) {
    return;
  }
  // Let the plugin free its states; a host that does not go within a second is killed.
  if (writeAll(process_.socket, encodeFrame(ServerMessage{ShutdownRequest{}})).ok()) {
    FrameReader drain;
    (void)readFrame(process_.socket, drain, Clock::now() + std::chrono::seconds(1));
  }
  (void)reap(process_, true);
}

core::Result<Hello> PluginHost::spawn(Process& process, PluginFailure* failure) {
  const std::string file = image_.file().string();
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return core::Error{"cannot start the plugin host for " + file + ": socketpair: " + std::strerror(errno)};
  }
  // Above the two numbers the child gets, so dup2 always makes a copy (and
  // clears close-on-exec on it).
  const int childSocket = ::fcntl(fds[1], F_DUPFD_CLOEXEC, 10);
  const int childImage = ::fcntl(image_.fd(), F_DUPFD_CLOEXEC, 10);
  ::close(fds[1]);

  std::vector<std::string> args = {settings_.executable.string(),
                                    "plugin-host",
                                    "--socket-fd=3",
                                    "--image-fd=4",
                                    "--parent-pid=" + std::to_string(::getpid()),
                                    "--file=" + file};
  std::vector<std::string> env = hostEnvironment(settings_.requestSpin);
  std::vector<char*> argv = pointers(args);
  std::vector<char*> envp = pointers(env);

  // Its own process group (killed as one with whatever the plugin started),
  // default signal dispositions and nothing blocked (serve blocks SIGTERM).
  posix_spawnattr_t attributes;
  ::posix_spawnattr_init(&attributes);
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  ::posix_spawnattr_setpgroup(&attributes, 0);
  ::posix_spawnattr_setsigmask(&attributes, &none);
  ::posix_spawnattr_setsigdefault(&attributes, &all);
  ::posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  ::posix_spawn_file_actions_adddup2(&actions, childSocket, 3);
  ::posix_spawn_file_actions_adddup2(&actions, childImage, 4);
  pid_t pid = -1;
  const int spawned = childSocket < 0 || childImage < 0
                          ? EBADF
                          : ::posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), envp.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::posix_spawnattr_destroy(&attributes);
  if (childSocket >= 0) {
    ::close(childSocket);
  }
  if (childImage >= 0) {
    ::close(childImage);
  }
  if (spawned != 0) {
    ::close(fds[0]);
    return core::Error{"cannot start the plugin host for " + file + ": " + settings_.executable.string() + ": " +
                       std::strerror(spawned)};
  }
  process.pid = pid;
  process.socket = fds[0];
  process.reader = FrameReader{};
  // A host that stops reading (stuck in destroy_state, say) must not block
  // the evaluation loop on a full socket: a write past this fails instead.
  const timeval sendTimeout{static_cast<time_t>(settings_.callTimeout.count() / 1000),
                            static_cast<suseconds_t>((settings_.callTimeout.count() % 1000) * 1000)};
  ::setsockopt(process.socket, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);

  ReadOutcome read = readFrame(process.socket, process.reader, Clock::now() + settings_.startTimeout);
  std::string cause;
  if (read.body) {
    auto message = decodeHostMessage(*read.body);
    if (!message.ok()) {
      cause = "protocol violation while loading: " + message.error().message;
    } else if (const auto* refused = std::get_if<LoadFailed>(&message.value())) {
      (void)reap(process, false);
      return core::Error{refused->error};
    } else if (const auto* hello = std::get_if<Hello>(&message.value())) {
      if (hello->protocolVersion != kProtocolVersion) {
        cause = "speaks plugin-host protocol " + std::to_string(hello->protocolVersion) + ", the server " +
                std::to_string(kProtocolVersion);
      } else if (const std::string bad = badName(hello->algorithm); !bad.empty()) {
        cause = "named itself badly: " + bad;
      } else if (!algorithm_.empty() && hello->algorithm != algorithm_) {
        cause = "came back as \"" + hello->algorithm + "\" instead of \"" + algorithm_ + "\"";
      } else {
        return *hello;
      }
    } else {
      cause = "protocol violation while loading: a message other than Hello";
    }
    (void)reap(process, true);
  } else if (read.problem == ReadProblem::kTimeout) {
    (void)reap(process, true);
    cause = "did not load within " + milliseconds(settings_.startTimeout) + " (killed)";
  } else if (read.problem == ReadProblem::kClosed) {
    cause = reap(process, false) + " while loading";
  } else {
    (void)reap(process, true);
    cause = "protocol violation while loading: " + read.error;
  }
  if (failure != nullptr) {
    failure->cause = cause;
    failure->kind = cause.rfind("crashed", 0) == 0 ? "crashed" : "protocol";
  }
  return core::Error{"plugin " + file + " " + cause, "PluginCrashed"};
}

std::string PluginHost::reap(Process& process, bool kill) {
  if (process.socket >= 0) {
    ::close(process.socket);
    process.socket = -1;
  }
  if (process.pid <= 0) {
    return "ended";
  }
  int status = 0;
  pid_t done = 0;
  if (!kill) {
    // The socket closed because the process is dying: give it a moment to
    // finish, so the signal that ended it is what we report.
    const auto until = Clock::now() + std::chrono::milliseconds(500);
    while ((done = ::waitpid(process.pid, &status, WNOHANG)) == 0 && Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  std::string how;
  if (done == process.pid) {
    how = describeExit(status);
    ::kill(-process.pid, SIGKILL);  // what its plugin may have left behind
  } else {
    ::kill(-process.pid, SIGKILL);  // the group: the host and anything its plugin started
    ::kill(process.pid, SIGKILL);
    while ((done = ::waitpid(process.pid, &status, 0)) < 0 && errno == EINTR) {
    }
    how = kill ? "killed" : "closed its connection (killed)";
  }
  process.pid = -1;
  return how;
}

core::Error PluginHost::label(const std::string& cause) const {
  return core::Error{"plugin " + algorithm_ + " (" + image_.file().filename().string() + ") " + cause,
                     "PluginCrashed"};
}

core::Error PluginHost::failed(PluginFailure failure) {
  failure.plugin = algorithm_;
  failure.file = image_.file();
  {
    const std::lock_guard lock(stateMutex_);
    // Only the host's own failures count: the calls refused at once while it
    // backs off would otherwise reach the limit within one cycle of one crash.
    if (failure.restartsHost) {
      ++consecutiveFailures_;
      lastCause_ = failure.cause;
      restartAt_ = Clock::now() + backoff_;
      backoff_ = std::min(backoff_ * 2, settings_.maxBackoff);
      pid_ = -1;
    }
    failure.consecutive = consecutiveFailures_;
  }
  if (settings_.onFailure) {
    settings_.onFailure(failure);
  }
  return label(failure.cause);
}

void PluginHost::succeeded() {
  const std::lock_guard lock(stateMutex_);
  consecutiveFailures_ = 0;
  // As the kubelet does: the back-off starts over only once a host has run a
  // while, so a plugin that crashes on some policies is not restarted every cycle.
  if (Clock::now() - startedAt_ >= kBackoffResetAfter) {
    backoff_ = settings_.firstBackoff;
  }
}

core::Result<HostMessage> PluginHost::exchange(std::uint64_t id, const std::string& frame, PluginFailure& failure,
                                               std::string_view ns, std::string_view name) {
  if (process_.pid <= 0) {
    Clock::time_point restartAt;
    std::string lastCause;
    {
      const std::lock_guard lock(stateMutex_);
      restartAt = restartAt_;
      lastCause = lastCause_;
    }
    const auto now = Clock::now();
    if (now < restartAt) {
      // No countdown in the text: it is logged and written to status once
      // per change, and a changing message would be said every cycle.
      failure.kind = "down";
      failure.cause = "is not running (" + lastCause + "); restarting after a back-off";
      return core::Error{failure.cause};
    }
    auto hello = spawn(process_, &failure);
    if (!hello.ok()) {
      failure.restartsHost = true;
      if (failure.cause.empty()) {
        failure.kind = "exited";
        failure.cause = "did not restart: " + hello.error().message;
      }
      return hello.error();
    }
    {
      const std::lock_guard lock(stateMutex_);
      ++restarts_;
      pid_ = process_.pid;
      startedAt_ = Clock::now();
    }
    if (settings_.onRestart) {
      settings_.onRestart(algorithm_);
    }
  }

  if (!writeAll(process_.socket, frame).ok()) {
    failure.cause = reap(process_, false);
    failure.kind = kindOf(failure.cause);
    failure.restartsHost = true;
    return core::Error{failure.cause};
  }
  const auto deadline = Clock::now() + settings_.callTimeout;
  int logLines = 0;
  bool first = true;  // spins for the first frame only: past a log line the plugin is busy
  for (;;) {
    ReadOutcome read =
        readFrame(process_.socket, process_.reader, deadline, first ? settings_.replySpin : std::chrono::microseconds{0});
    first = false;
    if (!read.body) {
      failure.restartsHost = true;
      if (read.problem == ReadProblem::kTimeout) {
        (void)reap(process_, true);
        failure.kind = "timeout";
        failure.cause = "timed out after " + milliseconds(settings_.callTimeout) + " (killed)";
      } else if (read.problem == ReadProblem::kClosed) {
        failure.cause = reap(process_, false);
        failure.kind = kindOf(failure.cause);
      } else {
        (void)reap(process_, true);
        failure.kind = "protocol";
        failure.cause = "broke the plugin-host protocol: " + read.error + " (killed)";
      }
      return core::Error{failure.cause};
    }
    auto message = decodeHostMessage(*read.body);
    std::string violation;
    if (!message.ok()) {
      violation = message.error().message;
    } else if (const auto* log = std::get_if<LogRecord>(&message.value())) {
      if (log->id == id) {
        // The host keeps to the per-call limit; a host that does not is not
        // let flood serve's log (the line saying so comes from the host).
        if (settings_.log && ++logLines <= kMaxLogLinesPerCall + 1) {
          settings_.log(PluginLogLine{log->level, algorithm_, image_.file().native(), ns, name, log->message});
        }
        continue;
      }
      violation = "a log line for request " + std::to_string(log->id) + " while serving " + std::to_string(id);
    } else {
      const auto* reply = std::get_if<ComputeReply>(&message.value());
      const auto* validated = std::get_if<ValidateReply>(&message.value());
      const std::uint64_t answered = reply != nullptr ? reply->id : validated != nullptr ? validated->id : 0;
      if ((reply != nullptr || validated != nullptr) && answered == id) {
        return std::move(message).value();
      }
      violation = "an unexpected message (answer to " + std::to_string(answered) + " while serving " +
                  std::to_string(id) + ")";
    }
    (void)reap(process_, true);
    failure.kind = "protocol";
    failure.cause = "broke the plugin-host protocol: " + violation + " (killed)";
    failure.restartsHost = true;
    return core::Error{failure.cause};
  }
}

template <typename Request>
core::Result<HostMessage> PluginHost::call(Request& request, PluginFailure& failure, std::string_view ns,
                                           std::string_view name) {
  const std::lock_guard lock(callMutex_);
  request.id = ++nextId_;
  return exchange(request.id, encodeFrame(ServerMessage{request}), failure, ns, name);
}

core::Result<core::AlgorithmOutput> PluginHost::compute(const core::AlgorithmInput& input) {
  ComputeRequest request;
  request.currentReplicas = input.currentReplicas;
  request.minReplicas = input.minReplicas;
  request.maxReplicas = input.maxReplicas;
  request.tolerance = input.tolerance;
  request.policyNamespace = std::string(input.policyNamespace);
  request.policyName = std::string(input.policyName);
  request.parameters = wireParameters(input.parameters);
  request.weights.assign(input.weights.begin(), input.weights.end());
  for (const core::MetricDetail& detail : input.metrics) {
    request.metrics.push_back(WireMetric{static_cast<std::int32_t>(detail.slot), std::string(detail.name),
                                         detail.value, std::string(detail.unit), detail.target,
                                         std::string(detail.targetType), detail.ratio});
  }
  if (request.metrics.empty()) {
    // A caller without details (tests, older drivers): the ratios alone.
    for (const core::MetricRatio& ratio : input.ratios) {
      request.metrics.push_back(WireMetric{static_cast<std::int32_t>(ratio.slot),
                                           std::string(core::metricSlotName(ratio.slot)), 0.0, "", 0.0, "",
                                           ratio.ratio});
    }
  }
  request.nowUnixMs =
      std::chrono::duration_cast<std::chrono::milliseconds>(input.now.time_since_epoch()).count();
  request.reason = static_cast<std::int32_t>(input.reason);
  request.cycle = input.cycle;

  if (const std::string large = tooLarge(request.parameters, request.weights.size()); !large.empty()) {
    return core::Error{"the policy is too large for the plugin host: " + large};
  }
  PluginFailure failure;
  const core::Result<HostMessage> answer = call(request, failure, input.policyNamespace, input.policyName);
  if (!answer.ok()) {
    return failed(std::move(failure));
  }
  const auto& reply = std::get<ComputeReply>(answer.value());
  succeeded();
  if (!reply.ok) {
    return core::Error{reply.error};  // the plugin's own error: no crash
  }
  core::AlgorithmOutput output;
  output.desiredReplicas = reply.desiredReplicas;
  output.held = reply.held;
  output.ratio = reply.ratio;
  output.reason = reply.reason;
  return output;
}

core::Status PluginHost::validate(const core::ValidateInput& input) {
  if (!validates_) {
    return core::Ok{};
  }
  ValidateRequest request;
  request.policyNamespace = std::string(input.policyNamespace);
  request.policyName = std::string(input.policyName);
  request.parameters = wireParameters(input.parameters);
  request.weights.assign(input.weights.begin(), input.weights.end());
  if (const std::string large = tooLarge(request.parameters, request.weights.size()); !large.empty()) {
    return core::Error{"the policy is too large for the plugin host: " + large};
  }
  PluginFailure failure;
  const core::Result<HostMessage> answer = call(request, failure, input.policyNamespace, input.policyName);
  if (!answer.ok()) {
    // Not the plugin's verdict: its reason tells the caller to ask again later.
    return failed(std::move(failure));
  }
  const auto& reply = std::get<ValidateReply>(answer.value());
  succeeded();
  if (!reply.ok) {
    return core::Error{reply.error};
  }
  return core::Ok{};
}

void PluginHost::forget(std::string_view ns, std::string_view name) {
  const std::lock_guard lock(callMutex_);
  if (process_.pid > 0) {
    // No answer; a dead host is found out by the next call.
    (void)writeAll(process_.socket, encodeFrame(ServerMessage{ForgetRequest{std::string(ns), std::string(name)}}));
  }
}

std::optional<std::string> PluginHost::unservableReason() const {
  const std::lock_guard lock(stateMutex_);
  if (consecutiveFailures_ < settings_.failuresBeforeUnservable) {
    return std::nullopt;
  }
  // The limit, not the count: the message stays the same while it lasts.
  return label("failed " + std::to_string(settings_.failuresBeforeUnservable) + " or more calls in a row (last: " +
               lastCause_ + ")")
      .message;
}

std::uint64_t PluginHost::restarts() const {
  const std::lock_guard lock(stateMutex_);
  return restarts_;
}

pid_t PluginHost::pid() const {
  const std::lock_guard lock(stateMutex_);
  return pid_;
}

}  // namespace kubeai::plugin::host
