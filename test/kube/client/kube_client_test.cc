// KubeClient against a small HTTP server of the test's own: headers,
// connection reuse, 401 and a refreshed token, errors, and watch-like streams
// (chunked lines, stop, idle timeout, early end), concurrently.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "fake_http_server.h"
#include "kube/client/kube_client.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace {

using kubeai::kube::KubeClient;
using kubeai::kube::KubeConfig;
using kubeai::testing::concat;
using kubeai::testing::FakeConnection;
using kubeai::testing::FakeHttpServer;
using kubeai::testing::FakeRequest;
using kubeai::testing::stretched;
using kubeai::testing::TempDir;
using namespace std::chrono_literals;

std::unique_ptr<KubeClient> makeClient(KubeConfig config) {
  auto client = KubeClient::create(std::move(config));
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(client).value();
}

KubeConfig plain(const FakeHttpServer& server, std::string token = "secret-token") {
  KubeConfig config;
  config.server = server.url();
  config.token = std::move(token);
  return config;
}

// Echoes the method, path and body as JSON-ish text.
void echo(const FakeRequest& request, FakeConnection& connection) {
  connection.respond(200, concat(request.method, " ", request.target, " ", request.body));
}

}  // namespace

TEST_CASE("request: methods, bodies, headers, one reused connection") {
  FakeHttpServer server(echo);
  auto client = makeClient(plain(server));
  const auto get = client->request("GET", "/apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500");
  REQUIRE(get.ok());
  CHECK(get.value().status == 200);
  CHECK(get.value().body == "GET /apis/kubeai.io/v1alpha1/aiinferenceautoscalerpolicies?limit=500 ");
  const auto post = client->request("POST", "/api/v1/namespaces/a/events", R"({"kind":"Event"})", "application/json");
  CHECK(post.value().body == R"(POST /api/v1/namespaces/a/events {"kind":"Event"})");
  const auto patch = client->request("PATCH", "/x/status", R"({"status":{}})", "application/merge-patch+json");
  CHECK(patch.value().body == R"(PATCH /x/status {"status":{}})");
  const auto put = client->request("PUT", "/x", "{}", "application/json");
  CHECK(put.value().body == "PUT /x {}");
  const auto del = client->request("DELETE", "/x");
  CHECK(del.value().body == "DELETE /x ");
  const auto bad = client->request("TRACE", "/x");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == concat("TRACE ", server.url(), "/x: unsupported method"));

  const auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  for (const auto& request : requests) {
    CHECK(request.header("authorization") == "Bearer secret-token");
    CHECK(request.header("user-agent") == "kubeai-scaler");
    CHECK(request.header("accept") == "application/json");
  }
  CHECK(requests[2].header("content-type") == "application/merge-patch+json");
  CHECK(server.connections() == 1);  // kept alive and reused
}

TEST_CASE("request: a 401 re-reads the token file and retries once, a static token is not retried") {
  const TempDir dir;
  const auto tokenFile = dir.write("token", "old\n");
  std::atomic<int> calls{0};
  FakeHttpServer server([&](const FakeRequest& request, FakeConnection& connection) {
    ++calls;
    if (request.header("authorization") == "Bearer new") {
      connection.respond(200, "ok");
    } else {
      connection.respond(401, R"({"kind":"Status","code":401})");
    }
  });
  KubeConfig config;
  config.server = server.url();
  config.tokenFile = tokenFile;
  auto client = makeClient(config);
  const auto first = client->request("GET", "/api");
  REQUIRE(first.ok());
  CHECK(first.value().status == 401);  // same token after re-reading: no second try
  CHECK(calls == 1);
  dir.write("token", "new\n");  // rotated, within the minute the client would otherwise cache it
  const auto second = client->request("GET", "/api");
  REQUIRE(second.ok());
  CHECK(second.value().status == 200);
  CHECK(calls == 3);

  auto fixed = makeClient(plain(server, "static"));
  CHECK(fixed->request("GET", "/api").value().status == 401);
  CHECK(calls == 4);
}

TEST_CASE("request: transport errors name the method and URL, never the token") {
  std::string url;
  {
    FakeHttpServer gone(echo);
    url = gone.url();
  }  // stopped: nothing listens there now
  auto client = makeClient([&] {
    KubeConfig config;
    config.server = url;
    config.token = "do-not-leak";
    return config;
  }());
  const auto refused = client->request("GET", "/api/v1/namespaces");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.starts_with(concat("GET ", url, "/api/v1/namespaces: ")));
  CHECK(refused.error().message.find("do-not-leak") == std::string::npos);

  FakeHttpServer slow([](const FakeRequest&, FakeConnection& connection) {
    connection.sleepFor(30s);
    connection.respond(200, "late");
  });
  auto slowClient = makeClient(plain(slow));
  const auto start = std::chrono::steady_clock::now();
  const auto timedOut = slowClient->request("GET", "/slow", {}, {}, 300ms);
  REQUIRE_FALSE(timedOut.ok());
  CHECK(timedOut.error().message.find("Timeout") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < stretched(10s));

  const auto badServer = KubeClient::create([] {
    KubeConfig config;
    config.server = "ftp://host";
    return config;
  }());
  REQUIRE_FALSE(badServer.ok());
  CHECK(badServer.error().message.find("the scheme must be https") != std::string::npos);
}

