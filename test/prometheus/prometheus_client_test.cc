// The libcurl client of the Prometheus HTTP API (prometheus_client.h).
//
// Against a real Prometheus (Debian's, scraping an exporter the test runs):
// what the API answers (JSON, HTTP 400 for a syntax error), basic auth and
// TLS through Prometheus' own --web.config.file, connection reuse as
// Prometheus counts it. Against a stub HTTP server (stub_http_server.h) what
// Prometheus cannot be made to do or show: answer slowly, record the headers
// it was sent, count connections.
#include "source/prometheus/client/prometheus_client.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_get.h"
#include "support/prometheus_server.h"
#include "support/stub_http_server.h"
#include "support/temp_dir.h"
#include "support/test_exporter.h"
#include "support/wait.h"

namespace kubeai::source::prometheus {
namespace {

using kubeai::testing::concat;
using kubeai::testing::PrometheusServer;
using kubeai::testing::PrometheusServerOptions;
using kubeai::testing::stretched;
using kubeai::testing::StubHttpServer;
using kubeai::testing::StubRequest;
using kubeai::testing::StubResponse;
using kubeai::testing::TempDir;
using kubeai::testing::TestExporter;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::unique_ptr<PrometheusClient> makeClient(PrometheusClientOptions options) {
  auto client = PrometheusClient::create(std::move(options));
  if (!client) {
    FAIL("create: " << client.error().message);
  }
  return std::move(client).value();
}

PrometheusClientOptions optionsFor(const std::string& url) {
  PrometheusClientOptions options;
  options.url = url;
  options.timeout = stretched(std::chrono::milliseconds(5000));
  return options;
}

// A stub handler answering with the query it was sent, so each result can be
// matched with its expression.
StubResponse echo(const StubRequest& request) {
  StubResponse response;
  response.body = request.query().value_or("<none>");
  return response;
}

std::string base64(std::string_view in) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16U) |
                   (static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8U) |
                   static_cast<unsigned>(static_cast<unsigned char>(in[i + 2]));
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += kAlphabet[(n >> 6U) & 63U];
    out += kAlphabet[n & 63U];
  }
  if (i < in.size()) {
    auto n = static_cast<unsigned>(static_cast<unsigned char>(in[i])) << 16U;
    if (i + 1 < in.size()) {
      n |= static_cast<unsigned>(static_cast<unsigned char>(in[i + 1])) << 8U;
    }
    out += kAlphabet[(n >> 18U) & 63U];
    out += kAlphabet[(n >> 12U) & 63U];
    out += i + 1 < in.size() ? kAlphabet[(n >> 6U) & 63U] : '=';
    out += '=';
  }
  return out;
}

// Replaces a file as Kubernetes does a projected token: a new directory, and
// the ..data symlink swapped to it in one rename.
class ProjectedFile {
 public:
  ProjectedFile(const std::filesystem::path& dir, const std::string& name, const std::string& content)
      : dir_(dir), name_(name) {
    write(content);
    std::filesystem::create_symlink(std::filesystem::path("..data") / name_, dir_ / name_);
  }
  [[nodiscard]] std::filesystem::path path() const { return dir_ / name_; }
  void write(const std::string& content) {
    const auto version = concat("..v", std::to_string(++generation_));
    std::filesystem::create_directories(dir_ / version);
    std::ofstream(dir_ / version / name_, std::ios::binary) << content;
    std::filesystem::create_symlink(version, dir_ / "..data_tmp");
    std::filesystem::rename(dir_ / "..data_tmp", dir_ / "..data");
  }

 private:
  std::filesystem::path dir_;
  std::string name_;
  int generation_ = 0;
};

