#pragma once

// A real Prometheus (Debian's /usr/bin/prometheus) for tests: started on a
// free 127.0.0.1 port with a temporary config and storage directory, scraping
// the given targets every second, waited for until /-/ready answers, and
// always stopped (SIGTERM, then SIGKILL) when the object goes. stop() or
// kill(), then restart() (same port, same data), take it away mid-run.
// Link CURL::libcurl and nlohmann_json::nlohmann_json.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_get.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace kubeai::testing {

struct PrometheusServerOptions {
  std::vector<std::string> targets;  // host:port, scraped as job "exporter" with honor_labels
  std::string scrapeInterval = "1s";
  std::string extraConfig;           // appended to prometheus.yml (rule_files: ..., more jobs)
  std::string webConfig;             // the --web.config.file's content; empty = none
  bool https = false;                // the web config serves TLS
  HttpGetOptions probe;              // how the fixture itself talks to it (basic auth, CA)
  std::vector<std::string> extraArgs;
  std::string binary = "/usr/bin/prometheus";
};

class PrometheusServer {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts Prometheus and waits until it is ready; throws (with its log) when it is not.
  explicit PrometheusServer(PrometheusServerOptions options) : options_(std::move(options)) {
    std::string config = "global:\n  scrape_interval: ";
    config += options_.scrapeInterval;
    config += "\n  scrape_timeout: ";
    config += options_.scrapeInterval;
    config += "\n  evaluation_interval: ";
    config += options_.scrapeInterval;
    config += "\nscrape_configs:\n";
    if (!options_.targets.empty()) {
      config += "  - job_name: exporter\n    honor_labels: true\n    static_configs:\n      - targets:\n";
      for (const auto& target : options_.targets) {
        config += "          - '";
        config += target;
        config += "'\n";
      }
    } else {
      config += "  []\n";
    }
    config += options_.extraConfig;
    configFile_ = directory_.write("prometheus.yml", config);
    if (!options_.webConfig.empty()) {
      webConfigFile_ = directory_.write("web.yml", options_.webConfig);
    }
    std::filesystem::create_directories(dataDir());
    // The port is free when picked, but another process may take it before
    // Prometheus binds it: then pick again.
    for (int attempt = 1;; ++attempt) {
      port_ = freePort();
      try {
        start();
        return;
      } catch (const std::exception&) {
        if (attempt >= 5 || logText().find("address already in use") == std::string::npos) {
          throw;
        }
      }
    }
  }

  PrometheusServer(const PrometheusServer&) = delete;
  PrometheusServer& operator=(const PrometheusServer&) = delete;

  ~PrometheusServer() { stop(); }

  [[nodiscard]] int port() const noexcept { return port_; }
  // The base URL of its HTTP API: http(s)://127.0.0.1:port
  [[nodiscard]] std::string url() const {
    std::string url = options_.https ? "https://127.0.0.1:" : "http://127.0.0.1:";
    url += std::to_string(port_);
    return url;
  }
  [[nodiscard]] const std::filesystem::path& directory() const noexcept { return directory_.path(); }
  [[nodiscard]] std::filesystem::path dataDir() const { return directory_.path() / "data"; }

  [[nodiscard]] std::string logText() const {
    std::ifstream stream(directory_.path() / "prometheus.log");
    std::ostringstream text;
    text << stream.rdbuf();
    return text.str();
  }

  // SIGTERM, then SIGKILL when it has not exited within 15 s. Idempotent.
  void stop() noexcept {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + stretched(std::chrono::seconds(15));
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }

