#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/loop_liveness.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace kubeai::telemetry {

// What /readyz answers: 200 with `body` when ready, 503 with it otherwise
// (the server lists its pending and stale policies there).
struct ReadyReport {
  bool ready = false;
  std::string body;
};

// The plain-HTTP side of the server, for Prometheus and the kubelet:
//   GET /metrics  the collectables, Prometheus text format 0.0.4
//   GET /healthz  200 or 503 from the liveness callback (serve: LoopLiveness)
//   GET /readyz   200 or 503 from the readiness callback
// Anything else is 404 (405 for a method other than GET or HEAD).
//
// GNU libmicrohttpd serves it, on `workerThreads` threads of its own that
// share the listening socket; a connection idle for 10 s is closed, and past
// 128 open connections new ones are refused (onServerError says so). The
// callbacks run on those threads, possibly concurrently; they must be
// thread-safe and must not block for long (kubelet probes time out after a
// second by default, and a slow callback holds up its thread's connections).
class HttpEndpoint {
 public:
  struct Options {
    // "HOST:PORT": "0.0.0.0:8080" (IPv4; "localhost" means 127.0.0.1),
    // "[::1]:8080" (IPv6), "[::]:8080" (dual stack: IPv6 and IPv4 on one
    // socket; IPv4 alone on a kernel without IPv6). See ListenAddress.
    // Port 0 binds a free port chosen by the kernel: read it from port().
    std::string address = "[::]:8080";
    // Exported on /metrics in this order (Telemetry::collectables(), a
    // prometheus::Registry of your own, ...), collected afresh on each scrape.
    std::vector<std::shared_ptr<const prometheus::Collectable>> collectables;
    // Unset: always ready, body "ok". An exception from it is answered with 500.
    std::function<ReadyReport()> readiness;
    // Unset: always healthy, body "ok" (alive while it serves HTTP at all).
    // An exception from it is answered with 500.
    std::function<HealthReport()> liveness;
    // The server's own complaints once serving (libmicrohttpd's error log:
    // accept failing for want of descriptors, the connection limit reached,
    // a malformed request, ...); called on its threads.
    // Unset: dropped.
    std::function<void(std::string_view message)> onServerError;
    int workerThreads = 4;
  };

  // Binds and starts serving before returning. Throws std::invalid_argument
  // for a malformed address and std::runtime_error when it cannot be bound
  // (in use, not a local address, no permission); both messages name the address.
  explicit HttpEndpoint(Options options);
  // Stops accepting, closes every connection, joins the threads: no callback
  // runs once it returns.
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  // The bound port: the one asked for, or the kernel's choice for port 0.
  [[nodiscard]] std::uint16_t port() const noexcept;
  // "HOST:PORT" as bound, for logs: "127.0.0.1:41733", "[::]:8080".
  [[nodiscard]] std::string address() const;

 private:
  struct Server;  // the libmicrohttpd daemon and what its callbacks need
  std::unique_ptr<Server> server_;
};

}  // namespace kubeai::telemetry