TEST_CASE("create refuses a bad URL, bad headers and unreadable files, naming the option") {
  const TempDir dir;
  const auto token = dir.write("token", "t0ken\n");
  const auto emptyToken = dir.write("empty-token", " \n");
  struct Row {
    const char* name;
    PrometheusClientOptions options;
    const char* expected;  // in the message
  };
  auto with = [](const std::function<void(PrometheusClientOptions&)>& change) {
    PrometheusClientOptions options;
    options.url = "http://127.0.0.1:9090";
    change(options);
    return options;
  };
  const std::vector<Row> rows = {
      // Not a URL curl can parse: curl's reason and what is expected.
      {"no scheme", with([](auto& o) { o.url = "prometheus:9090"; }), "expected http://host:port"},
      // Only http and https.
      {"ftp", with([](auto& o) { o.url = "ftp://127.0.0.1/"; }), "scheme must be http or https"},
      // Credentials belong in files, not in a URL that shows in messages; the URL shown hides them.
      {"user info", with([](auto& o) { o.url = "http://bob:hunter2@127.0.0.1:9090"; }),
       "prometheus URL \"http://***@127.0.0.1:9090\": credentials in the URL are not accepted"},
      // /api/v1/query is appended to the path: a query string has no place.
      {"query string", with([](auto& o) { o.url = "http://127.0.0.1:9090/?x=1"; }), "query string"},
      {"fragment", with([](auto& o) { o.url = "http://127.0.0.1:9090/#top"; }), "fragment"},
      {"zero timeout", with([](auto& o) { o.timeout = 0ms; }), "prometheus timeout: must be positive"},
      {"zero parallel", with([](auto& o) { o.maxParallel = 0; }), "must be at least 1"},
      {"missing token file", with([](auto& o) { o.bearerTokenFile = "/nonexistent/token"; }),
       "prometheus bearer token file /nonexistent/token: No such file or directory"},
      {"token file is a directory", with([&](auto& o) { o.bearerTokenFile = dir.path(); }),
       "prometheus bearer token file"},
      {"empty token file", with([&](auto& o) { o.bearerTokenFile = emptyToken; }), "empty"},
      {"missing password file",
       with([](auto& o) {
         o.basicAuthUser = "alice";
         o.basicAuthPasswordFile = "/nonexistent/password";
       }),
       "prometheus basic auth password file /nonexistent/password: No such file or directory"},
      {"password without user", with([&](auto& o) { o.basicAuthPasswordFile = token; }),
       "given without a basic auth user"},
      // Prometheus' own config refuses both at once too.
      {"bearer and basic",
       with([&](auto& o) {
         o.bearerTokenFile = token;
         o.basicAuthUser = "alice";
       }),
       "choose one"},
      {"missing CA file", with([](auto& o) { o.caFile = "/nonexistent/ca.crt"; }),
       "prometheus CA file /nonexistent/ca.crt: No such file or directory"},
      {"bad header name", with([](auto& o) { o.headers = {{"X Bad", "v"}}; }), "not a valid header name"},
      // A newline in a value would smuggle a header of its own.
      {"header injection", with([](auto& o) { o.headers = {{"X-Scope-OrgID", "a\r\nX-Evil: 1"}}; }),
       "must not contain CR, LF or NUL"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    const auto client = PrometheusClient::create(row.options);
    REQUIRE_FALSE(client.ok());
    CHECK(client.error().message.find(row.expected) != std::string::npos);
    CAPTURE(client.error().message);
    CHECK(client.error().message.find("hunter2") == std::string::npos);
  }
}

TEST_CASE("a query goes as GET to the path prefix plus /api/v1/query, encoded") {
  StubHttpServer stub(echo);
  // Characters that must be percent-encoded: quotes, braces, spaces, +, &, =, #, non-ASCII.
  const std::string expression = R"(sum(rate(x{a="b c",d=~"e.+&f=g#"}[2m])) + 1 > bool 0 # é)";
  for (const auto* suffix : {"/prom", "/prom/"}) {
    CAPTURE(suffix);
    auto client = makeClient(optionsFor(concat(stub.url(), suffix)));
    const auto results = client->instantQueries({expression});
    REQUIRE(results.size() == 1);
    REQUIRE(results[0].ok());
    CHECK(results[0].value().status == 200);
    CHECK(results[0].value().body == expression);
    const auto request = stub.requests().back();
    CHECK(request.method == "GET");
    CHECK(request.path() == "/prom/api/v1/query");
    CHECK(request.header("accept") == "application/json");
  }
  auto client = makeClient(optionsFor(stub.url()));
  CHECK(client->instantQueries({}).empty());
  REQUIRE(client->instantQueries({"up"})[0].ok());
  CHECK(stub.requests().back().path() == "/api/v1/query");
}

TEST_CASE("a query too long for a GET URL goes as a POST form") {
  StubHttpServer stub(echo);
  auto client = makeClient(optionsFor(stub.url()));
  std::string longQuery = "up{job=~\"";
  for (int i = 0; longQuery.size() < 9000; ++i) {
    longQuery += concat("job-", std::to_string(i), "|");
  }
  longQuery += "x\"}";
  const auto results = client->instantQueries({"up", longQuery});
  REQUIRE(results.size() == 2);
  REQUIRE(results[0].ok());
  REQUIRE(results[1].ok());
  CHECK(results[0].value().body == "up");
  CHECK(results[1].value().body == longQuery);
  const auto requests = stub.requests();
  REQUIRE(requests.size() == 2);
  for (const auto& request : requests) {
    if (request.query() == longQuery) {
      CHECK(request.method == "POST");
      CHECK(request.target == "/api/v1/query");
      CHECK(request.header("content-type") == "application/x-www-form-urlencoded");
      // No "Expect: 100-continue" round trip (up to 1 s of waiting with some servers).
      CHECK_FALSE(request.header("expect").has_value());
    } else {
      CHECK(request.method == "GET");
    }
  }
}

TEST_CASE("results come back in the order of the expressions, whatever order they finish in") {
  // The first expressions answer last.
  StubHttpServer* self = nullptr;
  StubHttpServer stub([&](const StubRequest& request) {
    const auto query = request.query().value_or("q0");
    self->sleepFor(std::chrono::milliseconds(50) * (10 - std::stoi(query.substr(1))));
    return echo(request);
  });
  self = &stub;
  auto client = makeClient(optionsFor(stub.url()));
  std::vector<std::string> expressions;
  for (int i = 0; i < 10; ++i) {
    expressions.push_back(concat("q", std::to_string(i)));
  }
  const auto results = client->instantQueries(expressions);
  REQUIRE(results.size() == expressions.size());
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    REQUIRE(results[i].ok());
    CHECK(results[i].value().body == expressions[i]);
  }
}

