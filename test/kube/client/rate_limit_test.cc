// The client-side rate limit (TokenBucket, on a fake clock) and when a request
// is sent again after a 429 or 5xx (retryWait, parseRetryAfter): pure
// functions, table-driven. KubeClient's use of them is in
// kube_client_retry_emulator_test.cc.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "kube/client/kube_client.h"
#include "kube/client/retry_policy.h"
#include "kube/client/token_bucket.h"

namespace {

using kubeai::kube::TokenBucket;
using namespace std::chrono_literals;

// A fake clock: milliseconds from an arbitrary start.
TokenBucket::Clock::time_point at(std::chrono::milliseconds offset) {
  return TokenBucket::Clock::time_point{} + 1h + offset;
}

}  // namespace

TEST_CASE("TokenBucket: a burst at once, then one request every 1/qps, in the order asked") {
  struct Row {
    const char* name;
    double qps;
    int burst;
    std::vector<int> askedMs;    // when each request asks for its token
    std::vector<int> goMs;       // when each may be sent
  };
  const std::vector<Row> rows = {
      // client-go's kube-scheduler defaults scaled down: 2 at once, then 200 ms apart.
      {"burst 2 then 5 a second", 5, 2, {0, 0, 0, 0, 0}, {0, 0, 200, 400, 600}},
      // The bucket refills while nobody asks, but never beyond the burst.
      {"refilled after a quiet second", 10, 3, {0, 0, 0, 1000, 1000, 1000, 1000}, {0, 0, 0, 1000, 1000, 1000, 1100}},
      // A partly refilled bucket: the second request waits only for the rest of its token.
      {"part of a token refilled", 2, 1, {0, 250, 250}, {0, 500, 1000}},
      // Waiters queue up one per token, never all released together when the bucket refills.
      {"waiters are paced, not released together", 1, 5, {0, 0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 1000, 2000}},
      // Below one a second.
      {"half a request a second", 0.5, 1, {0, 0}, {0, 2000}},
      // A request asking after its predecessor's slot went by takes a token at once.
      {"a late request is not delayed", 5, 1, {0, 0, 1000}, {0, 200, 1000}},
      // qps 0 is unlimited (client-go would make it 5; --kube-qps documents 0 = unlimited).
      {"qps 0: unlimited", 0, 1, {0, 0, 0, 0, 0, 0}, {0, 0, 0, 0, 0, 0}},
      // Negative and not-a-number rates are unlimited too (create() refuses them before).
      {"negative qps: unlimited", -1, 1, {0, 0, 0}, {0, 0, 0}},
      {"NaN qps: unlimited", std::numeric_limits<double>::quiet_NaN(), 1, {0, 0}, {0, 0}},
      // A burst below 1 is 1.
      {"burst 0 is 1", 10, 0, {0, 0, 0}, {0, 100, 200}},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    REQUIRE(row.askedMs.size() == row.goMs.size());
    TokenBucket bucket(row.qps, row.burst, at(0ms));
    for (std::size_t i = 0; i < row.askedMs.size(); ++i) {
      CAPTURE(i);
      const auto go = bucket.reserve(at(std::chrono::milliseconds(row.askedMs[i])));
      REQUIRE(go.has_value());
      const auto error = std::chrono::abs(*go - at(std::chrono::milliseconds(row.goMs[i])));
      CHECK(error <= 1us);
    }
  }
}

TEST_CASE("TokenBucket: a token that would come after the deadline is not taken") {
  TokenBucket bucket(1, 1, at(0ms));
  CHECK(bucket.reserve(at(0ms), at(0ms)) == at(0ms));       // in the bucket: the deadline is no matter
  CHECK_FALSE(bucket.reserve(at(0ms), at(500ms)).has_value());  // would go at 1000 ms
  CHECK_FALSE(bucket.reserve(at(0ms), at(999ms)).has_value());
  // The refused reservations took nothing: the next token still comes at 1000 ms.
  const auto go = bucket.reserve(at(0ms));
  REQUIRE(go.has_value());
  CHECK(std::chrono::abs(*go - at(1000ms)) <= 1us);
  CHECK(bucket.reserve(at(0ms), at(2000ms)).has_value());  // at 2000 ms: within it
}

