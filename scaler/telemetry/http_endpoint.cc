#include "telemetry/http_endpoint.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>

#include "telemetry/listen_address.h"

// A small HTTP/1.x server of its own, on plain sockets: civetweb, which this
// replaced, is built without IPv6 in Debian (mg_check_feature(8) is 0), and on
// an IPv6-only cluster the kubelet's probes reach the pod over IPv6 only. What
// is served is three GETs, one request per connection (civetweb's default too:
// keep-alive off), so the server stays small: an accept thread, a few workers.
namespace kubeai::telemetry {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";
// A scrape or probe whose request has not arrived in 10 s is not coming; free the worker.
constexpr std::chrono::milliseconds kRequestTimeout{10'000};
// The request head: a probe's or a scraper's is a few hundred bytes.
constexpr std::size_t kMaxRequestHead = 16 * 1024;
// Accepted connections waiting for a worker; beyond that, new ones are closed
// at once rather than held (a client that floods us gets refused, probes retry).
constexpr std::size_t kMaxQueued = 128;

std::string errnoText(int error) { return std::strerror(error); }

// A file descriptor closed on scope exit.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Request {
  std::string method;
  std::string path;  // without the query
};

bool sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(sent));
  }
  return true;
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string responseText(int status, const char* contentType, std::string_view body, bool withBody,
                         const char* allow) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reasonPhrase(status) + "\r\n";
  out += "Content-Type: ";
  out += contentType;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Cache-Control: no-store\r\nConnection: close\r\n";
  if (allow != nullptr) {
    out += "Allow: ";
    out += allow;
    out += "\r\n";
  }
  out += "\r\n";
  if (withBody) out += body;
  return out;
}

}  // namespace

struct HttpEndpoint::Server {
  Options options;
  ListenAddress listen;
  Fd listener;
  Fd stopEvent;  // readable once stopping: wakes the accept thread and every read

  std::mutex mutex;
  std::condition_variable queued;
  std::deque<Fd> connections;  // under mutex
  bool stopping = false;       // under mutex
  std::thread acceptor;
  std::vector<std::thread> workers;

  void reportError(std::string_view message) const {
    if (!options.onServerError) return;
    try {
      options.onServerError(message);
    } catch (...) {  // a logger that throws must not end a server thread
    }
  }

  std::string metricsText() const {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : options.collectables) {
      if (!collectable) continue;
      auto more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    return prometheus::TextSerializer().Serialize(families);
  }

  // The response to one request.
  std::string answer(const Request& request) const {
    const std::string_view method = request.method;
    const std::string_view path = request.path;
    const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
    if (!known) return responseText(404, kTextContentType, "not found\n", method != "HEAD", nullptr);
    if (method != "GET" && method != "HEAD") {
      return responseText(405, kTextContentType, "method not allowed\n", true, "GET, HEAD");
    }
    const bool withBody = method == "GET";
    // The callbacks are the integrator's code: nothing may end a worker.
    try {
      if (path == "/metrics") return responseText(200, kMetricsContentType, metricsText(), withBody, nullptr);
      if (path == "/healthz") {
        const HealthReport report = options.liveness ? options.liveness() : HealthReport{true, "ok"};
        return responseText(report.healthy ? 200 : 503, kTextContentType, report.body, withBody, nullptr);
      }
      const ReadyReport report = options.readiness ? options.readiness() : ReadyReport{true, "ok"};
      return responseText(report.ready ? 200 : 503, kTextContentType, report.body, withBody, nullptr);
    } catch (const std::exception& error) {
      return responseText(500, kTextContentType, std::string(path) + ": " + error.what() + "\n", withBody, nullptr);
    } catch (...) {
      return responseText(500, kTextContentType, std::string(path) + ": unknown error\n", withBody, nullptr);
    }
  }

