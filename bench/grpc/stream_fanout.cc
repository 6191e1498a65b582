// stream_fanout: holds --streams StreamIsActive streams open against an
// ExternalScaler, as KEDA does (one stream per ScaledObject), and measures
// what issue 3 asks of the server (bench/grpc/README.md):
//   - its threads and its RSS per stream with all the streams open;
//   - how long one policy's activation change takes from publish() to its
//     stream (--single-flips samples, one at a time);
//   - how long it takes, when every policy flips at once, until each stream
//     has its new value (--all-flips rounds).
//
// Two ways to run it:
//   --server PATH   starts bench/grpc/stream_server (the push path of serve
//                   over a DecisionStore it controls) and times the flips from
//                   the server's own publish timestamps;
//   --target ADDR --pid PID
//                   attaches to a running server, e.g. `kubeai-scaler serve`
//                   with --policies policies policy-0 ... in "default": threads
//                   and RSS come from /proc/PID; with --flip-command, each
//                   all-flip round runs that command (which must flip every
//                   policy, e.g. by rewriting serve's metrics file) and is
//                   timed from the command's start: end to end, file watch
//                   and evaluation included.
#include <grpcpp/grpcpp.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "externalscaler.grpc.pb.h"

extern char** environ;

namespace {

using externalscaler::ExternalScaler;
using externalscaler::IsActiveResponse;
using externalscaler::ScaledObjectRef;

std::int64_t steadyNanoseconds() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Everything the stream callbacks tell the main thread; messages only grows.
struct Progress {
  std::mutex mutex;
  std::condition_variable changed;
  std::uint64_t messages = 0;
  std::uint64_t finished = 0;
  std::uint64_t failed = 0;
};

class ActivityStream final : public grpc::ClientReadReactor<IsActiveResponse> {
 public:
  ActivityStream(ExternalScaler::Stub& stub, std::size_t index, Progress& progress)
      : progress_(progress) {
    ref_.set_name("bench");
    ref_.set_namespace_("default");
    (*ref_.mutable_scalermetadata())["policyName"] = "policy-" + std::to_string(index);
    stub.async()->StreamIsActive(&context_, &ref_, this);
    StartRead(&response_);
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      return;  // OnDone follows
    }
    received_.store(steadyNanoseconds(), std::memory_order_relaxed);
    active_.store(response_.result(), std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_release);
    StartRead(&response_);
    {
      const std::lock_guard lock(progress_.mutex);
      ++progress_.messages;
    }
    progress_.changed.notify_all();
  }

  void OnDone(const grpc::Status& status) override {
    {
      const std::lock_guard lock(progress_.mutex);
      ++progress_.finished;
      if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
        ++progress_.failed;
        if (progress_.failed == 1) {
          std::cerr << "stream_fanout: a stream ended: " << status.error_message() << "\n";
        }
      }
    }
    progress_.changed.notify_all();
  }

  void cancel() { context_.TryCancel(); }
  [[nodiscard]] std::uint64_t count() const { return count_.load(std::memory_order_acquire); }
  [[nodiscard]] bool active() const { return active_.load(std::memory_order_relaxed); }
  [[nodiscard]] std::int64_t received() const { return received_.load(std::memory_order_relaxed); }

 private:
  Progress& progress_;
  grpc::ClientContext context_;
  ScaledObjectRef ref_;
  IsActiveResponse response_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<bool> active_{false};
  std::atomic<std::int64_t> received_{0};
};

