#pragma once

// A tiny HTTP/1.1 server on 127.0.0.1:0 whose handler writes the response
// itself: plain answers, chunked streams sent piece by piece, silences, cuts.
// It records every request and counts connections. One thread per connection;
// stop() (and the destructor) shuts every connection and joins every thread.

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
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace kubeai::testing {

struct FakeRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  [[nodiscard]] std::string header(const std::string& lowerName) const {
    const auto it = headers.find(lowerName);
    return it == headers.end() ? std::string() : it->second;
  }
};

class FakeHttpServer;

// What a handler writes to. Every call returns false once the peer or the server is gone.
class FakeConnection {
 public:
  FakeConnection(FakeHttpServer& server, int fd) : server_(server), fd_(fd) {}
  // extraHeaders: whole header lines, each ending in "\r\n" ("Retry-After: 1\r\n").
  bool respond(int status, const std::string& body, const std::string& contentType = "application/json",
               const std::string& extraHeaders = {}) {
    std::string out = "HTTP/1.1 ";
    out += std::to_string(status);
    out += " X\r\n";
    out += extraHeaders;
    out += "Content-Type: ";
    out += contentType;
    out += "\r\nContent-Length: ";
    out += std::to_string(body.size());
    out += "\r\n\r\n";
    out += body;
    return send(out);
  }
  bool startChunked(int status) {
    std::string out = "HTTP/1.1 ";
    out += std::to_string(status);
    out += " X\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    return send(out);
  }
  bool chunk(const std::string& data) {
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string out = size;
    out += data;
    out += "\r\n";
    return send(out);
  }
  bool endChunked() { return send("0\r\n\r\n"); }
  // Sleeps, cut short by stop(): false then.
  bool sleepFor(std::chrono::steady_clock::duration duration);
  // Ends the connection after this request.
  void close() { closeAfter_ = true; }
  [[nodiscard]] bool closeAfter() const { return closeAfter_; }

 private:
  bool send(const std::string& data) {
    std::size_t at = 0;
    while (at < data.size()) {
      const ssize_t sent = ::send(fd_, data.data() + at, data.size() - at, MSG_NOSIGNAL);
      if (sent <= 0) {
        return false;
      }
      at += static_cast<std::size_t>(sent);
    }
    return true;
  }
  FakeHttpServer& server_;
  int fd_;
  bool closeAfter_ = false;
};

class FakeHttpServer {
 public:
  using Handler = std::function<void(const FakeRequest&, FakeConnection&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    if (listenFd_ < 0 || ::bind(listenFd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(listenFd_, 64) != 0 || ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      throw std::runtime_error("fake server: cannot listen on 127.0.0.1:0");
    }
    port_ = ntohs(address.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;
  ~FakeHttpServer() { stop(); }

  [[nodiscard]] std::string url() const {
    std::string url = "http://127.0.0.1:";
    url += std::to_string(port_);
    return url;
  }
  [[nodiscard]] std::size_t connections() const { return connections_.load(); }
  [[nodiscard]] std::vector<FakeRequest> requests() const {
    const std::lock_guard lock(mutex_);
    return requests_;
  }

  bool sleepFor(std::chrono::steady_clock::duration duration) {
    std::unique_lock lock(mutex_);
    return !stopped_.wait_for(lock, duration, [this] { return stopping_; });
  }

  void stop() {
    {
      const std::lock_guard lock(mutex_);
      if (stopping_) {
        return;
      }
      stopping_ = true;
      for (const int fd : open_) {
        ::shutdown(fd, SHUT_RDWR);
      }
    }
    stopped_.notify_all();
    ::shutdown(listenFd_, SHUT_RDWR);
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

  void serve(int fd) {
    std::string buffer;
    while (true) {
      auto request = readRequest(fd, buffer);
      if (!request) {
        break;
      }
      {
        const std::lock_guard lock(mutex_);
        requests_.push_back(*request);
      }
      FakeConnection connection(*this, fd);
      handler_(*request, connection);
      if (connection.closeAfter()) {
        break;
      }
    }
    {
      const std::lock_guard lock(mutex_);
      open_.erase(fd);
    }
    ::shutdown(fd, SHUT_RDWR);
    ::close(fd);
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

  static std::optional<FakeRequest> readRequest(int fd, std::string& buffer) {
    std::size_t headEnd = 0;
    while ((headEnd = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(fd, buffer)) {
        return std::nullopt;
      }
    }
    FakeRequest request;
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
    const std::size_t length = std::stoul(request.header("content-length").empty() ? "0" : request.header("content-length"));
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
  std::vector<FakeRequest> requests_;
  std::atomic<std::size_t> connections_{0};
};

inline bool FakeConnection::sleepFor(std::chrono::steady_clock::duration duration) {
  return server_.sleepFor(duration);
}

}  // namespace kubeai::testing
