#include "telemetry/http_endpoint.h"

#include <arpa/inet.h>
#include <civetweb.h>
#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <charconv>
#include <cstring>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <utility>

namespace kubeai::telemetry {
namespace {

constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kTextContentType = "text/plain; charset=utf-8";

// civetweb's library state is reference-counted by mg_init_library and
// mg_exit_library, but the first initialisation is not thread-safe: two
// endpoints started at once must not race on it.
std::mutex civetwebLibraryMutex;

struct ListenAddress {
  std::string host;
  std::uint16_t port = 0;
};

// civetweb parses "listening_ports" leniently (it took "999.1.1.1:80" and its
// "8080s" means TLS), so the address is checked here and handed over only in
// the one form meant.
ListenAddress parseListenAddress(std::string_view address) {
  const auto fail = [&](std::string_view why) {
    return std::invalid_argument("metrics address \"" + std::string(address) + "\": " + std::string(why));
  };
  const std::size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) throw fail("expected HOST:PORT, e.g. 0.0.0.0:8080");
  std::string host(address.substr(0, colon));
  const std::string_view portText = address.substr(colon + 1);
  if (host.empty()) throw fail("expected HOST:PORT with a host, e.g. 0.0.0.0:8080");
  if (host.front() == '[' || host.find(':') != std::string::npos) {
    throw fail("IPv6 addresses are not supported; use an IPv4 address such as 0.0.0.0");
  }
  if (host == "localhost") host = "127.0.0.1";
  in_addr parsed{};
  if (inet_pton(AF_INET, host.c_str(), &parsed) != 1) throw fail("host must be an IPv4 address such as 0.0.0.0");
  unsigned port = 0;
  const auto [end, error] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (portText.empty() || error != std::errc() || end != portText.data() + portText.size() || port > 65535) {
    throw fail("port must be a number from 0 to 65535");
  }
  return {std::move(host), static_cast<std::uint16_t>(port)};
}

void respond(mg_connection* connection, int status, const char* contentType, std::string_view body,
             bool withBody, const char* allow = nullptr) {
  mg_response_header_start(connection, status);
  mg_response_header_add(connection, "Content-Type", contentType, -1);
  mg_response_header_add(connection, "Content-Length", std::to_string(body.size()).c_str(), -1);
  mg_response_header_add(connection, "Cache-Control", "no-store", -1);
  if (allow != nullptr) mg_response_header_add(connection, "Allow", allow, -1);
  mg_response_header_send(connection);
  if (withBody && !body.empty()) mg_write(connection, body.data(), body.size());
}

}  // namespace

struct HttpEndpoint::Server {
  Options options;
  ListenAddress listen;
  mg_context* context = nullptr;

  // What civetweb reported while starting, for the exception; afterwards its
  // messages go to options.onServerError.
  std::mutex logMutex;
  bool starting = true;
  std::string startupLog;