  // Reads the request head (up to the blank line) within kRequestTimeout;
  // the status to answer instead when it cannot be read (0: say nothing).
  int readRequest(int fd, Request& request) const {
    std::string head;
    const auto deadline = std::chrono::steady_clock::now() + kRequestTimeout;
    while (head.find("\r\n\r\n") == std::string::npos) {
      if (head.size() > kMaxRequestHead) return 431;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return 408;
      pollfd waits[2] = {{fd, POLLIN, 0}, {stopEvent.get(), POLLIN, 0}};
      const int ready = ::poll(waits, 2, static_cast<int>(left.count()));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0 || (waits[1].revents & POLLIN) != 0) return 0;
      if (ready == 0) return 408;
      char buffer[4096];
      const ssize_t got = ::recv(fd, buffer, sizeof buffer, 0);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) return 0;  // the client went away
      head.append(buffer, static_cast<std::size_t>(got));
    }
    // "METHOD SP TARGET SP HTTP/x.y"; header fields are not needed.
    const std::size_t lineEnd = head.find("\r\n");
    const std::string_view line(head.data(), lineEnd);
    const std::size_t first = line.find(' ');
    const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos || line.substr(second + 1).rfind("HTTP/1.", 0) != 0) return 400;
    request.method = std::string(line.substr(0, first));
    const std::string_view target = line.substr(first + 1, second - first - 1);
    request.path = std::string(target.substr(0, target.find('?')));
    return request.method.empty() || request.path.empty() ? 400 : -1;
  }

  void serveConnection(Fd connection) const {
    const int fd = connection.get();
    const timeval sendTimeout{static_cast<time_t>(kRequestTimeout.count() / 1000), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, sizeof sendTimeout);
    Request request;
    const int failed = readRequest(fd, request);
    if (failed == 0) return;
    const std::string out = failed > 0 ? responseText(failed, kTextContentType, std::string(reasonPhrase(failed)) + "\n",
                                                      true, nullptr)
                                       : answer(request);
    if (!sendAll(fd, out)) return;
    // The whole response before the close: a close with unread bytes
    // (a request body) would reset the connection and could cut it short.
    ::shutdown(fd, SHUT_WR);
    char buffer[1024];
    while (::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT) > 0) {
    }
  }

  void acceptLoop() {
    while (true) {
      pollfd waits[2] = {{listener.get(), POLLIN, 0}, {stopEvent.get(), POLLIN, 0}};
      if (::poll(waits, 2, -1) < 0) {
        if (errno == EINTR) continue;
        reportError("poll: " + errnoText(errno));
        return;
      }
      if ((waits[1].revents & POLLIN) != 0) return;
      Fd connection(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (connection.get() < 0) {
        const int error = errno;
        if (error == EINTR || error == EAGAIN || error == ECONNABORTED) continue;
        reportError("accept: " + errnoText(error));
        if (error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM) {
          // Out of descriptors or memory: give the workers a moment rather than spin.
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      std::unique_lock lock(mutex);
      if (connections.size() >= kMaxQueued) {
        lock.unlock();
        reportError("too many connections waiting; closed a new one");
        continue;
      }
      connections.push_back(std::move(connection));
      lock.unlock();
      queued.notify_one();
    }
  }

  void workLoop() {
    while (true) {
      Fd connection;
      {
        std::unique_lock lock(mutex);
        queued.wait(lock, [&] { return stopping || !connections.empty(); });
        if (stopping) return;
        connection = std::move(connections.front());
        connections.pop_front();
      }
      try {
        serveConnection(std::move(connection));
      } catch (const std::exception& error) {  // out of memory while answering: drop this one connection
        reportError(std::string("answering a request: ") + error.what());
      }
    }
  }

  // Binds the listening socket; "[::]" falls back to 0.0.0.0 on a kernel
  // without IPv6 (ipv6.disable=1), so the default address works there too.
  void bind(const std::string& address) {
    const auto fail = [&](const std::string& why) {
      return std::runtime_error("cannot serve HTTP on " + address + ": " + why);
    };
    Fd socket(::socket(listen.ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (socket.get() < 0 && errno == EAFNOSUPPORT && listen.dualStack) {
      listen = ListenAddress{"0.0.0.0", listen.port, false, false};
      socket = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    }
    if (socket.get() < 0) throw fail("socket: " + errnoText(errno));
    const int on = 1;
    // A restarted server rebinds at once, past the old connections in TIME_WAIT.
    ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    if (listen.ipv6) {
      // Explicit, whatever net.ipv6.bindv6only says: "[::]" is both stacks, "[::1]" IPv6 alone.
      const int v6only = listen.dualStack ? 0 : 1;
      if (::setsockopt(socket.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
        throw fail("IPV6_V6ONLY: " + errnoText(errno));
      }
    }
    socklen_t length = 0;
    const sockaddr_storage where = listen.socketAddress(length);
    if (::bind(socket.get(), reinterpret_cast<const sockaddr*>(&where), length) != 0) {
      throw fail("cannot bind: " + errnoText(errno));
    }
    if (::listen(socket.get(), SOMAXCONN) != 0) throw fail("listen: " + errnoText(errno));
    sockaddr_storage bound{};
    socklen_t boundLength = sizeof bound;
    if (::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&bound), &boundLength) != 0) {
      throw fail("the bound port is unknown: " + errnoText(errno));
    }
    listen.port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                                                    : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
    listener = std::move(socket);
  }

  void stop() {
    {
      const std::lock_guard lock(mutex);
      stopping = true;
      connections.clear();
    }
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t written = ::write(stopEvent.get(), &one, sizeof one);
    queued.notify_all();
    if (acceptor.joinable()) acceptor.join();
    for (std::thread& worker : workers) {
      if (worker.joinable()) worker.join();
    }
  }
};

HttpEndpoint::HttpEndpoint(Options options) : server_(std::make_unique<Server>()) {
  Server& server = *server_;
  server.listen = parseListenAddress(options.address);
  if (options.workerThreads < 1) {
    throw std::invalid_argument("metrics address \"" + options.address + "\": workerThreads must be at least 1");
  }
  server.options = std::move(options);
  server.bind(server.options.address);
  server.stopEvent = Fd(::eventfd(0, EFD_CLOEXEC));
  if (server.stopEvent.get() < 0) {
    throw std::runtime_error("cannot serve HTTP on " + server.options.address + ": eventfd: " + errnoText(errno));
  }
  try {
    server.acceptor = std::thread([&server] { server.acceptLoop(); });
    for (int i = 0; i < server.options.workerThreads; ++i) {
      server.workers.emplace_back([&server] { server.workLoop(); });
    }
  } catch (...) {  // no thread to be had: stop those that started
    server.stop();
    throw;
  }
}

HttpEndpoint::~HttpEndpoint() { server_->stop(); }

std::uint16_t HttpEndpoint::port() const noexcept { return server_->listen.port; }

std::string HttpEndpoint::address() const { return server_->listen.text(); }

}  // namespace kubeai::telemetry