TEST_CASE("the queries of one call run in parallel") {
  // Each request is held until all ten are in flight at once: only parallel
  // queries get through quickly; serial ones would each wait out the hold.
  std::mutex mutex;
  std::condition_variable allIn;
  int arrived = 0;
  StubHttpServer stub([&](const StubRequest& request) {
    std::unique_lock lock(mutex);
    ++arrived;
    allIn.notify_all();
    allIn.wait_for(lock, stretched(5s), [&] { return arrived >= 10; });
    return echo(request);
  });
  auto options = optionsFor(stub.url());
  options.maxParallel = 10;
  auto client = makeClient(options);
  const std::vector<std::string> expressions(10, "up");
  const auto start = Clock::now();
  const auto results = client->instantQueries(expressions);
  const auto elapsed = Clock::now() - start;
  for (const auto& result : results) {
    REQUIRE(result.ok());
    CHECK(result.value().status == 200);
  }
  CHECK(stub.maxInFlight() == 10);
  CHECK(elapsed < stretched(3s));
}

TEST_CASE("at most maxParallel queries are in flight at once") {
  StubHttpServer* self = nullptr;
  StubHttpServer stub([&](const StubRequest& request) {
    self->sleepFor(200ms);  // long enough for every started query to be in flight together
    return echo(request);
  });
  self = &stub;
  auto options = optionsFor(stub.url());
  options.maxParallel = 3;
  auto client = makeClient(options);
  std::vector<std::string> expressions;
  for (int i = 0; i < 10; ++i) {
    expressions.push_back(concat("q", std::to_string(i)));
  }
  const auto results = client->instantQueries(expressions);
  for (std::size_t i = 0; i < results.size(); ++i) {
    REQUIRE(results[i].ok());
    CHECK(results[i].value().body == expressions[i]);
  }
  CHECK(stub.maxInFlight() == 3);
  CHECK(stub.requests().size() == 10);
}

