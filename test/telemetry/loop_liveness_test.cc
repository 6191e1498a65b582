// /healthz's rule: alive while an evaluation cycle completed within the limit.
// The clock is the test's.
#include "telemetry/loop_liveness.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

namespace kubeai::telemetry {
namespace {

using namespace std::chrono_literals;
using SteadyTime = std::chrono::steady_clock::time_point;

TEST_CASE("LoopLiveness: healthy up to the limit since the last cycle, then 503 with why") {
  SteadyTime now{std::chrono::hours(1000)};
  LoopLiveness liveness(60s, [&] { return now; });

  struct Row {
    std::chrono::milliseconds advance;  // clock moved forward before the check
    bool cycle;                         // a cycle completes, then the check
    bool healthy;
    std::string body;
  };
  const std::vector<Row> rows = {
      {0ms, false, true, "ok"},  // just started: the start counts as the last cycle
      {59s, false, true, "ok"},  // still within the limit
      {1s, false, true, "ok"},   // exactly at the limit
      {1ms, false, false,        // past it
       "evaluation loop stuck: no cycle completed for 60.0s (limit 60s); a plugin call that never returns is the "
       "likely cause, and only a restart ends it\n"},
      {30s, false, false,
       "evaluation loop stuck: no cycle completed for 90.0s (limit 60s); a plugin call that never returns is the "
       "likely cause, and only a restart ends it\n"},
      {0ms, true, true, "ok"},   // a cycle completes: healthy at once
      {60s, false, true, "ok"},  // at the limit again
      {15s, true, true, "ok"},   // cycles keep it healthy
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    CAPTURE(i);
    now += rows[i].advance;
    if (rows[i].cycle) liveness.cycleCompleted();
    const HealthReport report = liveness.report();
    CHECK(report.healthy == rows[i].healthy);
    CHECK(report.body == rows[i].body);
  }
}

TEST_CASE("LoopLiveness::limitFor: four intervals, or the read deadline plus two intervals when longer") {
  struct Row {
    std::chrono::milliseconds interval;
    std::chrono::milliseconds readDeadline;
    std::chrono::milliseconds limit;
  };
  const std::vector<Row> rows = {
      {15s, 30s, 60s},     // the defaults (deadline 2 x interval): four intervals, a minute
      {1s, 2s, 4s},        // the tests' 1 s interval
      {15s, 10min, 630s},  // a long explicit deadline: a cycle may take that long without being stuck
      {15s, 5s, 60s},      // a short deadline does not shorten it
  };
  for (const auto& row : rows) {
    CAPTURE(row.readDeadline.count());
    CHECK(LoopLiveness::limitFor(row.interval, row.readDeadline) == row.limit);
  }
}

}  // namespace
}  // namespace kubeai::telemetry
