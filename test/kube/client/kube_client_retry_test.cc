// KubeClient's retries against a small HTTP server of the test's own, for what
// the emulator cannot answer: a 5xx with Retry-After (retried for a GET only),
// a 429 without it, Retry-After 0. The 429 storms are in
// kube_client_retry_emulator_test.cc.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

#include "fake_http_server.h"
#include "kube/client/kube_client.h"
#include "support/wait.h"

namespace {

using kubeai::kube::KubeClient;
using kubeai::kube::KubeConfig;
using kubeai::testing::FakeConnection;
using kubeai::testing::FakeHttpServer;
using kubeai::testing::FakeRequest;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

}  // namespace

TEST_CASE("request: a 5xx with Retry-After is retried for a GET only, a 429 only with Retry-After") {
  struct Row {
    const char* name;
    const char* method;
    int failStatus;
    const char* retryAfter;  // the header's value; nullptr: no header
    int requests;            // how many reached the server
    long status;             // the answer request() returned
    std::optional<std::chrono::seconds> exposed;
  };
  const Row rows[] = {
      // An API server shutting down asks for a second: a read is sent again.
      {"GET 503 Retry-After 1", "GET", 503, "1", 2, 200, std::nullopt},
      // A write answered 5xx may have been carried out: the caller decides, told when to come back.
      {"POST 503 Retry-After 1", "POST", 503, "1", 1, 503, 1s},
      {"PATCH 500 Retry-After 2", "PATCH", 500, "2", 1, 500, 2s},
      // Without Retry-After a 429 is the caller's, as in client-go.
      {"GET 429 without Retry-After", "GET", 429, nullptr, 1, 429, std::nullopt},
      // Retry-After 0 is waited as 1 s (no hot loop), then sent again.
      {"GET 429 Retry-After 0", "GET", 429, "0", 2, 200, std::nullopt},
      // An HTTP-date is not read (client-go neither): returned, nothing exposed.
      {"GET 429 Retry-After date", "GET", 429, "Wed, 21 Oct 2015 07:28:00 GMT", 1, 429, std::nullopt},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    std::atomic<int> calls{0};
    FakeHttpServer server([&](const FakeRequest&, FakeConnection& connection) {
      if (++calls == 1) {
        const std::string header = row.retryAfter == nullptr ? "" : std::string("Retry-After: ") + row.retryAfter + "\r\n";
        connection.respond(row.failStatus, R"({"kind":"Status"})", "application/json", header);
      } else {
        connection.respond(200, "{}");
      }
    });
    KubeConfig config;
    config.server = server.url();
    auto client = KubeClient::create(config);
    REQUIRE(client.ok());
    const auto start = Clock::now();
    const auto response = client.value()->request(row.method, "/api/v1/namespaces/default/configmaps/x",
                                                  std::string(row.method) == "GET" ? "" : "{}", "application/json");
    REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
    CHECK(response.value().status == row.status);
    CHECK(response.value().retryAfter == row.exposed);
    CHECK(calls.load() == row.requests);
    if (row.requests == 2) {
      CHECK(Clock::now() - start >= 900ms);  // the wait came before the second request
    }
  }
}
