#include "kube/client/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace kubeai::kube {

TokenBucket::TokenBucket(double qps, int burst, Clock::time_point now)
    : qps_(std::isfinite(qps) && qps > 0 ? qps : 0.0),
      burst_(static_cast<double>(std::max(burst, 1))),
      tokens_(burst_),
      last_(now) {}

std::optional<TokenBucket::Clock::time_point> TokenBucket::reserve(Clock::time_point now, Clock::time_point deadline) {
  if (unlimited()) {
    const Clock::time_point go = std::max(now, pausedUntil_);
    return go > deadline ? std::nullopt : std::optional<Clock::time_point>(go);
  }
  // A clock read before the last one (threads racing to the mutex) adds nothing.
  const auto elapsed = std::chrono::duration<double>(std::max(now, last_) - last_).count();
  const double refilled = std::min(burst_, tokens_ + elapsed * qps_);
  const double left = refilled - 1.0;
  Clock::time_point go = now;
  if (left < 0) {
    const auto wait = std::chrono::duration<double>(-left / qps_);
    go = std::max(now, last_) + std::chrono::ceil<Clock::duration>(wait);
  }
  if (go > deadline) {
    return std::nullopt;  // nothing taken: the bucket is as it was
  }
  tokens_ = left;
  last_ = std::max(now, last_);
  return go;
}

void TokenBucket::pause(Clock::time_point until) {
  pausedUntil_ = std::max(pausedUntil_, until);
  ++pauses_;
  if (unlimited()) {
    return;
  }
  tokens_ = 0.0;  // the reservations before it are taken again (pausedSince), not owed
  last_ = std::max(last_, until);
}

}  // namespace kubeai::kube
