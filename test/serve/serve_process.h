#pragma once

// The real `kubeai-scaler serve` as a child process, for tests that talk to
// it as KEDA does: started on free 127.0.0.1 ports (port 0), its JSON log
// (stderr) in a file the test reads for the bound ports, killed and reaped
// when the object goes.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace kubeai::testing {

// Multiplies every deadline: more under sanitizers (set by CMake). A passing
// test never waits for one.
#ifndef KUBEAI_TIME_SCALE
#define KUBEAI_TIME_SCALE 1
#endif
inline constexpr int kTimeScale = KUBEAI_TIME_SCALE;

template <typename Duration>
constexpr auto scaled(Duration duration) {
  return duration * kTimeScale;
}

class ServeProcess {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts `binary serve --grpc-address 127.0.0.1:0 --metrics-address
  // 127.0.0.1:0 --log-format json <args>` with its stderr in `logFile` and
  // TMPDIR set to `scratchDir` (nothing of it outside the test), then waits for
  // it to log its ports. Throws when it does not start.
  ServeProcess(const std::string& binary, const std::vector<std::string>& args, std::filesystem::path logFile,
               const std::filesystem::path& scratchDir)
      : logFile_(std::move(logFile)) {
    std::vector<std::string> argv = {binary,        "serve",        "--grpc-address", "127.0.0.1:0",
                                     "--metrics-address", "127.0.0.1:0", "--log-format", "json"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    raw.reserve(argv.size() + 1);
    for (auto& arg : argv) {
      raw.push_back(arg.data());
    }
    raw.push_back(nullptr);
    // The environment, with TMPDIR replaced: built before fork, as the child may only exec.
    std::vector<std::string> environment = {"TMPDIR=" + scratchDir.string()};
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (std::string_view(*entry).rfind("TMPDIR=", 0) != 0) {
        environment.emplace_back(*entry);
      }
    }
    std::vector<char*> envp;
    envp.reserve(environment.size() + 1);
    for (auto& entry : environment) {
      envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid_ == 0) {
      // Only async-signal-safe calls from here on.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test killed by CTest's timeout
      if (::getppid() != parent) {
        ::_exit(127);
      }
      const int err = ::open(logFile_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
      const int null = ::open("/dev/null", O_RDWR);
      if (err < 0 || null < 0) {
        ::_exit(127);
      }
      ::dup2(null, STDIN_FILENO);
      ::dup2(null, STDOUT_FILENO);
      ::dup2(err, STDERR_FILENO);
      ::execve(raw[0], raw.data(), envp.data());
      ::_exit(127);
    }
    try {
      // "serving HTTP" is logged last, after gRPC (and the health port).
      httpAddress_ = waitForLog([](const nlohmann::json& r) { return r.value("msg", "") == "serving HTTP"; },
                                scaled(std::chrono::seconds(10)), "serve to start")
                         .value("address", "");
      grpcAddress_ = findLog([](const nlohmann::json& r) { return r.value("msg", "") == "serving gRPC"; })
                         ->value("address", "");
    } catch (...) {
      kill();
      throw;
    }
  }

  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  ~ServeProcess() { kill(); }

  [[nodiscard]] const std::string& grpcAddress() const noexcept { return grpcAddress_; }
  [[nodiscard]] const std::string& httpAddress() const noexcept { return httpAddress_; }

  // Every JSON record logged so far (other lines, such as gRPC's own, are skipped).
  [[nodiscard]] std::vector<nlohmann::json> records() const {
    std::vector<nlohmann::json> out;
    std::ifstream stream(logFile_);
    std::string line;
    while (std::getline(stream, line)) {
      auto record = nlohmann::json::parse(line, nullptr, false);
      if (!record.is_discarded() && record.is_object()) {
        out.push_back(std::move(record));
      }
    }
    return out;
  }

  [[nodiscard]] std::string logText() const {
    std::ifstream stream(logFile_);
    std::ostringstream text;
    text << stream.rdbuf();
    return text.str();
  }

  [[nodiscard]] std::optional<nlohmann::json> findLog(
      const std::function<bool(const nlohmann::json&)>& predicate) const {
    for (auto& record : records()) {
      if (predicate(record)) {
        return record;
      }
    }
    return std::nullopt;
  }

  // Polls the log until a record matches; throws after `timeout` or when the process is gone.
  nlohmann::json waitForLog(const std::function<bool(const nlohmann::json&)>& predicate, Clock::duration timeout,
                            const std::string& what) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      if (auto record = findLog(predicate)) {
        return *record;
      }
      if (!running()) {
        throw std::runtime_error("serve exited (" + std::to_string(exitCode_) + ") while waiting for " + what +
                                 "; log:\n" + logText());
      }
      if (Clock::now() >= deadline) {
        throw std::runtime_error("not in time: " + what + "; log:\n" + logText());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // SIGTERM, then the exit code (128 + signal when killed by one), or nullopt
  // when it is still running after `timeout` (then it is killed).
  std::optional<int> terminate(Clock::duration timeout) {
    if (!running()) {
      return exitCode_;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + timeout;
    while (running()) {
      if (Clock::now() >= deadline) {
        kill();
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return exitCode_;
  }

 private:
  // Reaps the child if it has exited; true while it runs.
  bool running() {
    if (reaped_) {
      return false;
    }
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == 0) {
      return true;
    }
    reaped_ = true;
    exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return false;
  }

  void kill() noexcept {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      reaped_ = true;
      exitCode_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
  }

  std::filesystem::path logFile_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exitCode_ = -1;
  std::string grpcAddress_;
  std::string httpAddress_;
};

}  // namespace kubeai::testing