// The stream_server child, spoken to over its stdin and stdout.
class ServerProcess {
 public:
  explicit ServerProcess(const std::string& path, std::size_t policies) {
    int in[2];
    int out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) {
      throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    const std::string count = std::to_string(policies);
    std::vector<std::string> args = {path, "--policies", count};
    std::vector<char*> argv;
    for (auto& arg : args) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    const int rc = posix_spawn(&pid_, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(in[0]);
    ::close(out[1]);
    if (rc != 0) {
      ::close(in[1]);
      ::close(out[0]);
      throw std::runtime_error("cannot start " + path);
    }
    toServer_ = ::fdopen(in[1], "w");
    fromServer_ = ::fdopen(out[0], "r");
  }

  ~ServerProcess() {
    if (toServer_ != nullptr) {
      std::fclose(toServer_);  // EOF: the server stops
    }
    if (fromServer_ != nullptr) {
      std::fclose(fromServer_);
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  [[nodiscard]] pid_t pid() const { return pid_; }

  std::string readLine() {
    std::string line;
    int c = 0;
    while ((c = std::fgetc(fromServer_)) != EOF && c != '\n') {
      line.push_back(static_cast<char>(c));
    }
    if (c == EOF && line.empty()) {
      throw std::runtime_error("stream_server closed its output");
    }
    return line;
  }

  std::string command(const std::string& line) {
    std::fputs((line + "\n").c_str(), toServer_);
    std::fflush(toServer_);
    return readLine();
  }

 private:
  pid_t pid_ = 0;
  std::FILE* toServer_ = nullptr;
  std::FILE* fromServer_ = nullptr;
};

struct ProcessStats {
  long threads = 0;
  long rssKib = 0;
};

ProcessStats readStats(pid_t pid) {
  ProcessStats stats;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream fields(line);
    std::string key;
    fields >> key;
    if (key == "Threads:") {
      fields >> stats.threads;
    } else if (key == "VmRSS:") {
      fields >> stats.rssKib;
    }
  }
  return stats;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string summary(const std::vector<double>& ms) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(3) << "p50 " << percentile(ms, 50) << " ms, p99 " << percentile(ms, 99)
      << " ms, max " << percentile(ms, 100) << " ms (" << ms.size() << " samples)";
  return out.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Holds many StreamIsActive streams open and times decision pushes"};
  std::string serverPath;
  std::string target;
  int pid = 0;
  std::string flipCommand;
  std::size_t streams = 10'000;
  std::size_t singleFlips = 1'000;
  std::size_t allFlips = 5;
  std::size_t channels = 1;
  double waitSeconds = 60;
  app.add_option("--server", serverPath, "stream_server binary to start and drive");
  app.add_option("--target", target, "Attach to this server (HOST:PORT) instead");
  app.add_option("--pid", pid, "Its process id (threads and RSS)");
  app.add_option("--flip-command", flipCommand, "Attached: a shell command that flips every policy");
  app.add_option("--streams", streams, "Streams (and policies)")->capture_default_str();
  app.add_option("--single-flips", singleFlips, "One-policy flips to time (with --server)")->capture_default_str();
  app.add_option("--all-flips", allFlips, "Rounds of every policy flipping at once")->capture_default_str();
  app.add_option("--channels", channels, "Client connections the streams are spread over")->capture_default_str();
  app.add_option("--wait", waitSeconds, "Seconds to wait for any one step")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (serverPath.empty() == target.empty()) {
    std::cerr << "stream_fanout: give --server PATH or --target HOST:PORT --pid PID\n";
    return 2;
  }

  std::unique_ptr<ServerProcess> server;
  if (!serverPath.empty()) {
    server = std::make_unique<ServerProcess>(serverPath, streams);
    const std::string line = server->readLine();
    if (line.rfind("listening on ", 0) != 0) {
      std::cerr << "stream_server said: " << line << "\n";
      return 1;
    }
    target = line.substr(13);
    pid = server->pid();
  }
  const auto stats = [&] { return readStats(pid); };

  Progress progress;
  const auto waitFor = [&](const auto& done, const char* what) {
    std::unique_lock lock(progress.mutex);
    if (!progress.changed.wait_for(lock, std::chrono::duration<double>(waitSeconds), [&] { return done(); })) {
      std::cerr << "stream_fanout: timed out waiting for " << what << "\n";
      std::exit(1);
    }
  };

  std::vector<std::shared_ptr<grpc::Channel>> pool;
  for (std::size_t i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per channel
    args.SetInt("kubeai.bench.channel", static_cast<int>(i));
    pool.push_back(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  }
  std::vector<std::unique_ptr<ExternalScaler::Stub>> stubs;
  for (auto& channel : pool) {
    if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      std::cerr << "stream_fanout: cannot connect to " << target << "\n";
      return 1;
    }
    stubs.push_back(ExternalScaler::NewStub(channel));
  }

  const ProcessStats before = stats();
  const auto openStart = std::chrono::steady_clock::now();
  std::vector<std::unique_ptr<ActivityStream>> open;
  open.reserve(streams);
  for (std::size_t i = 0; i < streams; ++i) {
    open.push_back(std::make_unique<ActivityStream>(*stubs[i % stubs.size()], i, progress));
  }
  waitFor([&] { return progress.messages >= streams || progress.failed > 0; }, "the first message of every stream");
  if (progress.failed > 0) {
    return 1;
  }
  const double openSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - openStart).count();
  const ProcessStats opened = stats();

  std::cout << "server: " << target << " (pid " << pid << ")\n";
  std::cout << "streams open: " << streams << " over " << channels << " connection(s) in " << std::fixed
            << std::setprecision(2) << openSeconds << " s\n";
  std::cout << "server threads: " << before.threads << " with no stream, " << opened.threads << " with "
            << streams << " streams (target <= 32)\n";
  const double perStream =
      static_cast<double>(opened.rssKib - before.rssKib) / static_cast<double>(std::max<std::size_t>(streams, 1));
  std::cout << "server RSS: " << before.rssKib << " KiB with no stream, " << opened.rssKib << " KiB with them: "
            << std::setprecision(2) << perStream << " KiB per stream (target <= 64)\n";

  int exitCode = 0;
  std::size_t wrongValues = 0;
  if (server) {
    std::vector<double> singleMs;
    std::mt19937 random(42);
    std::uniform_int_distribution<std::size_t> pick(0, streams - 1);
    for (std::size_t n = 0; n < singleFlips; ++n) {
      const std::size_t index = pick(random);
      ActivityStream& stream = *open[index];
      const std::uint64_t seen = stream.count();
      const bool wasActive = stream.active();
      std::istringstream reply(server->command("flip " + std::to_string(index)));
      std::string word;
      std::size_t echoed = 0;
      std::int64_t published = 0;
      reply >> word >> echoed >> published;
      if (word != "published" || echoed != index) {
        std::cerr << "stream_fanout: unexpected reply to flip\n";
        return 1;
      }
      waitFor([&] { return stream.count() > seen; }, "a flipped policy's message");
      if (stream.active() == wasActive) {
        ++wrongValues;
      }
      singleMs.push_back(static_cast<double>(stream.received() - published) / 1e6);
    }
    if (singleFlips > 0) {
      std::cout << "one policy flips, publish -> its stream: " << summary(singleMs) << " (target p99 <= 5 ms)\n";
    }
  }

  for (std::size_t round = 0; round < allFlips; ++round) {
    std::vector<std::uint64_t> seen(streams);
    std::vector<bool> wasActive(streams);
    for (std::size_t i = 0; i < streams; ++i) {
      seen[i] = open[i]->count();
      wasActive[i] = open[i]->active();
    }
    std::uint64_t messagesBefore = 0;
    {
      const std::lock_guard lock(progress.mutex);
      messagesBefore = progress.messages;
    }
    std::int64_t start = 0;
    std::string publishSpan;
    if (server) {
      std::istringstream reply(server->command("flipall"));
      std::string word;
      std::int64_t last = 0;
      reply >> word >> start >> last;
      std::ostringstream span;
      span << std::fixed << std::setprecision(1) << static_cast<double>(last - start) / 1e6;
      publishSpan = ", publishing took " + span.str() + " ms";
    } else if (!flipCommand.empty()) {
      start = steadyNanoseconds();
      if (std::system(flipCommand.c_str()) != 0) {
        std::cerr << "stream_fanout: --flip-command failed\n";
        return 1;
      }
    } else {
      break;
    }
    waitFor([&] { return progress.messages >= messagesBefore + streams; }, "every stream's flipped value");
    std::vector<double> ms;
    ms.reserve(streams);
    for (std::size_t i = 0; i < streams; ++i) {
      if (open[i]->count() <= seen[i] || open[i]->active() == wasActive[i]) {
        ++wrongValues;
      }
      ms.push_back(static_cast<double>(open[i]->received() - start) / 1e6);
    }
    std::cout << "all flip, round " << round + 1 << ", " << (server ? "first publish" : "flip command")
              << " -> each stream: " << summary(ms) << publishSpan
              << (server ? " (target p99 <= 250 ms)\n"
                         : " (end to end: the command, file watch, reload and evaluation included)\n");
  }
  const ProcessStats after = stats();
  std::cout << "server after the flips: " << after.threads << " threads, " << after.rssKib << " KiB RSS\n";
  if (wrongValues > 0) {
    std::cout << "WRONG: " << wrongValues << " streams did not get their flipped value\n";
    exitCode = 1;
  }

  for (auto& stream : open) {
    stream->cancel();
  }
  waitFor([&] { return progress.finished >= streams; }, "the streams to end");
  if (progress.failed > 0) {
    exitCode = 1;
  }
  return exitCode;
}
