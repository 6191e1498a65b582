#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>

#include "kube/client/kube_client.h"

namespace kubeai::kube {

struct LeaderElectionOptions {
  std::string leaseName = "kubeai-scaler";
  std::string leaseNamespace;
  std::string identity;  // empty: hostname + "_" + a random suffix
  std::chrono::seconds leaseDuration{15};
  std::chrono::seconds renewInterval{10};
  // How often a candidate tries to acquire, and a failed renew is tried
  // again; 0 = the smaller of 1 s and renewInterval / 5.
  std::chrono::milliseconds retryInterval{0};
  std::chrono::milliseconds requestTimeout{5'000};
  // Problems met (the API server unreachable, the Lease refused): for the
  // log. Called on the elector's thread. May be empty.
  std::function<void(const std::string& error)> onError;
};

// hostname + "_" + 8 random hex digits: two pods never share one, and a
// restarted pod is a new candidate.
std::string defaultLeaderIdentity();

// A background thread acquiring and renewing a coordination.k8s.io/v1 Lease,
// as client-go's leaderelection does:
// - an absent Lease is created; a Lease held by another is taken over only
//   once its record (holder, renewTime, resourceVersion) has not changed for
//   leaseDurationSeconds as this process observed it, on its own steady
//   clock, whatever renewTime says: renewTime is the holder's wall clock, and
//   trusting it would let a holder whose clock runs behind be taken over
//   while it still writes (client-go does the same). A released one (no
//   holder) is taken at once. Every update carries the resourceVersion read,
//   so of two candidates one wins and the other gets 409.
// - the holder renews every renewInterval, retrying every retryInterval on
//   failure. It stops leading at once when it sees another holder or gets a
//   409, and in any case when its last successful renew is older than
//   leaseDuration less a margin (a fifth of it), before any other candidate
//   may take over: isLeader() turns false by itself then, even while a
//   request hangs, so writes stop within one renew period of losing the Lease.
// - on destruction (or stop()) a held Lease is released (no holder,
//   leaseDurationSeconds 1) so that another replica takes over at once.
class LeaderElector {
 public:
  LeaderElector(KubeClient& client, LeaderElectionOptions options, std::function<void(bool leading)> onChange = {});
  ~LeaderElector();  // stops; releases the lease if held
  LeaderElector(const LeaderElector&) = delete;
  LeaderElector& operator=(const LeaderElector&) = delete;

  void start();
  // Stops trying, releases the Lease if held; onChange(false) if it was.
  void stop();
  [[nodiscard]] bool isLeader() const noexcept;
  // How much longer leadership is certain (until the last successful renew
  // plus leaseDuration less the margin), 0 when not leading: a request sent
  // by the leader should time out within it, so that it cannot land after
  // another replica took over (StatusWriterOptions::leadershipRemaining).
  [[nodiscard]] std::chrono::milliseconds remaining() const noexcept;
  [[nodiscard]] const std::string& identity() const noexcept { return options_.identity; }

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  void run(const std::stop_token& stop);
  // One round: read the Lease, then create, take over or renew it. Returns
  // whether this process holds the Lease afterwards.
  bool tryAcquireOrRenew();
  void release();
  void setLeading(bool leading, SteadyTime validUntil = {});
  [[nodiscard]] std::string leasePath(bool item) const;
  [[nodiscard]] std::chrono::milliseconds timeoutFor(SteadyTime now) const;
  void reportError(const std::string& error);

  KubeClient& client_;
  LeaderElectionOptions options_;
  const std::function<void(bool)> onChange_;
  std::chrono::milliseconds retryInterval_;
  std::chrono::milliseconds margin_;
  std::chrono::milliseconds renewWait_;  // renewInterval, unless too long to keep the lease

  std::atomic<bool> leading_{false};
  std::atomic<SteadyTime::rep> validUntil_{0};  // steady_clock ticks; isLeader() is false from then on

  // Touched by the elector's thread only (and stop() after joining it).
  std::string lastLease_;  // the Lease as last written by us (JSON), for renewals and the release
  std::string observedRecord_;  // holder + renewTime + resourceVersion last seen
  SteadyTime observedAt_{};
  std::string lastError_;  // said once while it repeats (a candidate polls every retryInterval)

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::jthread thread_;
};

}  // namespace kubeai::kube
