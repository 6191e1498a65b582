#pragma once

// A tiny HTTP/1.1 server on 127.0.0.1:0 for what a real Prometheus cannot
// show: it records every request (headers, body), answers after a delay the
// test chooses, keeps connections alive, and counts connections accepted and
// requests in flight at once. One thread per connection: tests open few.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace kubeai::testing {

struct StubRequest {
  std::string method;
  std::string target;  // path and query string, as sent
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;

  [[nodiscard]] std::string path() const { return target.substr(0, target.find('?')); }

  [[nodiscard]] std::optional<std::string> header(const std::string& lowerName) const {
    const auto it = headers.find(lowerName);
    return it == headers.end() ? std::nullopt : std::optional<std::string>(it->second);
  }

  // The `query` parameter, decoded, from the query string or a form body.
  [[nodiscard]] std::optional<std::string> query() const {
    const auto mark = target.find('?');
    if (auto found = formValue(mark == std::string::npos ? "" : target.substr(mark + 1), "query")) {
      return found;
    }
    return formValue(body, "query");
  }

  static std::optional<std::string> formValue(std::string_view form, std::string_view name) {
    while (!form.empty()) {
      const auto amp = form.find('&');
      const auto pair = form.substr(0, amp);
      const auto eq = pair.find('=');
      if (pair.substr(0, eq) == name) {
        return eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
      }
      form = amp == std::string_view::npos ? std::string_view() : form.substr(amp + 1);
    }
    return std::nullopt;
  }

  static std::string decode(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '+') {
        out += ' ';
      } else if (text[i] == '%' && i + 2 < text.size()) {
        out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += text[i];
      }
    }
    return out;
  }
};

struct StubResponse {
  int status = 200;
  std::string body = R"({"status":"success","data":{"resultType":"scalar","result":[0,"1"]}})";
  std::string contentType = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more, such as Location
};

class StubHttpServer {
 public:
  using Handler = std::function<StubResponse(const StubRequest&)>;

