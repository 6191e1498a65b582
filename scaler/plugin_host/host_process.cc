#include "plugin_host/host_process.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/algorithm.h"
#include "plugin/plugin_algorithm.h"
#include "plugin/plugin_image.h"
#include "plugin/plugin_loader.h"
#include "plugin_host/host_protocol.h"
#include "plugin_host/socket_io.h"

namespace kubeai::plugin::host {
namespace {

// Exit codes the server reads as "the host itself gave up", not the plugin.
constexpr int kExitStopped = 0;
constexpr int kExitProtocol = 2;
constexpr int kExitNotLoaded = 3;

void complain(const std::string& message) {
  // stderr is the server's: one line, named, for when the socket is gone.
  std::fprintf(stderr, "kubeai-scaler plugin-host: %s\n", message.c_str());
}

// Gives up what a plugin must not have. Each step is best effort only where
// the kernel may lack it; the ones the isolation rests on must hold.
bool confine(const HostProcessArgs& args) {
  // Dies with the server; a server gone before this line was reached is
  // caught by comparing the parent.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != args.parentPid) {
    return false;
  }
  // No setuid binary or file capability can hand the plugin more than we have.
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return false;
  }
  // No capabilities (when run as root): the server makes itself non-dumpable,
  // so without CAP_SYS_PTRACE this process can neither ptrace it nor write
  // its memory through /proc/PID/mem or process_vm_writev. Raw capset: five
  // lines do not justify libcap.
  for (int cap = 0; cap <= CAP_LAST_CAP; ++cap) {
    ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // fails harmlessly without CAP_SETPCAP
  }
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (::syscall(SYS_capset, &header, data) != 0) {
    return false;
  }
  // Only the socket and the image: whatever else leaked through exec stays out
  // of the plugin's reach.
  const int keepLow = std::min(args.socketFd, args.imageFd);
  const int keepHigh = std::max(args.socketFd, args.imageFd);
  ::close_range(3, static_cast<unsigned>(keepLow) - 1, 0);
  ::close_range(static_cast<unsigned>(keepLow) + 1, static_cast<unsigned>(keepHigh) - 1, 0);
  ::close_range(static_cast<unsigned>(keepHigh) + 1, ~0u, 0);
  // Nothing the plugin starts (system(), popen()) inherits the socket: a
  // child holding it would turn the host's crash into a silent hang.
  ::fcntl(args.socketFd, F_SETFD, FD_CLOEXEC);
  ::fcntl(args.imageFd, F_SETFD, FD_CLOEXEC);
  return true;
}


class Host {
 public:
  // `request` is where the id of the request being served is kept, for the
  // plugin's log lines (they go out as frames of that request).
  Host(int socket, std::shared_ptr<const core::ScalingAlgorithm> algorithm, std::uint64_t& request,
       std::chrono::microseconds spin)
      : socket_(socket), algorithm_(std::move(algorithm)), request_(request), spin_(spin) {}

  int serve() {
    FrameReader reader;
    bool answered = false;  // the last request was answered: the next one may be close behind
    for (;;) {
      ReadOutcome read = readFrame(socket_, reader, std::nullopt, answered ? spin_ : std::chrono::microseconds{0});
      answered = false;
      if (read.problem == ReadProblem::kClosed) {
        return kExitStopped;  // the server went away or let this version go
      }
      if (!read.body) {
        complain("reading a request: " + read.error);
        return kExitProtocol;
      }
      auto message = decodeServerMessage(*read.body);
      if (!message.ok()) {
        complain(message.error().message);
        return kExitProtocol;
      }
      if (std::holds_alternative<ShutdownRequest>(message.value())) {
        algorithm_.reset();  // destroys every policy's state in the plugin
        return kExitStopped;
      }
      if (const auto* forget = std::get_if<ForgetRequest>(&message.value())) {
        algorithm_->forgetPolicy(forget->policyNamespace, forget->policyName);
        continue;
      }
      std::string reply = std::holds_alternative<ComputeRequest>(message.value())
                              ? compute(std::get<ComputeRequest>(message.value()))
                              : validate(std::get<ValidateRequest>(message.value()));
      if (!writeAll(socket_, reply).ok()) {
        return kExitStopped;
      }
      answered = true;
    }
  }