TEST_CASE("create: server URL errors show scheme://host:port, never credentials or a query") {
  struct Row {
    std::string server;
    std::string expected;  // the whole message
  };
  const std::string userinfo =
      "credentials (user:password@) are not accepted in the server URL: give the kubeconfig user a token, a "
      "client certificate or an exec plugin";
  const std::vector<Row> rows = {
      // The reviewer's case: user, password and a token in the query.
      {"https://admin:hunter2@host/?token=s3cr3t", "kubernetes server \"https://host\": " + userinfo},
      // Userinfo alone, a password alone, with a port and a path.
      {"https://admin:hunter2@host:6443/k8s/clusters/c-1", "kubernetes server \"https://host:6443\": " + userinfo},
      {"https://:hunter2@host", "kubernetes server \"https://host\": " + userinfo},
      {"https://admin@host", "kubernetes server \"https://host\": " + userinfo},
      // A query or a fragment, which may carry a token too.
      {"https://host:6443/?token=s3cr3t", "kubernetes server \"https://host:6443\": a query or a fragment is not accepted in the server URL"},
      {"https://host#s3cr3t", "kubernetes server \"https://host\": a query or a fragment is not accepted in the server URL"},
      // Another scheme, with credentials that must not show either.
      {"ftp://admin:hunter2@host/?token=s3cr3t", "kubernetes server \"ftp://host\": the scheme must be https (or http)"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.server);
    KubeConfig config;
    config.server = row.server;
    const auto client = KubeClient::create(config);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().message == row.expected);
  }
  // A URL curl cannot parse: still no userinfo, path or query in the message.
  for (const std::string server : {"https://admin:hunter2@host:notaport/?token=s3cr3t",
                                   "https://admin:hun/ter?2@host:99999/x?token=s3cr3t", "admin:hunter2@host:port?token=s3cr3t"}) {
    CAPTURE(server);
    KubeConfig config;
    config.server = server;
    const auto client = KubeClient::create(config);
    REQUIRE_FALSE(client.ok());
    const std::string& message = client.error().message;
    CHECK(message.starts_with("kubernetes server \""));
    for (const char* secret : {"admin", "hunter", "ter", "s3cr3t", "token"}) {
      CHECK_MESSAGE(message.find(secret) == std::string::npos, message);
    }
  }
}

TEST_CASE("request: a kubeconfig end to end, and an IPv6 server in messages") {
  FakeHttpServer server(echo);
  const TempDir dir;
  dir.write("token", "from-file\n");
  const auto file = dir.write("config", concat("current-context: c\ncontexts:\n- {name: c, context: {cluster: k, user: u}}\n",
                                               "clusters:\n- {name: k, cluster: {server: '", server.url(), "/'}}\n",
                                               "users:\n- {name: u, user: {tokenFile: token}}\n"));
  const auto config = kubeai::kube::loadKubeConfig(file);
  REQUIRE(config.ok());
  auto client = makeClient(config.value());
  CHECK(client->request("GET", "/version").value().body == "GET /version ");  // no double slash
  CHECK(server.requests().at(0).header("authorization") == "Bearer from-file");

  KubeConfig v6;
  v6.server = "http://[::1]:1";  // nothing listens on port 1
  const auto refused = makeClient(v6)->request("GET", "/api", {}, {}, 5s);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.starts_with("GET http://[::1]:1/api: "));
}

TEST_CASE("stream: lines split across chunks, CRLF, a last line without newline") {
  FakeHttpServer server([](const FakeRequest&, FakeConnection& connection) {
    connection.startChunked(200);
    connection.chunk("{\"type\":\"ADDED\"}\n{\"type\":");
    connection.sleepFor(50ms);
    connection.chunk("\"MODIFIED\"}\r\n\n");
    connection.chunk("{\"type\":\"DELETED\"}");
    connection.endChunked();
  });
  auto client = makeClient(plain(server));
  std::vector<std::string> lines;
  const auto status = client->stream("/watch", [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  }, std::stop_token{});
  REQUIRE_MESSAGE(status.ok(), (status.ok() ? "" : status.error().message));
  CHECK(status.value() == 200);
  CHECK(lines == std::vector<std::string>{R"({"type":"ADDED"})", R"({"type":"MODIFIED"})", R"({"type":"DELETED"})"});
  CHECK(server.requests().at(0).header("authorization") == "Bearer secret-token");
}

