#include "telemetry/http_endpoint.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "telemetry/telemetry.h"

namespace kubeai::telemetry {
namespace {

struct HttpResponse {
  int status = 0;
  std::string headers;  // the head without the status line, lower-cased names kept as sent
  std::string body;
};

// One HTTP/1.0 exchange (the server closes after answering), so the tests
// see exactly what a scraper or the kubelet gets; over IPv4 loopback unless
// `ipv6`, then over ::1.
HttpResponse request(std::uint16_t port, std::string_view method, std::string_view path, bool ipv6 = false) {
  const int fd = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  if (ipv6) {
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    address.sin6_addr = in6addr_loopback;
    REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  } else {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  }
  const std::string out = std::string(method) + " " + std::string(path) + " HTTP/1.0\r\nHost: localhost\r\n\r\n";
  REQUIRE(send(fd, out.data(), out.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(out.size()));
  std::string in;
  char buffer[4096];
  for (ssize_t got = 0; (got = recv(fd, buffer, sizeof buffer, 0)) > 0;) in.append(buffer, static_cast<std::size_t>(got));
  close(fd);

  HttpResponse response;
  const std::size_t headEnd = in.find("\r\n\r\n");
  REQUIRE(headEnd != std::string::npos);
  REQUIRE(in.rfind("HTTP/1.", 0) == 0);
  response.status = std::stoi(in.substr(in.find(' ') + 1, 3));
  response.headers = in.substr(0, headEnd);
  response.body = in.substr(headEnd + 4);
  return response;
}

// Whether this machine has IPv6 loopback (a container may be IPv4 only).
bool haveIpv6Loopback() {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  const bool bound = bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return bound;
}

// A connection to 127.0.0.1:port is refused (nothing listens there over IPv4).
bool refusedOnIpv4(std::uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool refused = connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0;
  close(fd);
  return refused;
}

HttpEndpoint::Options loopback() {
  HttpEndpoint::Options options;
  options.address = "127.0.0.1:0";
  options.workerThreads = 2;
  return options;
}

TEST_CASE("/metrics serves every collectable in the Prometheus text format") {
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("kubeai_test_things_total").Help("things").Register(*registry).Add({{"kind", "a"}}).Increment(3);
  auto extra = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("kubeai_test_extra_total").Help("extra").Register(*extra).Add({}).Increment();

  HttpEndpoint::Options options = loopback();
  options.collectables = {registry, extra};
  HttpEndpoint endpoint(options);
  REQUIRE(endpoint.port() != 0);
  CHECK(endpoint.address() == "127.0.0.1:" + std::to_string(endpoint.port()));

  const HttpResponse metrics = request(endpoint.port(), "GET", "/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.headers.find("Content-Type: text/plain; version=0.0.4") != std::string::npos);
  CHECK(metrics.body.find("# TYPE kubeai_test_things_total counter\n") != std::string::npos);
  CHECK(metrics.body.find("kubeai_test_things_total{kind=\"a\"} 3\n") != std::string::npos);
  CHECK(metrics.body.find("kubeai_test_extra_total 1\n") != std::string::npos);

  // Live values, not a snapshot taken at start.
  prometheus::BuildCounter().Name("kubeai_test_later_total").Help("later").Register(*registry).Add({}).Increment();
  CHECK(request(endpoint.port(), "GET", "/metrics?x=1").body.find("kubeai_test_later_total 1\n") != std::string::npos);
}

TEST_CASE("/metrics serves Telemetry's families") {
  Telemetry telemetry;
  core::Policy policy;
  policy.metadata.namespace_ = "llm";
  policy.metadata.name = "chat";
  policy.spec.targetRef.name = "chat-server";
  core::Decision decision;
  decision.currentReplicas = 1;
  decision.desiredReplicas = 4;
  telemetry.recordDecision(policy, decision, core::Observation{}, false, std::nullopt, 1e-4);
  telemetry.recordRpc("GetMetrics", 0, 1e-4);

  HttpEndpoint::Options options = loopback();
  options.collectables = telemetry.collectables();
  HttpEndpoint endpoint(options);
  const std::string body = request(endpoint.port(), "GET", "/metrics").body;
  CHECK(body.find("kubeai_autoscaler_desired_replicas{namespace=\"llm\",policy=\"chat\",target=\"chat-server\"} 4\n") !=
        std::string::npos);
  CHECK(body.find("kubeai_scaler_grpc_requests_total{code=\"OK\",method=\"GetMetrics\"} 1\n") != std::string::npos);
  CHECK(body.find("kubeai_autoscaler_reconcile_duration_seconds_count 1\n") != std::string::npos);

  telemetry.removePolicy("llm", "chat");
  CHECK(request(endpoint.port(), "GET", "/metrics").body.find("policy=\"chat\"") == std::string::npos);
}

TEST_CASE("/healthz, /readyz and everything else") {
  std::atomic<bool> ready{false};
  HttpEndpoint::Options options = loopback();
  options.readiness = [&] {
    return ready ? ReadyReport{true, "ok"} : ReadyReport{false, "not ready: default/chat pending\n"};
  };
  HttpEndpoint endpoint(options);
  const std::uint16_t port = endpoint.port();

  const HttpResponse health = request(port, "GET", "/healthz");
  CHECK(health.status == 200);
  CHECK(health.body == "ok");

  const HttpResponse notReady = request(port, "GET", "/readyz");
  CHECK(notReady.status == 503);
  CHECK(notReady.body == "not ready: default/chat pending\n");
  ready = true;
  const HttpResponse isReady = request(port, "GET", "/readyz");
  CHECK(isReady.status == 200);
  CHECK(isReady.body == "ok");

  struct Row {
    const char* method;
    const char* path;
    int status;
  };
  for (const Row& row : {
           Row{"GET", "/", 404},                  // no index
           Row{"GET", "/metricsx", 404},          // no prefix matching
           Row{"GET", "/metrics/extra", 404},     // nor below a known path
           Row{"GET", "/../etc/passwd", 404},     // no file serving at all
           Row{"POST", "/metrics", 405},          // read-only
           Row{"DELETE", "/readyz", 405},
           Row{"HEAD", "/healthz", 200},          // as GET, without the body
       }) {
    CAPTURE(row.method);
    CAPTURE(row.path);
    const HttpResponse response = request(port, row.method, row.path);
    CHECK(response.status == row.status);
    if (std::string_view(row.method) == "HEAD") CHECK(response.body.empty());
  }
  CHECK(request(port, "POST", "/metrics").headers.find("Allow: GET, HEAD") != std::string::npos);
}

TEST_CASE("/healthz answers the liveness callback: 200 while healthy, 503 with why when not") {
  std::atomic<bool> healthy{true};
  HttpEndpoint::Options options = loopback();
  options.liveness = [&] {
    return healthy ? HealthReport{true, "ok"} : HealthReport{false, "evaluation loop stuck: no cycle for 61s\n"};
  };
  options.readiness = [] { return ReadyReport{true, "ok\n"}; };
  HttpEndpoint endpoint(options);
  CHECK(request(endpoint.port(), "GET", "/healthz").status == 200);
  CHECK(request(endpoint.port(), "GET", "/healthz").body == "ok");
  healthy = false;
  const HttpResponse stuck = request(endpoint.port(), "GET", "/healthz");
  CHECK(stuck.status == 503);
  CHECK(stuck.body == "evaluation loop stuck: no cycle for 61s\n");
  CHECK(request(endpoint.port(), "HEAD", "/healthz").status == 503);
  // Liveness and readiness are separate questions.
  CHECK(request(endpoint.port(), "GET", "/readyz").status == 200);
  healthy = true;
  CHECK(request(endpoint.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("a liveness callback that throws is answered with 500") {
  HttpEndpoint::Options options = loopback();
  options.liveness = []() -> HealthReport { throw std::runtime_error("clock unavailable"); };
  HttpEndpoint endpoint(options);
  const HttpResponse response = request(endpoint.port(), "GET", "/healthz");
  CHECK(response.status == 500);
  CHECK(response.body.find("/healthz: clock unavailable") != std::string::npos);
}

TEST_CASE("a readiness callback that throws is answered with 500, and the server keeps serving") {
  HttpEndpoint::Options options = loopback();
  options.readiness = []() -> ReadyReport { throw std::runtime_error("store unavailable"); };
  HttpEndpoint endpoint(options);
  const HttpResponse response = request(endpoint.port(), "GET", "/readyz");
  CHECK(response.status == 500);
  CHECK(response.body.find("store unavailable") != std::string::npos);
  CHECK(request(endpoint.port(), "GET", "/healthz").status == 200);
}

TEST_CASE("port 0 picks a free port per endpoint, and a port in use is a clear start-up error") {
  HttpEndpoint first(loopback());
  HttpEndpoint second(loopback());
  CHECK(first.port() != second.port());
  CHECK(request(first.port(), "GET", "/healthz").status == 200);
  CHECK(request(second.port(), "GET", "/healthz").status == 200);

  HttpEndpoint::Options taken = loopback();
  taken.address = "127.0.0.1:" + std::to_string(first.port());
  try {
    HttpEndpoint third(taken);
    FAIL("binding a port in use must fail");
  } catch (const std::runtime_error& error) {
    const std::string message = error.what();
    CHECK(message.find("cannot serve HTTP on " + taken.address) != std::string::npos);
    CHECK(message.find("in use") != std::string::npos);
  }
  CHECK(request(first.port(), "GET", "/healthz").status == 200);  // the first one is unharmed
}

TEST_CASE("malformed addresses are refused before anything is bound, naming the address") {
  struct Row {
    const char* address;
    const char* says;
  };
  for (const Row& row : {
           Row{"8080", "expected HOST:PORT"},             // no host
           Row{":8080", "with a host"},                   // empty host
           Row{"127.0.0.1:", "port must be"},             // no port
           Row{"127.0.0.1:http", "port must be"},         // names are not resolved
           Row{"127.0.0.1:70000", "port must be"},        // out of range
           Row{"127.0.0.1:8080s", "port must be"},        // civetweb's TLS suffix is not ours
           Row{"127.0.0.1:-1", "port must be"},
           Row{"999.1.1.1:80", "IPv4 address"},           // civetweb, the server before, took it
           Row{"example.com:80", "IPv4 address"},         // names are not resolved
           Row{"::1:8080", "in brackets"},                // IPv6 without brackets: where does the port start?
           Row{"[::1:8080", "in brackets"},               // unclosed
           Row{"[]:8080", "in brackets"},                 // empty
           Row{"[::1]:", "port must be"},
           Row{"[127.0.0.1]:8080", "IPv6 address"},       // IPv4 in brackets
           Row{"[::1]", "expected [IPV6]:PORT"},          // no port
           Row{"[fe80::1%eth0]:8080", "IPv6 address"},    // zones are not supported
       }) {
    CAPTURE(row.address);
    HttpEndpoint::Options options = loopback();
    options.address = row.address;
    try {
      HttpEndpoint endpoint(options);
      FAIL("must be refused");
    } catch (const std::invalid_argument& error) {
      const std::string message = error.what();
      CHECK(message.find(std::string("\"") + row.address + "\"") != std::string::npos);
      CHECK(message.find(row.says) != std::string::npos);
    }
  }

  HttpEndpoint::Options localhost = loopback();
  localhost.address = "localhost:0";
  HttpEndpoint endpoint(localhost);
  CHECK(endpoint.address().rfind("127.0.0.1:", 0) == 0);
}

TEST_CASE("an IPv6 address: [::1] answers /healthz and /metrics over IPv6, and only there") {
  if (!haveIpv6Loopback()) {
    MESSAGE("skipped: this machine has no IPv6 loopback (::1)");
    return;
  }
  auto registry = std::make_shared<prometheus::Registry>();
  prometheus::BuildCounter().Name("kubeai_test_v6_total").Help("v6").Register(*registry).Add({}).Increment(2);
  HttpEndpoint::Options options = loopback();
  options.address = "[::1]:0";
  options.collectables = {registry};
  HttpEndpoint endpoint(options);
  REQUIRE(endpoint.port() != 0);
  CHECK(endpoint.address() == "[::1]:" + std::to_string(endpoint.port()));

  const HttpResponse health = request(endpoint.port(), "GET", "/healthz", true);
  CHECK(health.status == 200);
  CHECK(health.body == "ok");
  const HttpResponse metrics = request(endpoint.port(), "GET", "/metrics", true);
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("kubeai_test_v6_total 2\n") != std::string::npos);
  CHECK(request(endpoint.port(), "GET", "/readyz", true).status == 200);
  // An IPv6 address is IPv6 only: 127.0.0.1 on the same port is not this server.
  CHECK(refusedOnIpv4(endpoint.port()));
}

TEST_CASE("dual stack: [::] answers on 127.0.0.1 and on ::1 from one socket") {
  if (!haveIpv6Loopback()) {
    MESSAGE("skipped: this machine has no IPv6 loopback (::1)");
    return;
  }
  std::atomic<bool> healthy{true};
  HttpEndpoint::Options options = loopback();
  options.address = "[::]:0";
  options.liveness = [&] { return healthy ? HealthReport{true, "ok"} : HealthReport{false, "stuck\n"}; };
  HttpEndpoint endpoint(options);
  CHECK(endpoint.address() == "[::]:" + std::to_string(endpoint.port()));
  CHECK(request(endpoint.port(), "GET", "/healthz", false).status == 200);
  CHECK(request(endpoint.port(), "GET", "/healthz", true).status == 200);
  healthy = false;
  // The same server behind both: one callback, one answer.
  CHECK(request(endpoint.port(), "GET", "/healthz", false).body == "stuck\n");
  CHECK(request(endpoint.port(), "GET", "/healthz", true).body == "stuck\n");
  CHECK(request(endpoint.port(), "GET", "/metrics", false).status == 200);
  CHECK(request(endpoint.port(), "GET", "/metrics", true).status == 200);
}

TEST_CASE("the default address is dual stack on port 8080") {
  CHECK(HttpEndpoint::Options{}.address == "[::]:8080");
}

// What libmicrohttpd sends back for `raw`: the whole reply, up to its close.
std::string exchangeRaw(std::uint16_t port, std::string_view raw) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(send(fd, raw.data(), raw.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(raw.size()));
  std::string in;
  char buffer[1024];
  for (ssize_t got = 0; (got = recv(fd, buffer, sizeof buffer, 0)) > 0;) in.append(buffer, static_cast<std::size_t>(got));
  close(fd);
  return in;
}

TEST_CASE("a request that is not HTTP is refused, reported, and the server keeps serving") {
  std::mutex mutex;
  std::vector<std::string> complaints;
  HttpEndpoint::Options options = loopback();
  options.onServerError = [&](std::string_view message) {
    const std::lock_guard lock(mutex);
    complaints.emplace_back(message);
  };
  HttpEndpoint endpoint(options);
  struct Row {
    std::string request;
    const char* answer;  // the start of libmicrohttpd's reply; "" for a close without one
  };
  for (const Row& row : {
           Row{"GET /healthz\r\n\r\n", "HTTP/1.1 400 "},         // no version (HTTP/0.9 is not served)
           Row{"GET /healthz SPDY/3\r\n\r\n", "HTTP/1.1 400 "},  // not HTTP
           // A head beyond libmicrohttpd's per-connection memory (32 KiB).
           Row{"GET /healthz HTTP/1.0\r\nX-Big: " + std::string(40'000, 'a') + "\r\n\r\n", "HTTP/1.1 431 "},
           Row{"GARBAGE\r\n\r\n", ""},                           // not even a request line: closed unanswered
       }) {
    CAPTURE(row.request.substr(0, 30));
    const std::string in = exchangeRaw(endpoint.port(), row.request);
    if (*row.answer == '\0') {
      CHECK(in.empty());
    } else {
      CHECK(in.rfind(row.answer, 0) == 0);
      CHECK(in.find("Connection: close") != std::string::npos);
    }
  }
  CHECK(request(endpoint.port(), "GET", "/healthz").status == 200);
  const std::lock_guard lock(mutex);
  // libmicrohttpd's error log reaches onServerError: one line per refused request.
  CHECK(complaints.size() >= 3);
  CHECK(std::count_if(complaints.begin(), complaints.end(),
                      [](const std::string& complaint) { return complaint.find("400") != std::string::npos; }) >= 2);
}

TEST_CASE("a request with a body: refused unread unless a GET, whose body is dropped") {
  HttpEndpoint endpoint(loopback());
  const std::string in =
      exchangeRaw(endpoint.port(), "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  CHECK(in.rfind("HTTP/1.1 405 ", 0) == 0);
  CHECK(in.find("Allow: GET, HEAD") != std::string::npos);
  CHECK(exchangeRaw(endpoint.port(), "PUT /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            .rfind("HTTP/1.1 404 ", 0) == 0);
  // A GET's body is read and dropped, in any framing: the answer is the GET's.
  for (const char* raw : {"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
                          "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                          "5\r\nhello\r\n0\r\n\r\n"}) {
    CAPTURE(raw);
    const std::string answer = exchangeRaw(endpoint.port(), raw);
    CHECK(answer.rfind("HTTP/1.1 200 ", 0) == 0);
    CHECK(answer.substr(answer.find("\r\n\r\n") + 4) == "ok");
  }
}

TEST_CASE("HTTP/1.1 keep-alive: several requests on one connection") {
  HttpEndpoint endpoint(loopback());
  const std::string in = exchangeRaw(endpoint.port(),
                                     "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                     "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  std::size_t answers = 0;
  for (std::size_t at = in.find("HTTP/1.1 200 "); at != std::string::npos; at = in.find("HTTP/1.1 200 ", at + 1)) ++answers;
  CHECK(answers == 2);
}

}  // namespace
}  // namespace kubeai::telemetry
