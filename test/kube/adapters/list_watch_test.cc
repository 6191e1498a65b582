#include "kube/list_watch.h"

#include <doctest/doctest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fake_kube_client.h"
#include "support/wait.h"

namespace kubeai::kube {
namespace {

using std::chrono::milliseconds;
using testing::FakeKubeClient;

// A sink whose every watch line is an applied event with that line as its
// resourceVersion, and a list page's body its resourceVersion. It records
// health() as the list and each event are handed to it, and its
// applyWatchLine() throws once for the line `throwOn`: a consumer failing.
class RecordingSink final : public ListWatchSink {
 public:
  struct Applied {
    std::string line;
    ListWatch::Health health;  // as applyWatchLine() read it
  };

  explicit RecordingSink(std::string throwOn = "") : throwOn_(std::move(throwOn)) {}

  void watching(const ListWatch& watch) { watch_ = &watch; }

  void beginList() override {}
  core::Result<ListPageEnd> listPage(const std::string& /*path*/, std::string_view body) override {
    return ListPageEnd{std::string(body), ""};
  }
  void endList(const std::string& /*resourceVersion*/) override {
    const ListWatch::Health health = watch_->health();
    const std::lock_guard lock(mutex_);
    lists_.push_back(health);
  }
  void listed(std::size_t /*pages*/, const std::string& /*resourceVersion*/) override {}
  WatchLineOutcome watchLine(std::string_view line) override {
    WatchLineOutcome outcome;
    if (line.starts_with("bookmark ")) {  // a bookmark at the rest of the line
      outcome.kind = WatchLineOutcome::Kind::kBookmark;
      outcome.resourceVersion = std::string(line.substr(9));
      return outcome;
    }
    if (line.starts_with("error ")) {  // an ERROR event of the code at the rest of the line
      outcome.kind = WatchLineOutcome::Kind::kStatus;
      outcome.errorEvent = true;
      outcome.status.code = std::stol(std::string(line.substr(6)));
      outcome.status.message = "etcd is down";
      return outcome;
    }
    pending_ = std::string(line);
    outcome.kind = WatchLineOutcome::Kind::kApplied;
    outcome.resourceVersion = pending_;
    return outcome;
  }
  void applyWatchLine() override {
    const ListWatch::Health health = watch_->health();
    if (!throwOn_.empty() && pending_ == throwOn_) {
      throwOn_.clear();
      throw std::runtime_error("the consumer failed");
    }
    const std::lock_guard lock(mutex_);
    applied_.push_back({pending_, health});
  }

  std::vector<ListWatch::Health> lists() const {
    const std::lock_guard lock(mutex_);
    return lists_;
  }
  std::vector<Applied> applied() const {
    const std::lock_guard lock(mutex_);
    return applied_;
  }

 private:
  const ListWatch* watch_ = nullptr;  // set before start()
  std::string throwOn_;               // the ListWatch's thread only
  std::string pending_;               // the ListWatch's thread only
  mutable std::mutex mutex_;
  std::vector<ListWatch::Health> lists_;
  std::vector<Applied> applied_;
};

struct Fixture {
  FakeKubeClient client;
  RecordingSink sink;
  std::mutex mutex;
  std::vector<std::string> failures;  // the logged errors
  std::vector<milliseconds> delays;
  std::unique_ptr<ListWatch> watch;

  explicit Fixture(std::string throwOn = "") : sink(std::move(throwOn)) {
    client.onRequest = [](std::string_view, const std::string&) -> core::Result<KubeResponse> {
      return KubeResponse{200, "10"};
    };
    ListWatchTiming timing;
    timing.log = [this](WatchLogLevel, std::string_view, const WatchLogFields& fields) {
      for (const auto& [key, value] : fields) {
        if (key == "error") {
          const std::lock_guard lock(mutex);
          failures.push_back(value);
        }
      }
    };
    timing.sleep = [this](milliseconds delay, const std::stop_token& stop) {
      const std::lock_guard lock(mutex);
      delays.push_back(delay);
      return !stop.stop_requested();
    };
    watch = std::make_unique<ListWatch>(client, "/apis/test/v1/things", "things watch", std::move(timing), sink);
    sink.watching(*watch);
  }
  ~Fixture() { watch->stop(); }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;

