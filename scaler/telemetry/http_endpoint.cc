#include "telemetry/http_endpoint.h"

#include <microhttpd.h>
#include <netinet/in.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "telemetry/listen_address.h"

// GNU libmicrohttpd speaks the HTTP. civetweb, used before, is built without
// IPv6 in Debian (mg_check_feature(8) is 0), and on an IPv6-only cluster the
// kubelet's probes reach the pod over IPv6 only; libmicrohttpd has IPv6 and is
// in Debian's archive. The listening socket is ours (ListenAddress): "[::]"
// must fall back to IPv4 on a kernel without IPv6, which MHD_USE_DUAL_STACK
// does not do, so it is bound here and handed over with MHD_OPTION_LISTEN_SOCKET.
namespace kubeai::telemetry {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";
// A scrape or probe that has sent nothing for 10 s is not coming; drop its connection.
constexpr unsigned kConnectionTimeoutSeconds = 10;
// Open connections across all threads; beyond that new ones are closed at once
// (and reported) rather than held: a client that floods us is refused, probes retry.
constexpr unsigned kConnectionLimit = 128;

std::string errnoText(int error) { return std::strerror(error); }

// A file descriptor closed on scope exit, until release()d.
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
  [[nodiscard]] int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Answer {
  unsigned status = 200;
  const char* contentType = kTextContentType;
  std::string body;
  const char* allow = nullptr;  // the Allow header of a 405
};

// Binds and listens per `listen` (updated: the bound port; "[::]" becomes
// 0.0.0.0 on a kernel without IPv6, so the default address works there too).
Fd bindListener(ListenAddress& listen, const std::string& address) {
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
  return socket;
}

}  // namespace

struct HttpEndpoint::Server {
  Options options;
  ListenAddress listen;
  MHD_Daemon* daemon = nullptr;
  // Until the daemon runs, its complaints say why it did not start (the
  // exception's message); after, they go to onServerError.
  std::atomic<bool> running{false};
  std::mutex startMutex;
  std::string startErrors;  // under startMutex

  void reportError(std::string_view message) const {
    if (!options.onServerError) return;
    try {
      options.onServerError(message);
    } catch (...) {  // a logger that throws must not unwind into libmicrohttpd
    }
  }

  void logged(std::string message) {
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) message.pop_back();
    if (running) {
      reportError(message);
      return;
    }
    const std::lock_guard lock(startMutex);
    startErrors += (startErrors.empty() ? "" : "; ") + message;
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

  // The answer to one request; libmicrohttpd leaves out the body of a HEAD's.
  Answer answer(std::string_view method, std::string_view path) const {
    const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
    if (!known) return {404, kTextContentType, "not found\n"};
    if (method != "GET" && method != "HEAD") return {405, kTextContentType, "method not allowed\n", "GET, HEAD"};
    // The callbacks are the integrator's code: nothing may unwind into libmicrohttpd.
    try {
      if (path == "/metrics") return {200, kMetricsContentType, metricsText()};
      if (path == "/healthz") {
        HealthReport report = options.liveness ? options.liveness() : HealthReport{true, "ok"};
        return {report.healthy ? 200U : 503U, kTextContentType, std::move(report.body)};
      }
      ReadyReport report = options.readiness ? options.readiness() : ReadyReport{true, "ok"};
      return {report.ready ? 200U : 503U, kTextContentType, std::move(report.body)};
    } catch (const std::exception& error) {
      return {500, kTextContentType, std::string(path) + ": " + error.what() + "\n"};
    } catch (...) {
      return {500, kTextContentType, std::string(path) + ": unknown error\n"};
    }
  }

