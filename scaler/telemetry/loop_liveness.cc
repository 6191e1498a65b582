#include "telemetry/loop_liveness.h"

#include <algorithm>
#include <utility>

namespace kubeai::telemetry {
namespace {

// "63s", "4.5s": whole seconds or one decimal, as the flags are written.
std::string seconds(std::chrono::milliseconds duration) {
  const auto ms = duration.count();
  std::string out = std::to_string(ms / 1000);
  if (ms % 1000 != 0) {
    out += '.';
    out += static_cast<char>('0' + (ms % 1000) / 100);
  }
  out += 's';
  return out;
}

}  // namespace

LoopLiveness::Clock LoopLiveness::steadyClock() {
  return [] { return std::chrono::steady_clock::now(); };
}

LoopLiveness::LoopLiveness(std::chrono::milliseconds limit, Clock clock)
    : limit_(limit), clock_(std::move(clock)), lastCycle_(clock_().time_since_epoch().count()) {}

void LoopLiveness::cycleCompleted() noexcept {
  lastCycle_.store(clock_().time_since_epoch().count(), std::memory_order_relaxed);
}

HealthReport LoopLiveness::report() const {
  const std::chrono::steady_clock::time_point last{
      std::chrono::steady_clock::duration(lastCycle_.load(std::memory_order_relaxed))};
  const auto since = std::chrono::duration_cast<std::chrono::milliseconds>(clock_() - last);
  if (since <= limit_) {
    return {true, "ok"};
  }
  std::string body = "evaluation loop stuck: no cycle completed for ";
  body += seconds(since);
  body += " (limit ";
  body += seconds(limit_);
  body += "); a plugin call that never returns is the likely cause, and only a restart ends it\n";
  return {false, std::move(body)};
}

std::chrono::milliseconds LoopLiveness::limitFor(std::chrono::milliseconds interval,
                                                 std::chrono::milliseconds readDeadline) noexcept {
  return std::max(4 * interval, readDeadline + 2 * interval);
}

}  // namespace kubeai::telemetry