  void waitForApplied(std::size_t count) {
    testing::waitUntil([&] { return sink.applied().size() >= count; }, testing::stretched(std::chrono::seconds(5)),
                       testing::concat(std::to_string(count), " events applied"), nullptr, milliseconds(2));
  }
};

TEST_CASE("ListWatch counts a list and a watch event in health() before its sink is handed them") {
  Fixture f;
  f.client.addStream({{"11", "12"}, 200L, true});
  f.watch->start();
  f.waitForApplied(2);
  const std::vector<ListWatch::Health> lists = f.sink.lists();
  REQUIRE(lists.size() == 1);
  CHECK(lists[0].lists == 1);
  CHECK(lists[0].resourceVersion == "10");
  CHECK_FALSE(lists[0].synced);  // synced() follows the set handed on
  const std::vector<RecordingSink::Applied> applied = f.sink.applied();
  REQUIRE(applied.size() == 2);
  CHECK(applied[0].line == "11");
  CHECK(applied[0].health.resourceVersion == "11");  // the event's, not the list's
  CHECK(applied[0].health.synced);
  CHECK(applied[1].health.resourceVersion == "12");
}

TEST_CASE("ListWatch resumes before an event its sink failed to apply, so that the event comes again") {
  Fixture f("12");
  // The first watch: 11 is applied, applying 12 throws. The resumed watch
  // (from 11, as the server would) sends 12 again.
  f.client.addStream({{"11", "12", "13"}, 200L});
  f.client.addStream({{"12"}, 200L, true});
  f.watch->start();
  f.waitForApplied(2);
  const std::vector<std::string> streams = f.client.streams();
  REQUIRE(streams.size() == 2);
  CHECK(streams[0].find("resourceVersion=10&") != std::string::npos);
  CHECK(streams[1].find("resourceVersion=11&") != std::string::npos);  // not 12: it was not applied
  const std::vector<RecordingSink::Applied> applied = f.sink.applied();
  REQUIRE(applied.size() == 2);
  CHECK(applied[0].line == "11");
  CHECK(applied[1].line == "12");
  CHECK(applied[1].health.resourceVersion == "12");
  CHECK(applied[1].health.lastError.empty());  // the redelivered event clears the failure
  CHECK(f.watch->health().resourceVersion == "12");
  f.watch->stop();
  const std::lock_guard lock(f.mutex);
  REQUIRE(f.failures.size() == 1);
  CHECK(f.failures[0].find("the consumer failed") != std::string::npos);
  CHECK(f.delays.size() == 1);  // backed off once, then resumed
}

TEST_CASE("ListWatch: a bookmark after a failure clears health()'s lastError, as an event does") {
  // A quiet collection: after the failed watch, the server sends nothing but
  // a bookmark. It serves again, and health() must say so.
  Fixture f;
  f.client.addStream({{}, 500L});
  f.client.addStream({{"bookmark 13"}, 200L, true});
  f.watch->start();
  // Without the fix the resourceVersion moves and lastError stays: the wait
  // times out naming both.
  testing::waitUntil(
      [&] {
        const ListWatch::Health health = f.watch->health();
        return health.resourceVersion == "13" && health.lastError.empty();
      },
      testing::stretched(std::chrono::seconds(5)), "the bookmark's resourceVersion, and no lastError", nullptr,
      milliseconds(2));
  CHECK(f.sink.applied().empty());  // a bookmark is no event
  f.watch->stop();
  const std::lock_guard lock(f.mutex);
  REQUIRE(f.failures.size() == 1);
  CHECK(f.failures[0].find("HTTP 500") != std::string::npos);
}

TEST_CASE("ListWatch: a watch that served, then ended in an ERROR event, keeps that error in health()") {
  // After an earlier failure, a watch delivers an event (the server serves
  // again) and then an ERROR event: while the watcher backs off, health()
  // names the ERROR event, not a recovery.
  Fixture f;
  f.client.addStream({{}, 500L});
  f.client.addStream({{"11", "error 500"}, 200L});
  f.watch->start();
  f.waitForApplied(1);
  // The third watch is the one after the back-off: by then the second has
  // ended and its outcome is in health() (unscripted, the third stays quiet).
  testing::waitUntil([&] { return f.client.streams().size() >= 3; }, testing::stretched(std::chrono::seconds(5)),
                     "the watch after the back-off", nullptr, milliseconds(2));
  const ListWatch::Health health = f.watch->health();
  CHECK(health.resourceVersion == "11");
  // Without the fix the event's recovery cleared it: lastError was empty.
  CHECK(health.lastError.find("HTTP 500: etcd is down") != std::string::npos);
  f.watch->stop();
  const std::lock_guard lock(f.mutex);
  REQUIRE(f.failures.size() == 2);
  CHECK(f.failures[1].find("etcd is down") != std::string::npos);
}

}  // namespace
}  // namespace kubeai::kube