TEST_CASE("TokenBucket: a clock read behind the last one adds no tokens") {
  // Two threads read the clock, then race for the mutex: the later reading may come first.
  TokenBucket bucket(10, 1, at(0ms));
  CHECK(bucket.reserve(at(1000ms)) == at(1000ms));
  const auto go = bucket.reserve(at(900ms));
  REQUIRE(go.has_value());
  CHECK(std::chrono::abs(*go - at(1100ms)) <= 1us);
}

TEST_CASE("TokenBucket: after pause(until) requests leave one every 1/qps from until, not in a burst") {
  // qps 5, burst 5: a full bucket, then a 429 with Retry-After: 1 s at 0 ms.
  TokenBucket bucket(5, 5, at(0ms));
  bucket.pause(at(1000ms));
  // Five callers slept on Retry-After and wake at 1000 ms: without the pause
  // the 5 tokens dripped in meanwhile would send them all at once.
  const std::vector<int> goMs = {1200, 1400, 1600, 1800, 2000};
  for (std::size_t i = 0; i < goMs.size(); ++i) {
    CAPTURE(i);
    const auto go = bucket.reserve(at(1000ms));
    REQUIRE(go.has_value());
    CHECK(std::chrono::abs(*go - at(std::chrono::milliseconds(goMs[i]))) <= 1us);
  }
}

TEST_CASE("TokenBucket: pause keeps promised tokens, is never shortened, and does nothing unlimited") {
  SUBCASE("a reservation taken before a pause is cancelled: its caller reserves again, behind it") {
    TokenBucket bucket(10, 1, at(0ms));
    CHECK(bucket.reserve(at(0ms)) == at(0ms));
    const std::uint64_t seen = bucket.pauses();
    const auto promised = bucket.reserve(at(0ms));  // at 100 ms: tokens -1
    REQUIRE(promised.has_value());
    CHECK(std::chrono::abs(*promised - at(100ms)) <= 1us);
    bucket.pause(at(500ms));
    CHECK(bucket.pausedSince(seen));
    // Its debt is forgotten: the first to reserve after the pause goes 1/qps after it ...
    const auto next = bucket.reserve(at(0ms));
    REQUIRE(next.has_value());
    CHECK(std::chrono::abs(*next - at(600ms)) <= 1us);
    // ... and the cancelled caller, reserving again, the slot after: no slot left empty.
    const auto again = bucket.reserve(at(0ms));
    REQUIRE(again.has_value());
    CHECK(std::chrono::abs(*again - at(700ms)) <= 1us);
    CHECK_FALSE(bucket.pausedSince(bucket.pauses()));
  }
  SUBCASE("an earlier until does not shorten a pause") {
    TokenBucket bucket(10, 1, at(0ms));
    bucket.pause(at(2000ms));
    bucket.pause(at(1000ms));
    const auto go = bucket.reserve(at(1000ms));
    REQUIRE(go.has_value());
    CHECK(std::chrono::abs(*go - at(2100ms)) <= 1us);
  }
  SUBCASE("a paused token past the deadline is refused, nothing taken") {
    TokenBucket bucket(10, 3, at(0ms));
    bucket.pause(at(1000ms));
    CHECK_FALSE(bucket.reserve(at(0ms), at(900ms)).has_value());
    const auto go = bucket.reserve(at(0ms));
    REQUIRE(go.has_value());
    CHECK(std::chrono::abs(*go - at(1100ms)) <= 1us);
  }
  SUBCASE("unlimited: no rate, but nothing leaves inside the pause") {
    TokenBucket bucket(0, 1, at(0ms));
    CHECK(bucket.reserve(at(0ms)) == at(0ms));
    const std::uint64_t seen = bucket.pauses();
    bucket.pause(at(1000ms));
    CHECK(bucket.pausedSince(seen));
    CHECK(bucket.pausedAt(at(999ms)));
    CHECK_FALSE(bucket.pausedAt(at(1000ms)));
    CHECK(bucket.reserve(at(0ms)) == at(1000ms));
    CHECK(bucket.reserve(at(0ms)) == at(1000ms));  // no rate: every caller at once
    CHECK_FALSE(bucket.reserve(at(0ms), at(900ms)).has_value());
    CHECK(bucket.reserve(at(1500ms)) == at(1500ms));
  }
}