  std::string metricsText() const {
    std::vector<prometheus::MetricFamily> families;
    for (const auto& collectable : options.collectables) {
      if (!collectable) continue;
      auto more = collectable->Collect();
      families.insert(families.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
    }
    return prometheus::TextSerializer().Serialize(families);
  }

  int handle(mg_connection* connection, const mg_request_info& request) const {
    const std::string_view method = request.request_method != nullptr ? request.request_method : "";
    const std::string_view path = request.local_uri != nullptr ? request.local_uri : "";
    const bool known = path == "/metrics" || path == "/healthz" || path == "/readyz";
    if (!known) {
      respond(connection, 404, kTextContentType, "not found\n", method != "HEAD");
      return 404;
    }
    if (method != "GET" && method != "HEAD") {
      respond(connection, 405, kTextContentType, "method not allowed\n", true, "GET, HEAD");
      return 405;
    }
    const bool withBody = method == "GET";
    // The callbacks are the integrator's code and civetweb is C: nothing may
    // unwind through it.
    try {
      if (path == "/metrics") {
        respond(connection, 200, kMetricsContentType, metricsText(), withBody);
        return 200;
      }
      if (path == "/healthz") {
        const HealthReport report = options.liveness ? options.liveness() : HealthReport{true, "ok"};
        const int status = report.healthy ? 200 : 503;
        respond(connection, status, kTextContentType, report.body, withBody);
        return status;
      }
      const ReadyReport report = options.readiness ? options.readiness() : ReadyReport{true, "ok"};
      const int status = report.ready ? 200 : 503;
      respond(connection, status, kTextContentType, report.body, withBody);
      return status;
    } catch (const std::exception& error) {
      respond(connection, 500, kTextContentType, std::string(path) + ": " + error.what() + "\n", withBody);
    } catch (...) {
      respond(connection, 500, kTextContentType, std::string(path) + ": unknown error\n", withBody);
    }
    return 500;
  }

  // civetweb callbacks. Returning the status marks the request as handled, so
  // civetweb never looks for files to serve.
  static int beginRequest(mg_connection* connection) {
    const auto* server = static_cast<const Server*>(mg_get_user_data(mg_get_context(connection)));
    try {
      return server->handle(connection, *mg_get_request_info(connection));
    } catch (...) {  // out of memory while answering: drop the connection rather than unwind through C
      return 500;
    }
  }

  static int logMessage(const mg_connection* connection, const char* message) {
    const mg_context* context = connection != nullptr ? mg_get_context(connection) : nullptr;
    auto* server = context != nullptr ? static_cast<Server*>(mg_get_user_data(context)) : nullptr;
    if (server == nullptr || message == nullptr) return 1;
    {
      std::lock_guard lock(server->logMutex);
      if (server->starting) {
        if (!server->startupLog.empty()) server->startupLog += "; ";
        server->startupLog += message;
        return 1;
      }
    }
    if (server->options.onServerError) {
      try {
        server->options.onServerError(message);
      } catch (...) {  // a logger that throws must not unwind through civetweb
      }
    }
    return 1;  // handled: civetweb writes nothing itself
  }
};

HttpEndpoint::HttpEndpoint(Options options) : server_(std::make_unique<Server>()) {
  Server& server = *server_;
  server.listen = parseListenAddress(options.address);
  if (options.workerThreads < 1) {
    throw std::invalid_argument("metrics address \"" + options.address + "\": workerThreads must be at least 1");
  }
  server.options = std::move(options);

  const std::string listeningPorts = server.listen.host + ":" + std::to_string(server.listen.port);
  const std::string threads = std::to_string(server.options.workerThreads);
  const char* configuration[] = {
      "listening_ports", listeningPorts.c_str(),
      "num_threads", threads.c_str(),
      // A scrape or probe that has not arrived in 10 s is not coming; free the worker.
      "request_timeout_ms", "10000",
      nullptr};
  mg_callbacks callbacks{};
  callbacks.begin_request = &Server::beginRequest;
  callbacks.log_message = &Server::logMessage;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = &server;
  init.configuration_options = configuration;
  char errorText[256] = "";
  mg_error_data error{};
  error.text = errorText;
  error.text_buffer_size = sizeof errorText;

  {
    std::lock_guard lock(civetwebLibraryMutex);
    mg_init_library(0);
  }
  server.context = mg_start2(&init, &error);
  if (server.context == nullptr) {
    {
      std::lock_guard lock(civetwebLibraryMutex);
      mg_exit_library();
    }
    // civetweb's log names the cause ("cannot bind to 127.0.0.1:8080: 98 (Address
    // already in use)"); its error text only says that setting up ports failed.
    std::string why = server.startupLog.empty() ? std::string(errorText) : server.startupLog;
    if (why.empty()) why = "civetweb did not start";
    throw std::runtime_error("cannot serve HTTP on " + server.options.address + ": " + why);
  }
  {
    std::lock_guard lock(server.logMutex);
    server.starting = false;
  }
  mg_server_port bound{};
  if (mg_get_server_ports(server.context, 1, &bound) != 1 || bound.port <= 0 || bound.port > 65535) {
    mg_stop(server.context);
    std::lock_guard lock(civetwebLibraryMutex);
    mg_exit_library();
    throw std::runtime_error("cannot serve HTTP on " + server.options.address + ": the bound port is unknown");
  }
  server.listen.port = static_cast<std::uint16_t>(bound.port);
}

HttpEndpoint::~HttpEndpoint() {
  mg_stop(server_->context);  // joins the master and worker threads
  std::lock_guard lock(civetwebLibraryMutex);
  mg_exit_library();
}

std::uint16_t HttpEndpoint::port() const noexcept { return server_->listen.port; }

std::string HttpEndpoint::address() const { return server_->listen.host + ":" + std::to_string(server_->listen.port); }

}  // namespace kubeai::telemetry
