#pragma once

// The API emulator (test/kube/emulator/apiserver_emulator.py) as a child
// process: started with its arguments, waited for until it prints
// "listening on 127.0.0.1:PORT", and always stopped (SIGTERM, then SIGKILL).

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/wait.h"

extern char** environ;  // NOLINT

namespace kubeai::testing {

class EmulatorProcess {
 public:
  EmulatorProcess(const std::string& script, const std::vector<std::string>& args) {
    std::vector<std::string> storage{"/usr/bin/python3", script, "--port", "0"};
    storage.insert(storage.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : storage) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::array<int, 2> out{};
    if (::pipe2(out.data(), O_CLOEXEC) != 0) {
      throw std::runtime_error("emulator: pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    const int spawned = ::posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    readFd_ = out[0];
    if (spawned != 0) {
      ::close(readFd_);
      throw std::runtime_error("emulator: cannot start /usr/bin/python3");
    }
    std::string output;
    const auto deadline = std::chrono::steady_clock::now() + stretched(std::chrono::seconds(30));
    const std::string marker = "listening on 127.0.0.1:";
    while (output.find(marker) == std::string::npos || output.find('\n', output.find(marker)) == std::string::npos) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd fd{readFd_, POLLIN, 0};
      std::array<char, 512> buffer{};
      ssize_t got = 0;
      if (left.count() <= 0 || ::poll(&fd, 1, static_cast<int>(left.count())) <= 0 ||
          (got = ::read(readFd_, buffer.data(), buffer.size())) <= 0) {
        stop();
        throw std::runtime_error(concat("emulator did not start; it printed: ", output));
      }
      output.append(buffer.data(), static_cast<std::size_t>(got));
    }
    const auto at = output.find(marker) + marker.size();
    port_ = std::stoi(output.substr(at));
  }
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;
  ~EmulatorProcess() { stop(); }

  [[nodiscard]] int port() const { return port_; }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      pid_ = -1;
    }
    if (readFd_ >= 0) {
      ::close(readFd_);
      readFd_ = -1;
    }
  }

 private:
  pid_t pid_ = -1;
  int readFd_ = -1;
  int port_ = 0;
};

}  // namespace kubeai::testing