TEST_CASE("connections are reused across calls") {
  StubHttpServer stub(echo);
  auto options = optionsFor(stub.url());
  options.maxParallel = 4;
  auto client = makeClient(options);
  // One query per call, as a quiet cycle does: one connection for all.
  for (int call = 0; call < 5; ++call) {
    const auto results = client->instantQueries({"up"});
    REQUIRE(results[0].ok());
  }
  CHECK(stub.connectionsAccepted() == 1);
  // Full batches: at most one connection per parallel slot, kept between calls.
  for (int call = 0; call < 6; ++call) {
    const auto results = client->instantQueries({"a", "b", "c", "d"});
    for (const auto& result : results) {
      REQUIRE(result.ok());
    }
  }
  CHECK(stub.requests().size() == 29);
  CHECK(stub.connectionsAccepted() <= 4);
}

TEST_CASE("a slow query times out with an Error naming the URL and delays the others by nothing") {
  StubHttpServer* self = nullptr;
  StubHttpServer stub([&](const StubRequest& request) {
    if (request.query() == "slow") {
      self->sleepFor(60s);
    }
    return echo(request);
  });
  self = &stub;
  auto options = optionsFor(concat(stub.url(), "/prefix"));
  options.timeout = 500ms;
  auto client = makeClient(options);
  const auto start = Clock::now();
  const auto results = client->instantQueries({"fast-1", "slow", "fast-2"});
  const auto elapsed = Clock::now() - start;
  REQUIRE(results.size() == 3);
  REQUIRE(results[0].ok());
  REQUIRE(results[2].ok());
  CHECK(results[0].value().body == "fast-1");
  CHECK(results[2].value().body == "fast-2");
  REQUIRE_FALSE(results[1].ok());
  const auto& message = results[1].error().message;
  CAPTURE(message);
  CHECK(message.find(concat("GET ", stub.url(), "/prefix/api/v1/query: ")) == 0);
  CHECK(message.find("Timeout was reached") != std::string::npos);
  CHECK(elapsed >= 450ms);
  CHECK(elapsed < 500ms + stretched(2s));
  // The client is fine afterwards.
  const auto again = client->instantQueries({"fast-3"});
  REQUIRE(again[0].ok());
  CHECK(again[0].value().body == "fast-3");
}

TEST_CASE("connection refused is an Error naming the URL and never the token") {
  const TempDir dir;
  std::string url;
  {
    const StubHttpServer stub;
    url = stub.url();
  }  // nothing listens there any more
  auto options = optionsFor(url);
  options.bearerTokenFile = dir.write("token", "secret-token-value");
  auto client = makeClient(options);
  const auto results = client->instantQueries({"up", "sum(up)"});
  REQUIRE(results.size() == 2);
  for (const auto& result : results) {
    REQUIRE_FALSE(result.ok());
    CAPTURE(result.error().message);
    CHECK(result.error().message.find(concat("GET ", url, "/api/v1/query: Couldn't connect to server")) == 0);
    CHECK(result.error().message.find("secret-token-value") == std::string::npos);
  }
}

TEST_CASE("the bearer token and the extra headers are sent, and a rotated token is used from the next call") {
  StubHttpServer stub;
  const TempDir dir;
  ProjectedFile token(dir.path(), "token", "token-one\n");
  auto options = optionsFor(stub.url());
  options.bearerTokenFile = token.path();
  options.headers = {{"X-Scope-OrgID", "tenant-a"}, {"X-Empty", ""}};
  auto client = makeClient(options);

  REQUIRE(client->instantQueries({"up"})[0].ok());
  auto request = stub.requests().back();
  CHECK(request.header("authorization") == "Bearer token-one");
  CHECK(request.header("x-scope-orgid") == "tenant-a");
  CHECK(request.header("x-empty") == "");
  CHECK(request.target.find("token") == std::string::npos);

  token.write("token-two");
  REQUIRE(client->instantQueries({"up"})[0].ok());
  CHECK(stub.requests().back().header("authorization") == "Bearer token-two");
}

