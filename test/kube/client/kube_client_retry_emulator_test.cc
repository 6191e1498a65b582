// KubeClient's client-side rate limit and its retries after a 429 with
// Retry-After, against the API emulator (test/kube/emulator), whose
// POST /_emulator/fail?status=429 answers 429 with "Retry-After: 1", and whose
// request log (GET /_emulator/requests) shows what reached the server. Only
// lower bounds of time are asserted: the waits are the feature; how fast the
// machine is, is not.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "emulator_process.h"
#include "kube/client/kube_client.h"
#include "support/wait.h"

namespace {

using kubeai::kube::KubeClient;
using kubeai::kube::KubeClientOptions;
using kubeai::kube::KubeConfig;
using kubeai::testing::concat;
using kubeai::testing::EmulatorProcess;
using kubeai::testing::stretched;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kPolicies = "/apis/kubeai.io/v1alpha1/namespaces/default/aiinferenceautoscalerpolicies";
const std::string kEmulator = KUBEAI_EMULATOR_SCRIPT;
// Assigned from a std::string: GCC 12 warns falsely (-Wrestrict) on a literal assigned here once inlined.
const std::string kToken = "T";

std::string serverOf(const EmulatorProcess& emulator) {
  return concat("http://127.0.0.1:", std::to_string(emulator.port()));
}

std::unique_ptr<KubeClient> makeClient(const EmulatorProcess& emulator, KubeClientOptions options) {
  KubeConfig config;
  config.server = serverOf(emulator);
  config.token = kToken;
  auto client = KubeClient::create(std::move(config), options);
  REQUIRE_MESSAGE(client.ok(), (client.ok() ? "" : client.error().message));
  return std::move(client).value();
}

// The statuses the emulator answered for `path` (with any query), in order.
// The log is read with a client of its own: the one under test may be out of tokens.
std::vector<int> statusesFor(const EmulatorProcess& emulator, const std::string& path) {
  const auto response = makeClient(emulator, {})->request("GET", "/_emulator/requests");
  REQUIRE(response.ok());
  std::vector<int> statuses;
  for (const auto& entry : nlohmann::json::parse(response.value().body)) {
    if (entry["path"].get<std::string>() == path) {
      statuses.push_back(entry["status"].get<int>());
    }
  }
  return statuses;
}

void injectFailures(const EmulatorProcess& emulator, int status, int count, const std::string& path) {
  const auto rule = makeClient(emulator, {})->request(
      "POST", concat("/_emulator/fail?status=", std::to_string(status), "&count=", std::to_string(count), "&path=", path));
  REQUIRE(rule.ok());
  REQUIRE(rule.value().status == 200);
}

double secondsSince(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

}  // namespace

TEST_CASE("retry emulator: a GET answered 429 twice waits Retry-After each time and succeeds, three requests in all") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto client = makeClient(emulator, {});  // no rate limit: the waits are Retry-After's alone
  injectFailures(emulator, 429, 2, kPolicies);
  const auto start = Clock::now();
  const auto response = client->request("GET", kPolicies);
  const double took = secondsSince(start);
  REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
  CHECK(response.value().status == 200);
  CHECK_FALSE(response.value().retryAfter.has_value());  // the answer given is the 200
  CHECK(took >= 1.9);  // two waits of Retry-After: 1
  // Each 429 was followed by exactly one request, not a burst of them.
  CHECK(statusesFor(emulator, kPolicies) == std::vector<int>{429, 429, 200});
}

TEST_CASE("retry emulator: a 429 whose Retry-After passes the request's timeout is returned with retryAfter") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto client = makeClient(emulator, {});
  injectFailures(emulator, 429, 1, kPolicies);
  const auto response = client->request("GET", kPolicies, {}, {}, 500ms);
  REQUIRE(response.ok());
  CHECK(response.value().status == 429);
  REQUIRE(response.value().retryAfter.has_value());
  CHECK(*response.value().retryAfter == 1s);  // for the caller's own back-off
  CHECK(statusesFor(emulator, kPolicies) == std::vector<int>{429});
}

