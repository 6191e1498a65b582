#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace kubeai::telemetry {

// What /healthz answers: 200 with `body` while healthy, 503 with it otherwise.
struct HealthReport {
  bool healthy = true;
  std::string body;
};

// /healthz's rule: the process is alive while its evaluation loop is. The
// loop can stop completing cycles only by being stuck: in a plugin call that
// never returns (plugins run in-process), or in anything else without a
// deadline (metric reads have one: DeadlineMetricSource). gRPC would keep
// answering from memory, every answer going stale, and nothing would ever
// recover; failing liveness has the kubelet restart the pod instead.
//
// Unhealthy when no cycle has completed for longer than `limit` (exactly
// the limit is still healthy); the time before the first cycle counts from
// construction. Thread-safe: cycleCompleted() on the evaluation thread,
// report() on the HTTP workers.
class LoopLiveness {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  explicit LoopLiveness(std::chrono::milliseconds limit, Clock clock = steadyClock());

  void cycleCompleted() noexcept;

  // {true, "ok"}, or {false, why: how long since the last cycle, the limit and
  // where the loop is likely stuck}.
  [[nodiscard]] HealthReport report() const;

  [[nodiscard]] std::chrono::milliseconds limit() const noexcept { return limit_; }

  // serve's limit: four evaluation intervals (a minute at the default 15 s),
  // or the metric read deadline plus two intervals when that is longer. A
  // cycle waits at most an interval for its tick and the read deadline for
  // its metrics (the cycle after a late read fails at once), so a loop that
  // is not stuck completes one well within it.
  [[nodiscard]] static std::chrono::milliseconds limitFor(std::chrono::milliseconds interval,
                                                          std::chrono::milliseconds readDeadline) noexcept;

  static Clock steadyClock();

 private:
  const std::chrono::milliseconds limit_;
  const Clock clock_;
  // Of the last completed cycle (or construction), as steady_clock ticks.
  std::atomic<std::chrono::steady_clock::rep> lastCycle_;
};

}  // namespace kubeai::telemetry