TEST_CASE("basic auth sends the password file's content less one newline, re-read when it changes") {
  StubHttpServer stub;
  const TempDir dir;
  // Trailing spaces are part of the password; the newline an editor adds is not.
  ProjectedFile password(dir.path(), "password", "pa ss \n");
  auto options = optionsFor(stub.url());
  options.basicAuthUser = "alice";
  options.basicAuthPasswordFile = password.path();
  auto client = makeClient(options);

  REQUIRE(client->instantQueries({"up"})[0].ok());
  CHECK(stub.requests().back().header("authorization") == concat("Basic ", base64("alice:pa ss ")));

  password.write("rotated\r\n");
  REQUIRE(client->instantQueries({"up"})[0].ok());
  CHECK(stub.requests().back().header("authorization") == concat("Basic ", base64("alice:rotated")));
}

TEST_CASE("a credential file that goes away fails the call with an Error naming the file") {
  StubHttpServer stub;
  const TempDir dir;
  const auto tokenFile = dir.write("token", "token-one");
  auto options = optionsFor(stub.url());
  options.bearerTokenFile = tokenFile;
  auto client = makeClient(options);
  REQUIRE(client->instantQueries({"up"})[0].ok());

  std::filesystem::remove(tokenFile);
  const auto results = client->instantQueries({"up", "sum(up)"});
  REQUIRE(results.size() == 2);
  for (const auto& result : results) {
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().message ==
          concat("prometheus bearer token file ", tokenFile.string(), ": No such file or directory"));
  }
  CHECK(stub.requests().size() == 1);  // nothing sent without the token

  dir.write("token", "token-two");
  REQUIRE(client->instantQueries({"up"})[0].ok());
  CHECK(stub.requests().back().header("authorization") == "Bearer token-two");
}

TEST_CASE("redirects are followed up to 3 times, and credentials never go to another host") {
  StubHttpServer target;
  StubHttpServer redirector([&](const StubRequest& request) {
    StubResponse response;
    response.status = 302;
    response.body.clear();
    if (request.path() == "/loop/api/v1/query") {
      response.headers = {{"Location", "/loop/api/v1/query?query=up"}};
    } else if (request.path() == "/same/api/v1/query") {
      response.headers = {{"Location", "/api/v1/query?query=up"}};
    } else if (request.path() == "/elsewhere/api/v1/query") {
      response.headers = {{"Location", concat(target.url(), "/api/v1/query?query=up")}};
    } else {
      response.status = 200;
      response.body = "here";
    }
    return response;
  });
  const TempDir dir;
  auto clientFor = [&](const std::string& prefix) {
    auto options = optionsFor(concat(redirector.url(), prefix));
    options.bearerTokenFile = dir.write("token", "token-one");
    options.headers = {{"X-Scope-OrgID", "tenant-a"}};
    return makeClient(options);
  };

  // On the same host: followed, with the token.
  auto same = clientFor("/same")->instantQueries({"up"});
  REQUIRE(same[0].ok());
  CHECK(same[0].value().body == "here");
  CHECK(redirector.requests().back().header("authorization") == "Bearer token-one");

  // To another host (port): followed, the headers along, the token not.
  auto elsewhere = clientFor("/elsewhere")->instantQueries({"up"});
  REQUIRE(elsewhere[0].ok());
  CHECK(elsewhere[0].value().status == 200);
  REQUIRE(target.requests().size() == 1);
  CHECK_FALSE(target.requests().back().header("authorization").has_value());
  CHECK(target.requests().back().header("x-scope-orgid") == "tenant-a");

  // A loop: an Error after the 3rd.
  const auto before = redirector.requests().size();
  auto loop = clientFor("/loop")->instantQueries({"up"});
  REQUIRE_FALSE(loop[0].ok());
  CAPTURE(loop[0].error().message);
  CHECK(loop[0].error().message.find("Number of redirects hit maximum amount") != std::string::npos);
  CHECK(redirector.requests().size() - before == 4);
}