  // SIGKILL, as a crash or an OOM kill would end it: gone at once.
  void kill() noexcept {
    if (pid_ <= 0) {
      return;
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  // Starts it again on the same port with the same data; waits until ready.
  void restart() {
    stop();
    // The port was Prometheus' own a moment ago; should anything else hold it, wait.
    const auto deadline = Clock::now() + stretched(std::chrono::seconds(20));
    while (true) {
      try {
        start();
        return;
      } catch (const std::exception&) {
        if (Clock::now() >= deadline || logText().find("address already in use") == std::string::npos) {
          throw;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
    }
  }

  [[nodiscard]] bool running() noexcept {
    if (pid_ <= 0) {
      return false;
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // The `data` of a successful instant query; throws on any failure.
  nlohmann::json query(const std::string& expression) {
    std::string url = this->url();
    url += "/api/v1/query?query=";
    url += urlEncode(expression);
    const auto got = httpGet(url, options_.probe);
    if (got.status != 200) {
      std::string message = "query ";
      message += expression;
      message += ": HTTP ";
      message += std::to_string(got.status);
      message += ' ';
      message += got.error;
      message += got.body;
      throw std::runtime_error(message);
    }
    const auto body = nlohmann::json::parse(got.body);
    return body.at("data");
  }

  // The sample values of a query's result (a vector's, or a scalar's one).
  static std::vector<double> values(const nlohmann::json& data) {
    std::vector<double> out;
    auto parse = [](const nlohmann::json& pair) { return std::stod(pair.at(1).get<std::string>()); };
    if (data.at("resultType") == "scalar") {
      out.push_back(parse(data.at("result")));
    } else if (data.at("resultType") == "vector") {
      for (const auto& sample : data.at("result")) {
        out.push_back(parse(sample.at("value")));
      }
    }
    return out;
  }

  // Polls the query until `accept` holds for its data; returns that data.
  nlohmann::json waitForQuery(const std::string& expression, const std::function<bool(const nlohmann::json&)>& accept,
                              Clock::duration timeout) {
    nlohmann::json last;
    std::string lastError;
    waitUntil(
        [&] {
          try {
            last = query(expression);
            return accept(last);
          } catch (const std::exception& error) {
            lastError = error.what();
            return false;
          }
        },
        timeout, concat("Prometheus to answer ", expression),
        [&] {
          std::string detail = "last result: ";
          detail += last.dump();
          detail += "; last error: ";
          detail += lastError;
          return detail;
        },
        std::chrono::milliseconds(100));
    return last;
  }

  // Waits until the query gives exactly one sample (or a scalar) equal to `expected`.
  void waitForValue(const std::string& expression, double expected, Clock::duration timeout) {
    waitForQuery(
        expression,
        [&](const nlohmann::json& data) {
          const auto got = values(data);
          return got.size() == 1 && std::abs(got.front() - expected) < 1e-9;
        },
        timeout);
  }

 private:
  static int freePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      if (fd >= 0) {
        ::close(fd);
      }
      throw std::runtime_error("cannot pick a free port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
  }

  // Spawns Prometheus on port_ and waits for /-/ready; throws (and reaps it) otherwise.
  void start() {
    std::vector<std::string> argv = {options_.binary};
    auto flag = [&](const char* name, const std::string& value) {
      std::string text = name;
      text += '=';
      text += value;
      argv.push_back(std::move(text));
    };
    flag("--config.file", configFile_.string());
    flag("--storage.tsdb.path", dataDir().string());
    flag("--web.listen-address", concat("127.0.0.1:", std::to_string(port_)));
    // (No lock file by default in 2.42: a SIGKILLed predecessor leaves none behind.)
    if (!webConfigFile_.empty()) {
      flag("--web.config.file", webConfigFile_.string());
    }
    argv.insert(argv.end(), options_.extraArgs.begin(), options_.extraArgs.end());
    std::vector<char*> raw;
    raw.reserve(argv.size() + 1);
    for (auto& arg : argv) {
      raw.push_back(arg.data());
    }
    raw.push_back(nullptr);
    const std::string logFile = (directory_.path() / "prometheus.log").string();
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      throw std::runtime_error("fork failed");
    }
    if (pid == 0) {
      // Only async-signal-safe calls from here on.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a test killed by CTest's timeout
      if (::getppid() != parent) {
        ::_exit(127);
      }
      const int log = ::open(logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      const int null = ::open("/dev/null", O_RDWR);
      if (log < 0 || null < 0) {
        ::_exit(127);
      }
      ::dup2(null, STDIN_FILENO);
      ::dup2(log, STDOUT_FILENO);
      ::dup2(log, STDERR_FILENO);
      ::execv(raw[0], raw.data());
      ::_exit(127);
    }
    pid_ = pid;
    std::string last;
    try {
      waitUntil(
          [&] {
            if (!running()) {
              throw std::runtime_error(concat("prometheus exited before it was ready; log:\n", logText()));
            }
            const auto got = httpGet(concat(url(), "/-/ready"), probeOptions());
            last = got.error.empty() ? std::to_string(got.status) : got.error;
            return got.status == 200;
          },
          stretched(std::chrono::seconds(60)), "prometheus to be ready",
          [&] { return concat("last answer: ", last, "; log:\n", logText()); });
    } catch (...) {
      stop();
      throw;
    }
  }

  HttpGetOptions probeOptions() const {
    HttpGetOptions probe = options_.probe;
    probe.timeout = std::chrono::milliseconds(2000);
    return probe;
  }

  PrometheusServerOptions options_;
  TempDir directory_;
  std::filesystem::path configFile_;
  std::filesystem::path webConfigFile_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace kubeai::testing
