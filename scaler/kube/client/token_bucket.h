#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace kubeai::kube {

// client-go's client-side rate limit (flowcontrol.NewTokenBucketRateLimiter,
// golang.org/x/time/rate underneath): `qps` tokens a second into a bucket of
// `burst`, full at the start; each request takes one. Unlike client-go, qps 0
// means unlimited (client-go turns 0 into its default of 5 and only a negative
// QPS into no limit; we document the one meaning, --kube-qps 0).
//
// Reservations, as rate.Limiter.Reserve: a request that finds the bucket empty
// takes the next token that will drip in and is told when it may go, so
// waiting callers are served in the order they asked, one every 1/qps, never
// together in a burst when the bucket refills.
//
// Pure: the time is passed in (tests use a fake clock) and nothing here
// waits or locks; KubeClient holds it under its mutex and does the waiting.
class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;

  // qps <= 0 (or not finite): unlimited. burst < 1 is taken as 1.
  TokenBucket(double qps, int burst, Clock::time_point now);

  // Takes a token: returns when the caller may send (`now` when one was in
  // the bucket). When that would be after `deadline`, takes nothing and
  // returns nullopt (rate.Limiter.Wait's "would exceed context deadline").
  std::optional<Clock::time_point> reserve(Clock::time_point now,
                                           Clock::time_point deadline = Clock::time_point::max());

  // The server said "not before `until`" (a 429's Retry-After): the bucket is
  // emptied and fills again only from `until`, so the callers that slept on
  // Retry-After leave one every 1/qps after it instead of in a burst of the
  // tokens that dripped in while they slept. Every reservation taken before
  // it is cancelled (its debt forgotten): its caller, told by pausedSince,
  // reserves again, behind the pause, so no token is lost and none leaves
  // inside it. Unlimited, nothing is counted but the pause: reserve answers
  // `until` at the earliest. An `until` before the last one shortens nothing.
  void pause(Clock::time_point until);

  // Pauses so far: read with a reservation, for pausedSince.
  [[nodiscard]] std::uint64_t pauses() const { return pauses_; }

  // Whether a pause came after the caller read pauses() == `seen`: its
  // reservation is cancelled, it must reserve again.
  [[nodiscard]] bool pausedSince(std::uint64_t seen) const { return pauses_ != seen; }

  // Whether `now` is inside a pause (a request refused then was held by the
  // server's Retry-After, not by the rate).
  [[nodiscard]] bool pausedAt(Clock::time_point now) const { return now < pausedUntil_; }

  [[nodiscard]] bool unlimited() const { return qps_ <= 0; }

 private:
  double qps_ = 0;
  double burst_ = 1;
  double tokens_ = 0;  // may go negative: tokens promised to waiting callers
  Clock::time_point last_{};
  std::uint64_t pauses_ = 0;
  Clock::time_point pausedUntil_{};
};

}  // namespace kubeai::kube