TEST_CASE("a response body over 32 MiB is an Error, not a reason to run out of memory") {
  StubHttpServer stub([](const StubRequest&) {
    StubResponse response;
    response.body.assign(std::size_t{33} * 1024 * 1024, 'x');
    return response;
  });
  auto client = makeClient(optionsFor(stub.url()));
  const auto results = client->instantQueries({"up"});
  REQUIRE_FALSE(results[0].ok());
  CHECK(results[0].error().message.find("response larger than 32 MiB") != std::string::npos);
}

TEST_CASE("calls from several threads at once each get their own answers") {
  StubHttpServer stub(echo);
  auto options = optionsFor(stub.url());
  options.maxParallel = 3;
  auto client = makeClient(options);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int call = 0; call < 10; ++call) {
        std::vector<std::string> expressions;
        for (int q = 0; q < 5; ++q) {
          expressions.push_back(concat("t", std::to_string(t), "c", std::to_string(call), "q", std::to_string(q)));
        }
        const auto results = client->instantQueries(expressions);
        for (std::size_t q = 0; q < results.size(); ++q) {
          if (!results[q].ok() || results[q].value().body != expressions[q]) {
            ++wrong;
          }
        }
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  CHECK(wrong.load() == 0);
  CHECK(stub.requests().size() == 200);
}

// ---- against a real Prometheus ----

std::string series(const nlohmann::json& body) { return body.at("data").at("result").dump(); }

TEST_CASE("a real Prometheus answers vectors, scalars, empty results, and HTTP 400 for a syntax error") {
  TestExporter exporter;
  exporter.setGpuUtilization("team-a", "chat-0", "0", 40);
  exporter.setGpuUtilization("team-a", "chat-1", "0", 60);
  exporter.setGpuUtilization("team-b", "chat-0", "0", 90);
  PrometheusServerOptions serverOptions;
  serverOptions.targets = {exporter.address()};
  PrometheusServer server(serverOptions);
  const std::string teamA = R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="team-a",pod=~"chat-.*"}))";
  server.waitForValue(teamA, 50, stretched(30s));

  auto client = makeClient(optionsFor(server.url()));
  std::string longQuery = R"(DCGM_FI_DEV_GPU_UTIL{namespace="team-b",pod=~")";
  for (int i = 0; longQuery.size() < 9000; ++i) {
    longQuery += concat("other-", std::to_string(i), "|");
  }
  longQuery += "chat-0\"}";
  const auto results = client->instantQueries({
      teamA,                                        // one sample
      R"(DCGM_FI_DEV_GPU_UTIL{namespace="team-b"})",  // the other workload only
      "scalar(vector(2))",                          // a scalar
      "sum(",                                       // a syntax error
      "no_such_metric",                             // an empty vector
      longQuery,                                    // sent as POST
  });
  REQUIRE(results.size() == 6);
  for (const auto& result : results) {
    REQUIRE(result.ok());
  }
  const auto body = [&](std::size_t i) { return nlohmann::json::parse(results[i].value().body); };

  CHECK(results[0].value().status == 200);
  CHECK(body(0).at("status") == "success");
  CHECK(body(0).at("data").at("resultType") == "vector");
  CHECK(PrometheusServer::values(body(0).at("data")) == std::vector<double>{50});

  CHECK(results[1].value().status == 200);
  const auto teamB = body(1).at("data").at("result");
  REQUIRE(teamB.size() == 1);
  CHECK(teamB[0].at("metric").at("namespace") == "team-b");
  CHECK(teamB[0].at("metric").at("pod") == "chat-0");  // as exported (honor_labels)
  CHECK(teamB[0].at("value").at(1) == "90");

  CHECK(results[2].value().status == 200);
  CHECK(body(2).at("data").at("resultType") == "scalar");
  CHECK(body(2).at("data").at("result").at(1) == "2");

  CHECK(results[3].value().status == 400);
  CHECK(body(3).at("status") == "error");
  CHECK(body(3).at("errorType") == "bad_data");
  CHECK(body(3).at("error").get<std::string>().find("parse error") != std::string::npos);

  CHECK(results[4].value().status == 200);
  CHECK(series(body(4)) == "[]");

  CHECK(results[5].value().status == 200);
  CHECK(PrometheusServer::values(body(5).at("data")) == std::vector<double>{90});

  // A changed value shows in the next call.
  exporter.setGpuUtilization("team-a", "chat-1", "0", 80);
  server.waitForValue(teamA, 60, stretched(30s));
  const auto after = client->instantQueries({teamA});
  REQUIRE(after[0].ok());
  CHECK(PrometheusServer::values(nlohmann::json::parse(after[0].value().body).at("data")) ==
        std::vector<double>{60});
}