  // Answers every request with `handler`'s response (the default: a scalar 1).
  explicit StubHttpServer(Handler handler = nullptr) : handler_(std::move(handler)) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listenFd_ < 0) {
      throw std::runtime_error("stub server: socket failed");
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (::bind(listenFd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listenFd_, 128) != 0 ||
        ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(listenFd_);
      throw std::runtime_error("stub server: cannot listen on 127.0.0.1:0");
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }

  StubHttpServer(const StubHttpServer&) = delete;
  StubHttpServer& operator=(const StubHttpServer&) = delete;

  ~StubHttpServer() { stop(); }

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const {
    std::string url = "http://127.0.0.1:";
    url += std::to_string(port_);
    return url;
  }

  // Sleeps for `duration` inside a handler, cut short by stop(): false then.
  bool sleepFor(std::chrono::steady_clock::duration duration) {
    std::unique_lock lock(mutex_);
    return !stopped_.wait_for(lock, duration, [this] { return stopping_; });
  }

  [[nodiscard]] std::size_t connectionsAccepted() const { return connections_.load(); }
  [[nodiscard]] std::size_t maxInFlight() const { return maxInFlight_.load(); }
  [[nodiscard]] std::vector<StubRequest> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

  void stop() {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
      for (const int fd : open_) {
        ::shutdown(fd, SHUT_RDWR);  // wakes the connection's recv
      }
    }
    stopped_.notify_all();
    ::shutdown(listenFd_, SHUT_RDWR);  // wakes accept
    acceptor_.join();
    ::close(listenFd_);
    std::vector<std::thread> threads;
    {
      const std::lock_guard lock(mutex_);
      threads.swap(threads_);
    }
    for (auto& thread : threads) {
      thread.join();
    }
  }

 private:
  void acceptLoop() {
    while (true) {
      const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
      const std::lock_guard lock(mutex_);
      if (stopping_) {
        if (fd >= 0) {
          ::close(fd);
        }
        return;
      }
      if (fd < 0) {
        continue;
      }
      ++connections_;
      open_.insert(fd);
      threads_.emplace_back([this, fd] { serve(fd); });
    }
  }

  // Requests on one connection until the client closes it or the server stops.
  void serve(int fd) {
    std::string buffer;
    bool keepAlive = true;
    while (keepAlive) {
      auto request = readRequest(fd, buffer);
      if (!request) {
        break;
      }
      const auto now = ++inFlight_;
      for (auto seen = maxInFlight_.load(); now > seen && !maxInFlight_.compare_exchange_weak(seen, now);) {
      }
      {
        const std::lock_guard lock(mutex_);
        requests_.push_back(*request);
      }
      StubResponse response = handler_ ? handler_(*request) : StubResponse{};
      --inFlight_;
      keepAlive = request->header("connection").value_or("") != "close";
      std::string out = "HTTP/1.1 ";
      out += std::to_string(response.status);
      out += " Stub\r\nContent-Type: ";
      out += response.contentType;
      out += "\r\nContent-Length: ";
      out += std::to_string(response.body.size());
      out += "\r\n";
      for (const auto& [name, value] : response.headers) {
        out += name;
        out += ": ";
        out += value;
        out += "\r\n";
      }
      out += "\r\n";
      out += response.body;
      if (!sendAll(fd, out)) {
        break;
      }
    }
    {
      const std::lock_guard lock(mutex_);
      open_.erase(fd);
    }
    ::close(fd);
  }

  static bool sendAll(int fd, std::string_view data) {
    while (!data.empty()) {
      const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      data.remove_prefix(static_cast<std::size_t>(sent));
    }
    return true;
  }

  static bool fill(int fd, std::string& buffer) {
    std::array<char, 16384> chunk{};
    const ssize_t got = ::recv(fd, chunk.data(), chunk.size(), 0);
    if (got <= 0) {
      return false;
    }
    buffer.append(chunk.data(), static_cast<std::size_t>(got));
    return true;
  }

  static std::optional<StubRequest> readRequest(int fd, std::string& buffer) {
    std::size_t headEnd = 0;
    while ((headEnd = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(fd, buffer)) {
        return std::nullopt;
      }
    }
    StubRequest request;
    const std::string head = buffer.substr(0, headEnd);
    buffer.erase(0, headEnd + 4);
    std::size_t lineEnd = head.find("\r\n");
    const std::string requestLine = head.substr(0, lineEnd);
    const auto space1 = requestLine.find(' ');
    const auto space2 = requestLine.find(' ', space1 + 1);
    request.method = requestLine.substr(0, space1);
    request.target = requestLine.substr(space1 + 1, space2 - space1 - 1);
    while (lineEnd != std::string::npos) {
      const std::size_t start = lineEnd + 2;
      lineEnd = head.find("\r\n", start);
      const std::string line = head.substr(start, lineEnd == std::string::npos ? std::string::npos : lineEnd - start);
      const auto colon = line.find(':');
      if (colon == std::string::npos) {
        continue;
      }
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      const auto valueStart = line.find_first_not_of(' ', colon + 1);
      request.headers[name] = valueStart == std::string::npos ? "" : line.substr(valueStart);
    }
    if (request.header("expect").value_or("") == "100-continue" &&
        !sendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
      return std::nullopt;
    }
    const std::size_t length = std::stoul(request.header("content-length").value_or("0"));
    while (buffer.size() < length) {
      if (!fill(fd, buffer)) {
        return std::nullopt;
      }
    }
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    return request;
  }

  Handler handler_;
  int listenFd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::condition_variable stopped_;
  bool stopping_ = false;
  std::set<int> open_;
  std::vector<std::thread> threads_;
  std::vector<StubRequest> requests_;
  std::atomic<std::size_t> connections_{0};
  std::atomic<std::size_t> inFlight_{0};
  std::atomic<std::size_t> maxInFlight_{0};
};

}  // namespace kubeai::testing
