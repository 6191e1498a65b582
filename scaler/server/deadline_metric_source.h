#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "core/policy.h"
#include "core/result.h"
#include "source/metric_source.h"

namespace kubeai::server {

// A MetricSource whose every read has a deadline, so that an evaluation cycle
// always ends (DESIGN §1): a Prometheus that accepts a query and never
// answers, a /scale request stuck in the network, cost at most the deadline.
//
// Each read() hands the policies to a thread of its own, which calls the
// inner source's read(), and waits for it until the deadline:
// - back in time: its results, as the inner source gave them;
// - not back: every policy gets an Error naming the deadline, and the loop
//   carries on (the policy's last decision stays in force, and goes stale
//   after --metrics-stale-after);
// - while that late read is still running, each read() fails at once for
//   every policy ("the previous metric read is still running after 12s"):
//   the inner sources take one read at a time (MetricSource's contract), so
//   there is no second read to start. Its results, when they come, are
//   dropped: they answer a cycle that has already been decided without them.
//
// The inner read() is therefore made on this object's thread, never two at a
// time, and never concurrently with another read() of this object; the
// policies' pointers are copied for it, since a late read outlives the
// caller's vector (the policies themselves are shared, not copied).
//
// read() is for one caller at a time (the evaluation thread); readRunning()
// and waitIdle() may be called from any thread.
class DeadlineMetricSource final : public source::MetricSource {
 public:
  // `inner` must outlive this object.
  DeadlineMetricSource(source::MetricSource& inner, std::chrono::milliseconds deadline);
  // Waits for a read still running inside the inner source (see waitIdle():
  // serve does not destroy one whose read is stuck).
  ~DeadlineMetricSource() override;
  DeadlineMetricSource(const DeadlineMetricSource&) = delete;
  DeadlineMetricSource& operator=(const DeadlineMetricSource&) = delete;

  [[nodiscard]] std::chrono::milliseconds deadline() const noexcept { return deadline_; }

  // True while an inner read is running (in time or late).
  [[nodiscard]] bool readRunning() const;

  // Waits up to `timeout` for no inner read to be running; true when none is.
  [[nodiscard]] bool waitIdle(std::chrono::milliseconds timeout) const;

  // serve's default for --metrics-read-deadline: two evaluation intervals (a
  // Prometheus slower than one interval still gets its answers in, the cycles
  // merely come less often), never above --metrics-stale-after (a read that
  // takes longer could only ever bring stale metrics).
  [[nodiscard]] static std::chrono::milliseconds defaultDeadline(std::chrono::milliseconds interval,
                                                                 std::chrono::milliseconds staleAfter) noexcept;

 private:
  using Clock = std::chrono::steady_clock;
  using Readings = std::vector<core::Result<source::MetricReading>>;

  std::vector<core::Result<source::MetricReading>> readPolicies(const core::PolicyList& policies) override;
  void work(const std::stop_token& stop);

  source::MetricSource& inner_;
  const std::chrono::milliseconds deadline_;

  mutable std::mutex mutex_;  // guards the fields below
  mutable std::condition_variable_any changed_;
  std::optional<core::PolicyList> request_;  // handed to the worker, not taken yet
  std::optional<Readings> results_;                   // the worker's answer to the read waiting for it
  bool running_ = false;                              // an inner read is asked for or running
  bool abandoned_ = false;                            // its caller gave up: drop its results
  Clock::time_point startedAt_{};                     // of the read running

  std::jthread worker_;  // last: started once the fields above exist
};

}  // namespace kubeai::server