// Connections Prometheus' web listener has accepted, from its own /metrics.
double acceptedConnections(PrometheusServer& server, const kubeai::testing::HttpGetOptions& probe) {
  const auto got = kubeai::testing::httpGet(concat(server.url(), "/metrics"), probe);
  REQUIRE(got.status == 200);
  const std::string prefix = R"(net_conntrack_listener_conn_accepted_total{listener_name="http"} )";
  const auto at = got.body.find(prefix);
  REQUIRE(at != std::string::npos);
  return std::stod(got.body.substr(at + prefix.size()));
}

// A CA and a server certificate for 127.0.0.1 made with the openssl CLI.
struct Certificates {
  std::filesystem::path caCert;
  std::filesystem::path serverCert;
  std::filesystem::path serverKey;
  std::filesystem::path otherCaCert;  // trusted by nobody here
};

void run(const std::string& command, const std::filesystem::path& log) {
  const std::string full = concat(command, " >>", log.string(), " 2>&1");
  if (std::system(full.c_str()) != 0) {  // NOLINT(cert-env33-c): a fixed test command
    std::ifstream stream(log);
    const std::string text((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    FAIL("command failed: " << command << "\n" << text);
  }
}

Certificates makeCertificates(const std::filesystem::path& dir) {
  const auto log = dir / "openssl.log";
  const auto p = [&](const char* name) { return (dir / name).string(); };
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  run(concat("openssl req -x509", ec, " -keyout ", p("ca.key"), " -out ", p("ca.crt"),
             " -days 2 -subj /CN=kubeai-test-ca"),
      log);
  run(concat("openssl req -x509", ec, " -keyout ", p("other-ca.key"), " -out ", p("other-ca.crt"),
             " -days 2 -subj /CN=kubeai-other-ca"),
      log);
  run(concat("openssl req", ec, " -keyout ", p("server.key"), " -out ", p("server.csr"), " -subj /CN=127.0.0.1"),
      log);
  std::ofstream(dir / "server.ext") << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                                       "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
  run(concat("openssl x509 -req -in ", p("server.csr"), " -CA ", p("ca.crt"), " -CAkey ", p("ca.key"),
             " -CAcreateserial -days 2 -extfile ", p("server.ext"), " -out ", p("server.crt")),
      log);
  return {dir / "ca.crt", dir / "server.crt", dir / "server.key", dir / "other-ca.crt"};
}

// bcrypt of "s3cret" at cost 4 (the cheapest: Prometheus checks it per request), made with
// python3 -c "import crypt; print(crypt.crypt('s3cret', crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))"
constexpr const char* kAliceHash = "$2b$04$82DZl3yBqC3PdnjbN4GTauG7S4XCgUkX.gtQEc4msTbti1j5ydbs2";

TEST_CASE("basic auth and TLS against Prometheus' own web config") {
  const TempDir dir;
  const auto certificates = makeCertificates(dir.path());
  const auto password = dir.write("password", "s3cret\n");
  const auto wrongPassword = dir.write("wrong-password", "guess\n");
  PrometheusServerOptions serverOptions;
  serverOptions.webConfig = concat("tls_server_config:\n  cert_file: ", certificates.serverCert.string(),
                                   "\n  key_file: ", certificates.serverKey.string(),
                                   "\nbasic_auth_users:\n  alice: ", kAliceHash, "\n");
  serverOptions.https = true;
  serverOptions.probe.caFile = certificates.caCert.string();
  serverOptions.probe.user = "alice";
  serverOptions.probe.password = "s3cret";
  PrometheusServer server(serverOptions);
  REQUIRE(server.url().rfind("https://", 0) == 0);

  struct Row {
    const char* name;
    std::function<void(PrometheusClientOptions&)> configure;
    long status;           // 0: an Error
    const char* expected;  // in the Error
  };
  const std::vector<Row> rows = {
      // The CA that signed the server's certificate and the right password.
      {"verified, right password",
       [&](auto& o) {
         o.caFile = certificates.caCert;
         o.basicAuthUser = "alice";
         o.basicAuthPasswordFile = password;
       },
       200, ""},
      // The source turns a 401 into a clear error; here it is a response.
      {"wrong password",
       [&](auto& o) {
         o.caFile = certificates.caCert;
         o.basicAuthUser = "alice";
         o.basicAuthPasswordFile = wrongPassword;
       },
       401, ""},
      {"no credentials", [&](auto& o) { o.caFile = certificates.caCert; }, 401, ""},
      // The system's CAs do not know the test CA.
      {"system CAs",
       [&](auto& o) {
         o.basicAuthUser = "alice";
         o.basicAuthPasswordFile = password;
       },
       0, "SSL certificate problem"},
      {"another CA",
       [&](auto& o) {
         o.caFile = certificates.otherCaCert;
         o.basicAuthUser = "alice";
         o.basicAuthPasswordFile = password;
       },
       0, "SSL certificate problem"},
      {"insecure skip verify",
       [&](auto& o) {
         o.insecureSkipVerify = true;
         o.basicAuthUser = "alice";
         o.basicAuthPasswordFile = password;
       },
       200, ""},
  };
  for (const auto& row : rows) {
    CAPTURE(row.name);
    auto options = optionsFor(server.url());
    row.configure(options);
    auto client = makeClient(options);
    const auto results = client->instantQueries({"vector(7)"});
    REQUIRE(results.size() == 1);
    if (row.status == 0) {
      REQUIRE_FALSE(results[0].ok());
      CAPTURE(results[0].error().message);
      CHECK(results[0].error().message.find(concat("GET ", server.url(), "/api/v1/query: ")) == 0);
      CHECK(results[0].error().message.find(row.expected) != std::string::npos);
      CHECK(results[0].error().message.find("s3cret") == std::string::npos);
    } else {
      REQUIRE(results[0].ok());
      CHECK(results[0].value().status == row.status);
      if (row.status == 200) {
        CHECK(PrometheusServer::values(nlohmann::json::parse(results[0].value().body).at("data")) ==
              std::vector<double>{7});
      }
    }
  }

  // Connections are reused across calls, as Prometheus counts them.
  auto options = optionsFor(server.url());
  options.caFile = certificates.caCert;
  options.basicAuthUser = "alice";
  options.basicAuthPasswordFile = password;
  options.maxParallel = 4;
  auto client = makeClient(options);
  const double before = acceptedConnections(server, serverOptions.probe);
  for (int call = 0; call < 5; ++call) {
    for (const auto& result : client->instantQueries({"vector(1)", "vector(2)", "vector(3)", "vector(4)"})) {
      REQUIRE(result.ok());
      CHECK(result.value().status == 200);
    }
  }
  const double after = acceptedConnections(server, serverOptions.probe);
  // 20 queries: at most 4 connections of the client's, and 1 of the count's own.
  CHECK(after - before <= 5);
}

}  // namespace
}  // namespace kubeai::source::prometheus