  MHD_Result respond(MHD_Connection* connection, const char* url, const char* method) const {
    // The path only: libmicrohttpd has already split the query off.
    const Answer reply = answer(method, url);
    // MUST_COPY: the body's string dies with this call; the response outlives it.
    MHD_Response* response = MHD_create_response_from_buffer(reply.body.size(), const_cast<char*>(reply.body.data()),
                                                             MHD_RESPMEM_MUST_COPY);
    if (response == nullptr) return MHD_NO;  // out of memory: libmicrohttpd closes the connection
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.contentType);
    MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (reply.allow != nullptr) MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, reply.allow);
    const MHD_Result queued = MHD_queue_response(connection, reply.status, response);
    MHD_destroy_response(response);  // libmicrohttpd holds its own reference until sent
    return queued;
  }

  // libmicrohttpd's request callback, called once the head is in, then for
  // each piece of a body, then once more at its end. A GET or HEAD is answered
  // at the end, so that the connection can be kept alive (an answer queued
  // while a request is unfinished makes libmicrohttpd close the connection
  // after it); a body sent with one is discarded. Any other method is refused
  // at once, without reading what it sends: nothing served takes a body.
  static MHD_Result onRequest(void* cls, MHD_Connection* connection, const char* url, const char* method,
                              const char* /*version*/, const char* /*uploadData*/, size_t* uploadDataSize,
                              void** requestState) {
    // Markers of where a request stands: its head seen, its answer queued.
    static int headSeen = 0;
    static int answered = 0;
    const std::string_view verb = method;
    if (*requestState == nullptr && (verb == "GET" || verb == "HEAD")) {
      *requestState = &headSeen;
      return MHD_YES;
    }
    if (*uploadDataSize != 0 || *requestState == &answered) {
      *uploadDataSize = 0;
      return MHD_YES;
    }
    *requestState = &answered;
    try {
      return static_cast<const Server*>(cls)->respond(connection, url, method);
    } catch (...) {  // out of memory while answering: drop this one connection
      return MHD_NO;
    }
  }

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"  // libmicrohttpd's own format strings
  static void onLog(void* cls, const char* format, va_list arguments) {
    char text[1024];
    std::vsnprintf(text, sizeof text, format, arguments);
    try {
      static_cast<Server*>(cls)->logged(text);
    } catch (...) {  // a log line lost for want of memory: libmicrohttpd must go on
    }
  }
#pragma GCC diagnostic pop
};

HttpEndpoint::HttpEndpoint(Options options) : server_(std::make_unique<Server>()) {
  Server& server = *server_;
  server.listen = parseListenAddress(options.address);
  if (options.workerThreads < 1) {
    throw std::invalid_argument("metrics address \"" + options.address + "\": workerThreads must be at least 1");
  }
  server.options = std::move(options);
  Fd listener = bindListener(server.listen, server.options.address);

  // Threads of libmicrohttpd's own, each polling the shared listening socket
  // (epoll): a slow scraper costs a connection, not a thread; a slow callback
  // holds up the connections of its thread only.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG;
  if (server.listen.ipv6) flags |= MHD_USE_IPv6;
  const int socket = listener.get();
  server.daemon = MHD_start_daemon(flags, 0, nullptr, nullptr, &Server::onRequest, &server,
                                   // First, so that start-up complaints come to us, not stderr.
                                   MHD_OPTION_EXTERNAL_LOGGER, &Server::onLog, &server,
                                   MHD_OPTION_LISTEN_SOCKET, socket,
                                   MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(server.options.workerThreads),
                                   MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds,
                                   MHD_OPTION_CONNECTION_LIMIT, kConnectionLimit,
                                   MHD_OPTION_END);
  // The socket is libmicrohttpd's now: MHD_stop_daemon closes it, and so do
  // the failures of MHD_start_daemon that come after taking it.
  [[maybe_unused]] const int handedOver = listener.release();
  if (server.daemon == nullptr) {
    const std::lock_guard lock(server.startMutex);
    throw std::runtime_error("cannot serve HTTP on " + server.options.address + ": libmicrohttpd did not start" +
                             (server.startErrors.empty() ? "" : ": " + server.startErrors));
  }
  server.running = true;
}

// MHD_stop_daemon closes the listening socket and every connection, and joins
// its threads: no callback runs once it returns.
HttpEndpoint::~HttpEndpoint() { MHD_stop_daemon(server_->daemon); }

std::uint16_t HttpEndpoint::port() const noexcept { return server_->listen.port; }

std::string HttpEndpoint::address() const { return server_->listen.text(); }

}  // namespace kubeai::telemetry
