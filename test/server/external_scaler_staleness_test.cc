// The RPC path's own staleness check (DESIGN §1): a ready decision whose
// metrics were last read longer than the bound ago answers UNAVAILABLE on the
// clock, whether or not the evaluation loop has said so. The clock is the
// test's: each row sets it against the entry's metricsReadAt.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "server/decision_store.h"
#include "server/external_scaler_service.h"
#include "service_client.h"
#include "test_support.h"

namespace kubeai::server {
namespace {

using namespace std::chrono_literals;
using externalscaler::GetMetricSpecResponse;
using externalscaler::IsActiveResponse;
using testing::isActive;
using testing::metrics;
using testing::metricSpec;
using testing::openIsActive;
using testing::readActive;
using testing::readyEntry;
using testing::scaledObject;
using testing::TestServer;

constexpr auto kBound = 45s;  // --metrics-stale-after
const core::TimePoint kReadAt = core::TimePoint{} + std::chrono::hours(24 * 365 * 50);

// The service's clock, moved by the test.
struct TestClock {
  std::atomic<std::int64_t> msAfterRead{0};

  [[nodiscard]] StalenessCheck check(std::chrono::milliseconds bound = kBound) {
    return StalenessCheck{bound, [this] { return kReadAt + std::chrono::milliseconds(msAfterRead.load()); }};
  }
  void set(std::chrono::milliseconds sinceRead) { msAfterRead.store(sinceRead.count()); }
};

PolicyEntry readAt(std::int32_t desired, core::TimePoint when) {
  PolicyEntry entry = readyEntry("default", "chat", desired);
  entry.metricsReadAt = when;
  return entry;
}

TEST_CASE("a ready decision is served until its metrics read is older than --metrics-stale-after, then UNAVAILABLE") {
  TestClock clock;
  TestServer server(clock.check());
  server.store.publish(readAt(3, kReadAt));
  const auto ref = scaledObject("chat", "default");

  struct Row {
    std::chrono::milliseconds sinceRead;
    bool served;
    std::string message;  // of the UNAVAILABLE status
  };
  const std::vector<Row> rows = {
      {0ms, true, ""},                 // read just now
      {30s, true, ""},                 // fresh: within the bound
      {45s, true, ""},                 // exactly at the bound: not past it
      {45001ms, false, "policy default/chat is stale: metrics last read 45.0s ago (--metrics-stale-after 45s)"},
      {47s, false, "policy default/chat is stale: metrics last read 47s ago (--metrics-stale-after 45s)"},
      {3h, false, "policy default/chat is stale: metrics last read 10800s ago (--metrics-stale-after 45s)"},
      {-5s, true, ""},                 // a clock stepped back: not stale
  };
  for (const auto& row : rows) {
    CAPTURE(row.sinceRead.count());
    clock.set(row.sinceRead);

    const auto answer = metrics(server, ref, "kubeai-chat");
    bool active = false;
    const auto activeStatus = isActive(server, ref, &active);
    if (row.served) {
      REQUIRE(answer.status.ok());
      CHECK(answer.value == 3);
      REQUIRE(activeStatus.ok());
      CHECK(active);
    } else {
      CHECK(answer.status.error_code() == grpc::StatusCode::UNAVAILABLE);
      CHECK(answer.status.error_message() == row.message);
      CHECK(activeStatus.error_code() == grpc::StatusCode::UNAVAILABLE);
      CHECK(activeStatus.error_message() == row.message);
    }
    // GetMetricSpec answers for every known policy, stale or not.
    GetMetricSpecResponse spec;
    REQUIRE(metricSpec(server, ref, &spec).ok());
    CHECK(spec.metricspecs(0).metricname() == "kubeai-chat");
  }
}

TEST_CASE("a fresh read makes the decision servable again, the clock unchanged") {
  TestClock clock;
  TestServer server(clock.check());
  server.store.publish(readAt(2, kReadAt));
  clock.set(60s);
  CHECK(metrics(server, scaledObject("chat", "default"), "kubeai-chat").status.error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  server.store.publish(readAt(2, kReadAt + 50s));  // read 10 s before the clock
  const auto answer = metrics(server, scaledObject("chat", "default"), "kubeai-chat");
  REQUIRE(answer.status.ok());
  CHECK(answer.value == 2);
}

TEST_CASE("entries without a read time, and a service without a bound, are not checked on the clock") {
  SUBCASE("no metricsReadAt (not from the evaluation loop)") {
    TestClock clock;
    TestServer server(clock.check());
    server.store.publish(readyEntry("default", "chat", 4));
    clock.set(24h);
    CHECK(metrics(server, scaledObject("chat", "default"), "kubeai-chat").value == 4);
  }
  SUBCASE("no bound") {
    TestServer server;
    server.store.publish(readAt(4, core::TimePoint{}));  // read in 1970
    CHECK(metrics(server, scaledObject("chat", "default"), "kubeai-chat").value == 4);
  }
}

TEST_CASE("StreamIsActive sends nothing while the decision is stale on the clock, and the value once read again") {
  TestClock clock;
  TestServer server(clock.check());
  server.store.publish(readAt(1, kReadAt));
  clock.set(50s);

  SUBCASE("opened while stale: nothing is sent; the end is the next thing the client sees") {
    auto stream = openIsActive(server, scaledObject("chat", "default"));
    server.store.remove("default", "chat");
    bool result = false;
    CHECK_FALSE(readActive(stream, result));  // had `true` been sent at once, it would be read here
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
  SUBCASE("opened while stale: a fresh read of the same replicas is sent") {
    auto stream = openIsActive(server, scaledObject("chat", "default"));
    stream.reader->WaitForInitialMetadata();  // held by the server, silent
    server.store.publish(readAt(1, kReadAt + 45s));  // read 5 s before the clock
    bool result = false;
    REQUIRE(readActive(stream, result));
    CHECK(result);
    stream.context->TryCancel();
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::CANCELLED);
  }
  SUBCASE("a change whose read is already too old is not sent") {
    server.store.publish(readAt(1, kReadAt + 45s));
    auto stream = openIsActive(server, scaledObject("chat", "default"));
    bool result = false;
    REQUIRE(readActive(stream, result));
    REQUIRE(result);
    server.store.publish(readAt(0, kReadAt));        // idle, from a read 50 s old: not sent
    server.store.publish(readAt(3, kReadAt + 46s));  // active, fresh: what KEDA has
    server.store.remove("default", "chat");
    CHECK_FALSE(readActive(stream, result));  // had `false` been sent, it would be read here
    CHECK(stream.reader->Finish().error_code() == grpc::StatusCode::NOT_FOUND);
  }
}

TEST_CASE("readTooLongAgo and staleOnTimeMessage, row by row") {
  const auto bound = std::chrono::milliseconds(3000);
  struct Row {
    PolicyEntry entry;
    std::chrono::milliseconds sinceRead;
    bool stale;
    std::string message;
  };
  auto pending = testing::unservableEntry("default", "chat", PolicyState::kPending, "no metrics yet");
  pending.metricsReadAt = kReadAt;
  const std::vector<Row> rows = {
      {readAt(1, kReadAt), 2999ms, false, ""},                                                   // fresh
      {readAt(1, kReadAt), 3000ms, false, ""},                                                   // at the bound
      {readAt(1, kReadAt), 3001ms, true, "metrics last read 3.0s ago (--metrics-stale-after 3s)"},  // past it
      {readAt(1, kReadAt), 3499ms, true, "metrics last read 3.4s ago (--metrics-stale-after 3s)"},  // rounded down
      {readyEntry("default", "chat", 1), 1h, false, ""},  // no read time
      {pending, 1h, false, ""},                           // not servable anyway: its own state says why
  };
  for (const auto& row : rows) {
    CAPTURE(row.sinceRead.count());
    const core::TimePoint now = kReadAt + row.sinceRead;
    CHECK(readTooLongAgo(row.entry, now, bound) == row.stale);
    if (row.stale) {
      CHECK(staleOnTimeMessage(row.entry, now, bound) == row.message);
    }
  }
}

}  // namespace
}  // namespace kubeai::server
