// DeadlineMetricSource: every read has a deadline. The inner source here is
// the test's: each read() blocks until the test lets it go (or answers at
// once), and returns the number of the call as the queue depth, so a result
// says which read it came from.
#include "server/deadline_metric_source.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/wait.h"
#include "test_support.h"

namespace kubeai::server {
namespace {

using namespace std::chrono_literals;

// Long enough that a read let go at once is never late on a loaded machine;
// the late rows wait exactly this long, by design.
constexpr auto kDeadline = 300ms;
const auto kPatience = kubeai::testing::stretched(std::chrono::milliseconds(10'000));

class GatedSource final : public source::MetricSource {
 public:
  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override {
    std::unique_lock lock(mutex_);
    const int call = ++calls_;
    threads_.insert(std::this_thread::get_id());
    ++running_;
    maxRunning_ = std::max(maxRunning_, running_);
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_ || released_ >= call; });
    --running_;
    source::MetricReading reading;
    reading.requestQueueDepth = call;
    return std::vector<core::Result<source::MetricReading>>(policies.size(), reading);
  }

  // Every read from now on answers at once.
  void open() {
    const std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Lets read number `call` (and those before it) return.
  void release(int call) {
    const std::lock_guard lock(mutex_);
    released_ = std::max(released_, call);
    changed_.notify_all();
  }
  int calls() {
    const std::lock_guard lock(mutex_);
    return calls_;
  }
  int maxRunning() {
    const std::lock_guard lock(mutex_);
    return maxRunning_;
  }
  std::size_t threads() {
    const std::lock_guard lock(mutex_);
    return threads_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = false;
  int released_ = 0;
  int calls_ = 0;
  int running_ = 0;
  int maxRunning_ = 0;
  std::set<std::thread::id> threads_;
};

std::vector<core::Policy> policies(std::size_t count) {
  std::vector<core::Policy> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    core::Policy policy;
    policy.metadata.name = testing::numbered("p", static_cast<long>(i));
    out.push_back(std::move(policy));
  }
  return out;
}

// The call number each result came from, or -1 for an error (its message in `errors`).
std::vector<double> sources(const std::vector<core::Result<source::MetricReading>>& results,
                            std::vector<std::string>* errors = nullptr) {
  std::vector<double> out;
  for (const auto& result : results) {
    if (result.ok()) {
      out.push_back(result.value().requestQueueDepth.value_or(-2));
    } else {
      out.push_back(-1);
      if (errors != nullptr) {
        errors->push_back(result.error().message);
      }
    }
  }
  return out;
}

TEST_CASE("a read back in time gives the inner source's results, from a thread of its own") {
  GatedSource inner;
  inner.open();
  DeadlineMetricSource source(inner, kDeadline);
  CHECK(sources(source.read(policies(3))) == std::vector<double>{1, 1, 1});
  CHECK(sources(source.read(policies(2))) == std::vector<double>{2, 2});
  CHECK(sources(source.read({})).empty());
  CHECK_FALSE(source.readRunning());
  CHECK(inner.threads() == 1);  // one worker for every read
}

TEST_CASE("a late read fails for every policy, the cycles after it at once, and its results are dropped") {
  GatedSource inner;
  DeadlineMetricSource source(inner, kDeadline);

  // Late: read 1 is held past the deadline.
  const auto started = std::chrono::steady_clock::now();
  std::vector<std::string> errors;
  CHECK(sources(source.read(policies(3)), &errors) == std::vector<double>{-1, -1, -1});
  const auto waited = std::chrono::steady_clock::now() - started;
  CHECK(waited >= kDeadline);
  CHECK(waited < kDeadline + kPatience);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0] == "the metric read did not finish within its deadline of 300ms (--metrics-read-deadline)");
  CHECK(source.readRunning());

  // The cycle after: read 1 still runs, so this one fails at once, and the
  // inner source is not called a second time while it does.
  const auto next = std::chrono::steady_clock::now();
  errors.clear();
  CHECK(sources(source.read(policies(2)), &errors) == std::vector<double>{-1, -1});
  CHECK(std::chrono::steady_clock::now() - next < kDeadline);
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].rfind("the previous metric read is still running after ", 0) == 0);
  CHECK(errors[0].find("(--metrics-read-deadline 300ms), and a source takes one read at a time") !=
        std::string::npos);
  CHECK(inner.calls() == 1);

  // Read 1 returns late: its results (call 1) are dropped; the next read is
  // a new one (call 2), answered in time.
  inner.release(1);
  CHECK(source.waitIdle(kPatience));
  inner.open();
  CHECK(sources(source.read(policies(2))) == std::vector<double>{2, 2});
  CHECK(inner.calls() == 2);
  CHECK(inner.maxRunning() == 1);  // never two inner reads at once
}

TEST_CASE("the late read's policies are its own copy: the caller's vector may go") {
  GatedSource inner;
  DeadlineMetricSource source(inner, kDeadline);
  {
    auto mine = policies(1000);
    CHECK(sources(source.read(mine)).size() == 1000);  // late: errors
  }  // destroyed while read 1 still runs on them
  inner.release(1);
  CHECK(source.waitIdle(kPatience));
  inner.open();
  CHECK(sources(source.read(policies(1))) == std::vector<double>{2});
}

TEST_CASE("waitIdle gives up after its timeout while a read runs, and the destructor waits for it") {
  GatedSource inner;
  auto source = std::make_unique<DeadlineMetricSource>(inner, kDeadline);
  (void)source->read(policies(1));
  CHECK_FALSE(source->waitIdle(10ms));
  std::thread releaser([&] {
    kubeai::testing::waitUntil([&] { return inner.calls() == 1; }, kPatience, "the read to start");
    inner.release(1);
  });
  source.reset();  // returns once read 1 is back
  releaser.join();
  CHECK(inner.calls() == 1);
}

TEST_CASE("defaultDeadline: two evaluation intervals, never above --metrics-stale-after") {
  struct Row {
    std::chrono::milliseconds interval;
    std::chrono::milliseconds staleAfter;
    std::chrono::milliseconds deadline;
  };
  const std::vector<Row> rows = {
      {15s, 45s, 30s},  // the defaults: 2 x 15 s
      {1s, 3s, 2s},     // the hung-Prometheus test's flags
      {10s, 15s, 15s},  // capped: a longer read could only bring stale metrics
      {1s, 60s, 2s},    // a generous bound does not stretch the deadline
  };
  for (const auto& row : rows) {
    CAPTURE(row.interval.count());
    CHECK(DeadlineMetricSource::defaultDeadline(row.interval, row.staleAfter) == row.deadline);
  }
}

}  // namespace
}  // namespace kubeai::server