TEST_CASE("stream: ends promptly on stop, on onLine false, and on an idle timeout") {
  std::atomic<bool> sendLines{true};
  FakeHttpServer server([&](const FakeRequest& request, FakeConnection& connection) {
    connection.startChunked(200);
    if (request.target == "/lines") {
      for (int i = 0; i < 1000 && connection.chunk(concat("{\"n\":", std::to_string(i), "}\n")); ++i) {
        connection.sleepFor(10ms);
      }
    }
    connection.sleepFor(60s);  // then silent; cut short when the server stops
    connection.close();
  });
  auto client = makeClient(plain(server));

  SUBCASE("stop_token") {
    std::stop_source stop;
    std::atomic<int> lines{0};
    std::jthread stopper([&] {
      kubeai::testing::waitUntil([&] { return lines.load() >= 1; }, stretched(10s), "a first line");
      stop.request_stop();
    });
    const auto start = std::chrono::steady_clock::now();
    const auto status = client->stream("/lines", [&](std::string_view) {
      ++lines;
      return true;
    }, stop.get_token());
    const auto end = std::chrono::steady_clock::now();
    REQUIRE(status.ok());
    CHECK(status.value() == 200);
    CHECK(end - start < stretched(5s));
  }
  SUBCASE("stop while silent returns within about 100 ms") {
    std::stop_source stop;
    std::chrono::steady_clock::time_point requested;
    std::jthread stopper([&] {
      kubeai::testing::waitUntil([&] { return server.requests().size() >= 1; }, stretched(10s), "the request");
      std::this_thread::sleep_for(200ms);  // let the stream sit in its poll
      requested = std::chrono::steady_clock::now();
      stop.request_stop();
    });
    const auto status = client->stream("/silent", [](std::string_view) { return true; }, stop.get_token());
    const auto latency = std::chrono::steady_clock::now() - requested;
    stopper.join();
    REQUIRE(status.ok());
    CHECK(latency < stretched(1000ms));  // woken at once; generous for a loaded machine
  }
  SUBCASE("onLine false") {
    int seen = 0;
    const auto status = client->stream("/lines", [&](std::string_view) { return ++seen < 3; }, std::stop_token{});
    REQUIRE(status.ok());
    CHECK(status.value() == 200);
    CHECK(seen == 3);
  }
  SUBCASE("idle timeout") {
    const auto start = std::chrono::steady_clock::now();
    const auto status = client->stream("/silent", [](std::string_view) { return true; }, std::stop_token{}, 500ms);
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().message == concat("GET ", server.url(), "/silent: no data for 500 ms"));
    CHECK(std::chrono::steady_clock::now() - start < stretched(10s));
  }
}

TEST_CASE("stream: a non-2xx status is returned and its body not passed on, and a 401 refreshes the token") {
  const TempDir dir;
  const auto tokenFile = dir.write("token", "old");
  FakeHttpServer server([](const FakeRequest& request, FakeConnection& connection) {
    if (request.header("authorization") != "Bearer new") {
      connection.respond(401, R"({"kind":"Status","code":401})");
    } else {
      connection.respond(410, R"({"kind":"Status","code":410})");
    }
  });
  KubeConfig config;
  config.server = server.url();
  config.tokenFile = tokenFile;
  auto client = makeClient(config);
  int lines = 0;
  auto onLine = [&](std::string_view) {
    ++lines;
    return true;
  };
  CHECK(client->request("GET", "/api").value().status == 401);  // the client has read "old"
  dir.write("token", "new");  // rotated since
  CHECK(client->stream("/watch", onLine, std::stop_token{}).value() == 401);
  CHECK(client->stream("/watch", onLine, std::stop_token{}).value() == 410);  // the caller's retry: new token
  CHECK(lines == 0);
}

TEST_CASE("thread safety: parallel requests while a stream runs") {
  FakeHttpServer server([](const FakeRequest& request, FakeConnection& connection) {
    if (request.target == "/watch") {
      connection.startChunked(200);
      while (connection.chunk("{}\n") && connection.sleepFor(20ms)) {
      }
      connection.close();
      return;
    }
    connection.respond(200, request.target);
  });
  auto client = makeClient(plain(server));
  std::stop_source stop;
  std::atomic<int> events{0};
  std::jthread watcher([&] {
    const auto status = client->stream("/watch", [&](std::string_view) {
      ++events;
      return true;
    }, stop.get_token());
    CHECK(status.ok());
  });
  std::atomic<int> good{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 25; ++i) {
          const std::string path = concat("/t", std::to_string(t), "/", std::to_string(i));
          const auto response = client->request("GET", path);
          if (response.ok() && response.value().body == path) {
            ++good;
          }
        }
      });
    }
  }
  CHECK(good == 100);
  kubeai::testing::waitUntil([&] { return events.load() > 0; }, stretched(10s), "watch events");
  stop.request_stop();
  watcher.join();
  CHECK(server.connections() <= 1 + 8);  // pooled connections, not one per request
}