TEST_CASE("retry emulator: a PATCH answered 429 is sent again, and maxRetries bounds the retries") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto client = makeClient(emulator, {});
  const std::string body = R"({"apiVersion":"kubeai.io/v1alpha1","kind":"AIInferenceAutoscalerPolicy",)"
                           R"("metadata":{"name":"chat"},"spec":{"targetRef":{"kind":"Deployment","name":"llm"}}})";
  REQUIRE(client->request("POST", kPolicies, body, "application/json").value().status == 201);
  const std::string chat = concat(kPolicies, "/chat");
  SUBCASE("a PATCH refused once with 429 is carried out on the second try") {
    injectFailures(emulator, 429, 1, chat);
    const auto patched = client->request("PATCH", chat, R"({"spec":{"maxReplicas":4}})", "application/merge-patch+json");
    REQUIRE(patched.ok());
    CHECK(patched.value().status == 200);
    CHECK(statusesFor(emulator, chat) == std::vector<int>{429, 200});
  }
  SUBCASE("maxRetries 1: the second 429 is the answer") {
    auto once = makeClient(emulator, {0, 1, 1});
    injectFailures(emulator, 429, 3, chat);
    const auto got = once->request("GET", chat);
    REQUIRE(got.ok());
    CHECK(got.value().status == 429);
    CHECK(got.value().retryAfter == std::optional<std::chrono::seconds>(1s));
    CHECK(statusesFor(emulator, chat) == std::vector<int>{429, 429});
  }
}

TEST_CASE("retry emulator: qps 5 with burst 2 paces 12 requests over at least 2 s, all of them served") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto client = makeClient(emulator, {5, 2, 10});
  const auto start = Clock::now();
  for (int i = 0; i < 12; ++i) {
    const auto response = client->request("GET", kPolicies);
    REQUIRE(response.ok());
    CHECK(response.value().status == 200);
  }
  const double took = secondsSince(start);
  CHECK(took >= 1.9);  // 2 at once, then 10 at 200 ms apart
  CHECK(statusesFor(emulator, kPolicies).size() == 12);
}

TEST_CASE("retry emulator: the rate limit is shared by threads, counts a watch's start, and gives up at the timeout") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  SUBCASE("4 threads, 3 requests each, share qps 5 burst 2") {
    auto client = makeClient(emulator, {5, 2, 10});
    const auto start = Clock::now();
    {
      std::vector<std::jthread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&client] {
          for (int i = 0; i < 3; ++i) {
            static_cast<void>(client->request("GET", kPolicies));
          }
        });
      }
    }
    CHECK(secondsSince(start) >= 1.9);  // one bucket for the client, not one per thread
    CHECK(statusesFor(emulator, kPolicies) == std::vector<int>(12, 200));
  }
  SUBCASE("a watch waits for its token; a stop ends the wait, nothing sent") {
    auto client = makeClient(emulator, {0.1, 1, 10});  // one token per 10 s
    REQUIRE(client->request("GET", kPolicies).value().status == 200);
    std::stop_source stop;
    const auto start = Clock::now();
    std::jthread stopper([&stop] {
      std::this_thread::sleep_for(300ms);  // the stream is waiting by then; if not yet, it returns at once all the same
      stop.request_stop();
    });
    const auto status = client->stream(
        concat(kPolicies, "?watch=1"), [](std::string_view) { return true; }, stop.get_token(), 60s);
    REQUIRE(status.ok());
    CHECK(status.value() == 0);                     // stopped before any answer
    CHECK(secondsSince(start) < stretched(5.0));    // not the 10 s the token would take
    CHECK(statusesFor(emulator, kPolicies).size() == 1);  // the watch never reached the server
  }
  SUBCASE("a request whose token comes after its timeout is an Error naming the flag, not sent") {
    auto client = makeClient(emulator, {0.1, 1, 10});
    REQUIRE(client->request("GET", kPolicies).value().status == 200);
    const auto second = client->request("GET", kPolicies, {}, {}, 1s);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message.find("--kube-qps 0.1") != std::string::npos);
    CHECK(second.error().message.find(concat("GET ", serverOf(emulator), kPolicies)) == 0);
    CHECK(statusesFor(emulator, kPolicies).size() == 1);
  }
  SUBCASE("a watch takes a token when it starts") {
    auto client = makeClient(emulator, {1, 1, 10});
    REQUIRE(client->request("GET", kPolicies).value().status == 200);  // the bucket's one token
    const std::string policy = R"({"apiVersion":"kubeai.io/v1alpha1","kind":"AIInferenceAutoscalerPolicy",)"
                               R"("metadata":{"name":"a"},"spec":{"targetRef":{"kind":"Deployment","name":"llm"}}})";
    // Seeded with a client of its own, so the one under test keeps its pace.
    REQUIRE(makeClient(emulator, {})->request("POST", kPolicies, policy, "application/json").value().status == 201);
    const auto start = Clock::now();
    // The first event ends the stream: it came after the token, about 1 s after the GET's.
    const auto status = client->stream(
        concat(kPolicies, "?watch=1&resourceVersion=0"), [](std::string_view) { return false; }, std::stop_token{}, 60s);
    REQUIRE(status.ok());
    CHECK(status.value() == 200);
    CHECK(secondsSince(start) >= 0.8);
  }
}