TEST_CASE("retryWait: a 429 whatever the method, a GET's 5xx, only with Retry-After, within [1 s, 60 s]") {
  using kubeai::kube::detail::retryWait;
  struct Row {
    const char* method;
    long status;
    std::optional<std::chrono::seconds> retryAfter;
    std::optional<std::chrono::seconds> wait;
  };
  const std::vector<Row> rows = {
      {"GET", 429, 1s, 1s},                          // priority and fairness rejecting: as asked
      {"POST", 429, 3s, 3s},                         // refused before it was acted on: safe to send again
      {"PATCH", 429, 2s, 2s},
      {"DELETE", 429, 1s, 1s},
      {"GET", 503, 2s, 2s},                          // an API server shutting down, with Retry-After
      {"GET", 500, 5s, 5s},
      {"PATCH", 503, 2s, std::nullopt},              // may have been carried out: the caller decides
      {"POST", 500, 1s, std::nullopt},
      {"PUT", 504, 1s, std::nullopt},
      {"GET", 429, std::nullopt, std::nullopt},      // no Retry-After: not retried, as client-go
      {"GET", 503, std::nullopt, std::nullopt},
      {"GET", 429, 0s, 1s},                          // 0 would retry in a hot loop
      {"GET", 429, 3600s, 60s},                      // an hour outlives any caller's deadline
      {"GET", 404, 5s, std::nullopt},                // not a status that asks for a wait
      {"GET", 409, 5s, std::nullopt},
      {"GET", 200, 5s, std::nullopt},
      {"GET", 600, 5s, std::nullopt},                // not HTTP's 5xx
  };
  for (const Row& row : rows) {
    CAPTURE(row.method);
    CAPTURE(row.status);
    CHECK(retryWait(row.method, row.status, row.retryAfter) == row.wait);
  }
}

TEST_CASE("parseRetryAfter: whole seconds only, as client-go reads the header") {
  using kubeai::kube::detail::parseRetryAfter;
  struct Row {
    const char* value;
    std::optional<std::chrono::seconds> seconds;
  };
  const std::vector<Row> rows = {
      {"1", 1s},
      {"120", 120s},
      {"0", 0s},
      {" 7 ", 7s},                                        // optional whitespace around a field value
      {"", std::nullopt},
      {"-1", std::nullopt},
      {"1.5", std::nullopt},
      {"5s", std::nullopt},
      {"Wed, 21 Oct 2015 07:28:00 GMT", std::nullopt},    // an HTTP-date: not honoured, as client-go
      {"99999999999999999999999", 999'999'999s},          // saturates instead of overflowing
  };
  for (const Row& row : rows) {
    CAPTURE(row.value);
    CHECK(parseRetryAfter(row.value) == row.seconds);
  }
}

TEST_CASE("KubeClient::create refuses rate-limit options out of range, naming the option") {
  struct Row {
    const char* name;
    kubeai::kube::KubeClientOptions options;
    const char* error;  // empty: accepted
  };
  const std::vector<Row> rows = {
      {"defaults", {}, ""},
      {"qps 50 burst 100", {50, 100, 10}, ""},
      {"no retries", {1, 1, 0}, ""},
      {"negative qps", {-1, 1, 10}, "qps"},
      {"infinite qps", {std::numeric_limits<double>::infinity(), 1, 10}, "qps"},
      {"NaN qps", {std::numeric_limits<double>::quiet_NaN(), 1, 10}, "qps"},
      {"burst 0", {5, 0, 10}, "burst"},
      {"negative retries", {5, 1, -1}, "maxRetries"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.name);
    kubeai::kube::KubeConfig config;
    config.server = "http://127.0.0.1:1";
    const auto client = kubeai::kube::KubeClient::create(config, row.options);
    if (std::string(row.error).empty()) {
      CHECK(client.ok());
    } else {
      REQUIRE_FALSE(client.ok());
      CHECK(client.error().message.find(row.error) != std::string::npos);
    }
  }
}