 private:
  std::string compute(const ComputeRequest& request) {
    request_ = request.id;
    core::AlgorithmParameters parameters(request.parameters.begin(), request.parameters.end());
    std::vector<core::MetricRatio> ratios;
    std::vector<core::MetricDetail> metrics;
    ratios.reserve(request.metrics.size());
    metrics.reserve(request.metrics.size());
    for (const WireMetric& metric : request.metrics) {
      const auto slot = static_cast<core::MetricSlot>(metric.slot);
      ratios.push_back(core::MetricRatio{slot, metric.ratio});
      metrics.push_back(core::MetricDetail{slot, metric.name, metric.value, metric.unit, metric.target,
                                           metric.targetType, metric.ratio});
    }
    const core::AlgorithmInput input{
        .currentReplicas = request.currentReplicas,
        .minReplicas = request.minReplicas,
        .maxReplicas = request.maxReplicas,
        .ratios = ratios,
        .tolerance = request.tolerance,
        .weights = request.weights,
        .policyName = request.policyName,
        .policyNamespace = request.policyNamespace,
        .parameters = &parameters,
        .metrics = metrics,
        .now = core::TimePoint(std::chrono::milliseconds(request.nowUnixMs)),
        .reason = static_cast<core::CallReason>(request.reason),
        .cycle = request.cycle,
    };
    auto output = algorithm_->compute(input);
    ComputeReply reply;
    reply.id = request.id;
    reply.ok = output.ok();
    if (output.ok()) {
      reply.desiredReplicas = output.value().desiredReplicas;
      reply.held = output.value().held;
      reply.ratio = output.value().ratio;
      reply.reason = std::move(output.value().reason);
    } else {
      reply.error = output.error().message;
    }
    return encodeFrame(HostMessage{std::move(reply)});
  }

  std::string validate(const ValidateRequest& request) {
    request_ = request.id;
    core::AlgorithmParameters parameters(request.parameters.begin(), request.parameters.end());
    const core::Status verdict = algorithm_->validateParameters(core::ValidateInput{
        .policyName = request.policyName,
        .policyNamespace = request.policyNamespace,
        .parameters = &parameters,
        .weights = request.weights,
    });
    return encodeFrame(HostMessage{ValidateReply{request.id, verdict.ok(), verdict.ok() ? "" : verdict.error().message}});
  }

  int socket_;
  std::shared_ptr<const core::ScalingAlgorithm> algorithm_;
  std::uint64_t& request_;
  std::chrono::microseconds spin_;
};

std::chrono::microseconds requestSpin() {
  const char* text = std::getenv(kRequestSpinVariable);
  if (text == nullptr || *text == '\0') {
    return kDefaultRequestSpin;
  }
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text, &end, 10);
  if (errno != 0 || *end != '\0' || value < 0 || value > kMaxRequestSpin.count()) {
    return kDefaultRequestSpin;
  }
  return std::chrono::microseconds{value};
}

}  // namespace

int runPluginHost(const HostProcessArgs& args) {
  if (!confine(args)) {
    complain("cannot confine the plugin host for " + args.file.string() + ": " + std::strerror(errno));
    return kExitProtocol;
  }
  PluginImage image(args.imageFd, 0, args.file);
  std::uint64_t request = 0;
  const int socket = args.socketFd;
  auto loaded = loadPluginImage(image, [&request, socket](const PluginLogLine& line) {
    (void)writeAll(socket, encodeFrame(HostMessage{LogRecord{request, line.level, std::string(line.message)}}));
  });
  if (!loaded.ok()) {
    (void)writeAll(args.socketFd, encodeFrame(HostMessage{LoadFailed{loaded.error().message}}));
    return kExitNotLoaded;
  }
  std::shared_ptr<const core::ScalingAlgorithm> algorithm = std::move(loaded).value();
  const auto* plugin = dynamic_cast<const PluginAlgorithm*>(algorithm.get());
  Hello hello;
  hello.algorithm = std::string(algorithm->name());
  hello.abiVersion = plugin != nullptr ? plugin->abiVersion() : 0;
  hello.validates = plugin != nullptr && plugin->validates();
  if (!writeAll(args.socketFd, encodeFrame(HostMessage{hello})).ok()) {
    return kExitStopped;
  }
  Host host(args.socketFd, std::move(algorithm), request, requestSpin());
  return host.serve();
}

}  // namespace kubeai::plugin::host
