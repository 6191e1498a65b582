#include "server/deadline_metric_source.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "server/duration_text.h"

namespace kubeai::server {
namespace {

std::chrono::milliseconds elapsedSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
}

std::vector<core::Result<source::MetricReading>> failEvery(std::size_t count, const std::string& message) {
  return std::vector<core::Result<source::MetricReading>>(count, core::Error{message});
}

}  // namespace

DeadlineMetricSource::DeadlineMetricSource(source::MetricSource& inner, std::chrono::milliseconds deadline)
    : inner_(inner), deadline_(deadline), worker_([this](const std::stop_token& stop) { work(stop); }) {}

DeadlineMetricSource::~DeadlineMetricSource() {
  // The worker finishes the read it is in, then sees the stop request.
  worker_.request_stop();
  changed_.notify_all();
}

std::chrono::milliseconds DeadlineMetricSource::defaultDeadline(std::chrono::milliseconds interval,
                                                                std::chrono::milliseconds staleAfter) noexcept {
  return std::min(2 * interval, staleAfter);
}

bool DeadlineMetricSource::readRunning() const {
  const std::lock_guard lock(mutex_);
  return running_;
}

bool DeadlineMetricSource::waitIdle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [this] { return !running_; });
}

std::vector<core::Result<source::MetricReading>> DeadlineMetricSource::readPolicies(
    const core::PolicyList& policies) {
  std::unique_lock lock(mutex_);
  if (running_) {
    return failEvery(policies.size(), "the previous metric read is still running after " +
                                          formatDuration(elapsedSince(startedAt_)) + " (--metrics-read-deadline " +
                                          formatDuration(deadline_) + "), and a source takes one read at a time");
  }
  // Copied under the lock: the worker only looks at it once notified.
  request_.emplace(policies);
  results_.reset();
  running_ = true;
  abandoned_ = false;
  startedAt_ = Clock::now();
  changed_.notify_all();
  if (changed_.wait_until(lock, startedAt_ + deadline_, [this] { return results_.has_value(); })) {
    Readings out = std::move(*results_);
    results_.reset();
    return out;
  }
  // Gave up on it: the worker drops what it brings (see work()).
  abandoned_ = true;
  return failEvery(policies.size(), "the metric read did not finish within its deadline of " +
                                        formatDuration(deadline_) + " (--metrics-read-deadline)");
}

void DeadlineMetricSource::work(const std::stop_token& stop) {
  for (;;) {
    core::PolicyList policies;
    {
      std::unique_lock lock(mutex_);
      if (!changed_.wait(lock, stop, [this] { return request_.has_value(); })) {
        return;  // stop requested, nothing asked for
      }
      policies = std::move(*request_);
      request_.reset();
    }
    Readings readings;
    try {
      readings = inner_.read(policies);
    } catch (const std::exception& error) {
      // Not expected (no exceptions on the data path), but this thread must
      // not end the process for it: a failed read, as any other.
      readings = failEvery(policies.size(), std::string("metric read failed: ") + error.what());
    }
    // Released here rather than at the next read: the last holder of a
    // policy removed meanwhile may be this copy.
    policies = {};
    const std::lock_guard lock(mutex_);
    running_ = false;
    if (!abandoned_) {
      results_ = std::move(readings);
    }
    changed_.notify_all();
  }  // a late read's results are destroyed here, after the lock is released
}

}  // namespace kubeai::server
