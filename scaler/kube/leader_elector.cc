#include "kube/leader_elector.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <random>
#include <utility>

#include <nlohmann/json.hpp>

#include "kube/api_status.h"
#include "kube/policy_status.h"

namespace kubeai::kube {
namespace {

using nlohmann::json;

std::string describe(std::string_view method, const std::string& path, const KubeResponse& response) {
  return detail::describeFailure(method, path, response.status, response.body);
}

// GCC 12 warns falsely (-Wrestrict) on "literal" + std::string.
std::string withPrefix(std::string_view prefix, const std::string& message) {
  std::string out(prefix);
  out += message;
  return out;
}

std::string stringField(const json& object, const char* name) {
  const auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::int64_t intField(const json& object, const char* name, std::int64_t fallback) {
  const auto it = object.find(name);
  return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

}  // namespace

std::string defaultLeaderIdentity() {
  std::array<char, 256> host{};
  if (::gethostname(host.data(), host.size() - 1) != 0 || host[0] == '\0') {
    std::snprintf(host.data(), host.size(), "kubeai-scaler");
  }
  std::random_device random;
  char suffix[16];
  std::snprintf(suffix, sizeof suffix, "_%08x", static_cast<unsigned>(random()));
  std::string identity(host.data());
  identity += suffix;
  return identity;
}

LeaderElector::LeaderElector(KubeClient& client, LeaderElectionOptions options, std::function<void(bool)> onChange)
    : client_(client), options_(std::move(options)), onChange_(std::move(onChange)) {
  if (options_.identity.empty()) {
    options_.identity = defaultLeaderIdentity();
  }
  if (options_.leaseNamespace.empty()) {
    options_.leaseNamespace = "default";
  }
  const auto renew = std::chrono::duration_cast<std::chrono::milliseconds>(options_.renewInterval);
  retryInterval_ = options_.retryInterval.count() > 0
                       ? options_.retryInterval
                       : std::max(std::min(std::chrono::milliseconds(1000), renew / 5), std::chrono::milliseconds(10));
  margin_ = std::chrono::duration_cast<std::chrono::milliseconds>(options_.leaseDuration) / 5;
  // A renew interval as long as what a renewal buys would lose the lease
  // between renewals: renew at two thirds of that instead.
  const auto held = std::chrono::duration_cast<std::chrono::milliseconds>(options_.leaseDuration) - margin_;
  renewWait_ = renew < held ? renew : held * 2 / 3;
}

LeaderElector::~LeaderElector() { stop(); }

void LeaderElector::start() {
  if (!thread_.joinable()) {
    thread_ = std::jthread([this](const std::stop_token& stop) { run(stop); });
  }
}

void LeaderElector::stop() {
  if (thread_.joinable()) {
    thread_.request_stop();
    wake_.notify_all();
    thread_.join();  // run() releases the Lease on its way out
  }
}

bool LeaderElector::isLeader() const noexcept {
  return leading_.load() && std::chrono::steady_clock::now().time_since_epoch().count() < validUntil_.load();
}

std::chrono::milliseconds LeaderElector::remaining() const noexcept {
  if (!leading_.load()) {
    return std::chrono::milliseconds(0);
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      SteadyTime(SteadyTime::duration(validUntil_.load())) - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds(0));
}

void LeaderElector::reportError(const std::string& error) {
  if (options_.onError && error != lastError_) {
    options_.onError(error);
  }
  lastError_ = error;
}

std::string LeaderElector::leasePath(bool item) const {
  std::string path = "/apis/coordination.k8s.io/v1/namespaces/";
  path += options_.leaseNamespace;
  path += "/leases";
  if (item) {
    path += "/";
    path += options_.leaseName;
  }
  return path;
}

std::chrono::milliseconds LeaderElector::timeoutFor(SteadyTime now) const {
  // A holder's request must end before its lease would lapse, so that it
  // notices the loss in time; a candidate has no such hurry.
  if (!leading_.load()) {
    return options_.requestTimeout;
  }
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      SteadyTime(SteadyTime::duration(validUntil_.load())) - now);
  return std::clamp(left, std::chrono::milliseconds(100), options_.requestTimeout);
}

void LeaderElector::setLeading(bool leading, SteadyTime validUntil) {
  if (leading) {
    validUntil_.store(validUntil.time_since_epoch().count());
  }
  const bool was = leading_.exchange(leading);
  if (was != leading && onChange_) {
    onChange_(leading);
  }
}

bool LeaderElector::tryAcquireOrRenew() {
  const SteadyTime started = std::chrono::steady_clock::now();
  const core::TimePoint wallNow = std::chrono::system_clock::now();
  const std::string nowText = formatMicroTime(wallNow);
  // What this round wins is ours until then, as the other candidates reckon.
  const SteadyTime validUntil = started + options_.leaseDuration - margin_;
  const std::string item = leasePath(true);

  auto got = client_.request("GET", item, {}, {}, timeoutFor(started));
  if (!got.ok()) {
    reportError(withPrefix("leader election: ", got.error().message));
    return false;
  }
  const long status = got.value().status;
  if (status == 404) {
    const json lease{{"apiVersion", "coordination.k8s.io/v1"},
                     {"kind", "Lease"},
                     {"metadata", {{"name", options_.leaseName}, {"namespace", options_.leaseNamespace}}},
                     {"spec",
                      {{"holderIdentity", options_.identity},
                       {"leaseDurationSeconds", options_.leaseDuration.count()},
                       {"acquireTime", nowText},
                       {"renewTime", nowText},
                       {"leaseTransitions", 0}}}};
    const std::string collection = leasePath(false);
    auto created = client_.request("POST", collection, lease.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", timeoutFor(started));
    if (!created.ok()) {
      reportError(withPrefix("leader election: ", created.error().message));
      return false;
    }
    if (created.value().status / 100 != 2) {
      if (created.value().status != 409) {  // 409: another candidate created it first
        reportError(withPrefix("leader election: ", describe("POST", collection, created.value())));
      }
      return false;
    }
    lastLease_ = created.value().body;
    lastError_.clear();
    setLeading(true, validUntil);
    return true;
  }
  if (status / 100 != 2) {
    reportError(withPrefix("leader election: ", describe("GET", item, got.value())));
    return false;
  }

  json lease = json::parse(got.value().body, nullptr, false);
  if (!lease.is_object()) {
    std::string message = "leader election: GET ";
    message += item;
    message += ": the answer is not a JSON object";
    reportError(message);
    return false;
  }
  json& spec = lease["spec"];
  if (!spec.is_object()) {
    spec = json::object();
  }
  const std::string holder = stringField(spec, "holderIdentity");
  const std::string renewTime = stringField(spec, "renewTime");
  const std::int64_t durationSeconds = intField(spec, "leaseDurationSeconds", options_.leaseDuration.count());
  const std::int64_t transitions = intField(spec, "leaseTransitions", 0);
  std::string record = holder;
  record += "\n";
  record += renewTime;
  record += "\n";
  record += stringField(lease.value("metadata", json::object()), "resourceVersion");
  if (record != observedRecord_) {
    observedRecord_ = std::move(record);
    // When the answer came, not when the GET was sent (client-go's rule too):
    // a renew committed while a slow GET was in flight must count from when
    // we saw it, or the holder, whose own lease runs from its renew, could
    // still be writing when we take over.
    observedAt_ = std::chrono::steady_clock::now();
  }

  const bool ours = holder == options_.identity;
  if (!holder.empty() && !ours) {
    // Only the local observation counts (see the class comment): a renewTime
    // long past may be a live holder whose clock runs behind ours.
    // Clamped: a value from the API must not overflow the nanosecond arithmetic.
    const std::chrono::seconds duration(std::clamp<std::int64_t>(durationSeconds, 0, 365LL * 24 * 3600));
    const bool expired = std::chrono::steady_clock::now() - observedAt_ >= duration;
    if (!expired) {
      lastError_.clear();  // a round that went as it should: a later problem is news
      setLeading(false);   // another holder: stop at once, whatever we believed
      return false;
    }
  }

  spec["holderIdentity"] = options_.identity;
  spec["leaseDurationSeconds"] = options_.leaseDuration.count();
  spec["renewTime"] = nowText;
  if (!ours) {
    // A new holder (client-go counts a transition whenever the holder changes).
    spec["acquireTime"] = nowText;
    spec["leaseTransitions"] = transitions + 1;
  } else if (!spec.contains("acquireTime")) {
    spec["acquireTime"] = nowText;
  }
  // The resourceVersion read stays in metadata: of two candidates taking
  // over at once, the second gets 409.
  auto updated = client_.request("PUT", item, lease.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", timeoutFor(started));
  if (!updated.ok()) {
    reportError(withPrefix("leader election: ", updated.error().message));
    return false;
  }
  if (updated.value().status == 409) {
    setLeading(false);  // somebody else wrote it since our read: theirs
    return false;
  }
  if (updated.value().status / 100 != 2) {
    reportError(withPrefix("leader election: ", describe("PUT", item, updated.value())));
    return false;
  }
  lastLease_ = updated.value().body;
  lastError_.clear();
  setLeading(true, validUntil);
  return true;
}

void LeaderElector::release() {
  json lease = json::parse(lastLease_, nullptr, false);
  if (!lease.is_object() || !lease.contains("spec") || !lease["spec"].is_object()) {
    return;
  }
  json& spec = lease["spec"];
  if (stringField(spec, "holderIdentity") != options_.identity) {
    return;
  }
  // As client-go releases: no holder, and a one-second lease, so that a
  // candidate that still reads it as held waits no longer than that.
  spec.erase("holderIdentity");
  spec["leaseDurationSeconds"] = 1;
  spec["renewTime"] = formatMicroTime(std::chrono::system_clock::now());
  const std::string item = leasePath(true);
  auto released = client_.request("PUT", item, lease.dump(-1, ' ', false, json::error_handler_t::replace), "application/json", options_.requestTimeout);
  if (!released.ok()) {
    reportError(withPrefix("leader election: releasing the Lease: ", released.error().message));
  } else if (released.value().status / 100 != 2 && released.value().status != 409) {
    reportError(withPrefix("leader election: releasing the Lease: ", describe("PUT", item, released.value())));
  }
  lastLease_.clear();
}

void LeaderElector::run(const std::stop_token& stop) {
  while (!stop.stop_requested()) {
    const bool held = tryAcquireOrRenew();
    if (!held && leading_.load() && !isLeader()) {
      setLeading(false);  // the renew deadline passed without a successful renew
    }
    // A holder that renewed waits a renew interval; one whose renew failed
    // tries again soon, before its lease lapses; a candidate polls.
    const std::chrono::milliseconds wait =
        held ? renewWait_ : retryInterval_;
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, wait, [] { return false; });
  }
  if (leading_.load()) {
    // Writes stop first, then the Lease goes.
    setLeading(false);
    release();
  }
}

}  // namespace kubeai::kube
