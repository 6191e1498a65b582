#pragma once

// The per-policy families of /metrics (telemetry.h lists them), kept as plain
// values per policy and exported at scrape time. Source-only (telemetry.cc).

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "telemetry/exposition.h"
#include "telemetry/metric_series.h"

namespace kubeai::telemetry::detail {

enum class Direction : std::size_t { kUp = 0, kDown = 1, kNone = 2 };
inline constexpr std::array<const char*, 3> kDirectionNames = {"up", "down", "none"};

inline constexpr std::array<const char*, 4> kStoreStates = {"pending", "ready", "stale", "invalid"};

// A policy's state, indexing kStoreStates; kUnknown until the first call about it.
enum class PolicyStatus : std::uint8_t { kPending = 0, kReady = 1, kStale = 2, kInvalid = 3, kUnknown = 4 };

// What /metrics shows for one policy, as plain values (about 300 bytes with
// its map node, plus about 64 per metric). prometheus-cpp's own families would
// cost about 0.5 KiB per series and, worse, Family::Remove searches the whole
// family: with 10,000 policies, deleting one took 33 ms (measured), holding
// the family locks that scrapes and recorders need.
struct PolicyValues {
  std::array<std::uint64_t, kDirectionNames.size()> decisions{};  // a direction never taken has no series
  bool decided = false;  // replicas and cooldown exist once a decision was recorded
  std::int32_t currentReplicas = 0;
  std::int32_t desiredReplicas = 0;
  bool cooldownActive = false;
  // The last decision's: ready replicas when known, Predictive's forecast
  // (kNoValue without one) and Burst's panic (-1 without one: 0 or 1).
  std::int32_t readyReplicas = -1;  // -1: unknown
  double forecastReplicas = kNoValue;
  double forecastHorizonSeconds = kNoValue;
  std::int8_t panicActive = -1;
  std::string target;
  std::vector<MetricSeries> metrics;  // the last decision's, by slot order
  double lastScaleTimeSeconds = kNoValue;
  std::vector<std::pair<std::string, std::uint64_t>> errors;  // by error_type; rarely more than one
  PolicyStatus status = PolicyStatus::kUnknown;
  bool decisionInForce = false;  // the loop serves a decision: a failed read leaves the policy ready
  std::string failure;           // type of the last failed step since the last decision: the stale reason
};

// The per-policy families, exported from PolicyValues at scrape time.
class PolicySeriesCollector final : public prometheus::Collectable {
 public:
  // Calls `update` on the policy's values (created if new) under the lock.
  template <typename Update>
  void update(std::string_view ns, std::string_view name, Update&& update) {
    std::lock_guard lock(mutex_);
    PolicyKey key{std::string(ns), std::string(name)};
    update(policies_[std::move(key)]);
  }

  void remove(std::string_view ns, std::string_view name) {
    std::lock_guard lock(mutex_);
    policies_.erase(PolicyKey{std::string(ns), std::string(name)});
  }

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  mutable std::mutex mutex_;
  std::map<PolicyKey, PolicyValues> policies_;  // ordered: a stable exposition order
};

}  // namespace kubeai::telemetry::detail