TEST_CASE("retry emulator: after a 429 the callers' retries leave one every 1/qps, not in a burst of refilled tokens") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto client = makeClient(emulator, {5, 5, 10});  // a full bucket: 5 may go at once
  injectFailures(emulator, 429, 4, kPolicies);
  const auto start = Clock::now();
  std::vector<double> servedAt(4, 0.0);
  {
    std::vector<std::jthread> threads;
    for (std::size_t t = 0; t < servedAt.size(); ++t) {
      threads.emplace_back([&client, &servedAt, &start, t] {
        const auto response = client->request("GET", kPolicies);
        CHECK((response.ok() && response.value().status == 200));
        servedAt[t] = secondsSince(start);
      });
    }
  }
  // The 429's Retry-After: 1 emptied the bucket: after the wait the four
  // retries are 200 ms apart (without the pause, the tokens dripped in during
  // the wait sent all four together).
  const auto [first, last] = std::minmax_element(servedAt.begin(), servedAt.end());
  CHECK(*first >= 0.9);
  CHECK(*last - *first >= 0.45);
  const auto statuses = statusesFor(emulator, kPolicies);
  CHECK(std::count(statuses.begin(), statuses.end(), 429) == 4);
  CHECK(std::count(statuses.begin(), statuses.end(), 200) == 4);
}

TEST_CASE("retry emulator: after a Retry-After wait, a token past the deadline returns the 429, not a rate-limit error") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  SUBCASE("the next token comes after the timeout") {
    auto client = makeClient(emulator, {0.2, 1, 10});  // one token per 5 s
    injectFailures(emulator, 429, 1, kPolicies);
    const auto response = client->request("GET", kPolicies, {}, {}, 3s);
    REQUIRE_MESSAGE(response.ok(), (response.ok() ? "" : response.error().message));
    CHECK(response.value().status == 429);
    CHECK(response.value().retryAfter == std::optional<std::chrono::seconds>(1s));  // for the caller's back-off
    CHECK(statusesFor(emulator, kPolicies) == std::vector<int>{429});
  }
  SUBCASE("a retry would leave with less than 100 ms of the timeout: not sent") {
    auto client = makeClient(emulator, {});
    injectFailures(emulator, 429, 1, kPolicies);
    const auto response = client->request("GET", kPolicies, {}, {}, 1050ms);
    REQUIRE(response.ok());
    CHECK(response.value().status == 429);
    CHECK(statusesFor(emulator, kPolicies) == std::vector<int>{429});
  }
}

TEST_CASE("retry emulator: a watch answered 429 says its Retry-After, and pauses the client's rate limit") {
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto client = makeClient(emulator, {5, 5, 10});
  injectFailures(emulator, 429, 1, kPolicies);
  const auto ended = client->streamToEnd(
      concat(kPolicies, "?watch=1"), [](std::string_view) { return true; }, std::stop_token{}, 60s);
  REQUIRE_MESSAGE(ended.ok(), (ended.ok() ? "" : ended.error().message));
  CHECK(ended.value().status == 429);
  CHECK(ended.value().retryAfter == std::optional<std::chrono::seconds>(1s));
  // The bucket was full; after the 429 the next request waits out the Retry-After.
  const auto start = Clock::now();
  REQUIRE(client->request("GET", kPolicies).value().status == 200);
  CHECK(secondsSince(start) >= 0.8);
}

TEST_CASE("retry emulator: two clients have two rate limits, so a queue on one does not delay the other") {
  // serve's LeaderElector has a client of its own: a renewal never waits behind the watches' and GETs' queue.
  EmulatorProcess emulator(kEmulator, {"--token", kToken});
  auto busy = makeClient(emulator, {1, 1, 10});
  auto lease = makeClient(emulator, {1, 1, 10});
  std::vector<std::jthread> queue;
  for (int t = 0; t < 4; ++t) {  // 4 requests on a 1-a-second client: the last leaves after 3 s
    queue.emplace_back([&busy] { static_cast<void>(busy->request("GET", kPolicies, {}, {}, 10s)); });
  }
  // The first has gone out: the other three wait for their tokens.
  kubeai::testing::waitUntil([&] { return !statusesFor(emulator, kPolicies).empty(); }, stretched(5s), "the first GET");
  const auto renewed = lease->request("GET", kPolicies, {}, {}, 1s);
  REQUIRE_MESSAGE(renewed.ok(), (renewed.ok() ? "" : renewed.error().message));
  CHECK(renewed.value().status == 200);
}
