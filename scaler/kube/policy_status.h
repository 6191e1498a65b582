#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/decision.h"
#include "core/history.h"
#include "core/observation.h"
#include "core/policy.h"
#include "kube/client/kube_time.h"

// The status of an AIInferenceAutoscalerPolicy and the Events worth
// recording, built from what the evaluation decided: pure functions over plain
// values (no I/O, no clock: `now` comes in), so the status writer's machinery
// and these rules are tested apart.
namespace kubeai::kube {

// metav1.Condition.
struct Condition {
  std::string type;    // "Ready", "AlgorithmValid", "ScalingLimited"
  std::string status;  // "True", "False", "Unknown"
  std::string reason;  // CamelCase, stable: it is matched on by people and tools
  std::string message;
  std::string lastTransitionTime;  // RFC 3339; changes only when `status` does
  std::int64_t observedGeneration = 0;

  bool operator==(const Condition&) const = default;
};

inline constexpr std::string_view kConditionReady = "Ready";
inline constexpr std::string_view kConditionAlgorithmValid = "AlgorithmValid";
inline constexpr std::string_view kConditionScalingLimited = "ScalingLimited";
// minReplicas: 0 policies only: whether a metric can wake it from 0 replicas
// (core::scaleToZeroWakeWarning).
inline constexpr std::string_view kConditionCanWakeFromZero = "CanWakeFromZero";

// status.currentMetrics: only what was observed.
struct CurrentMetrics {
  std::optional<double> latencyP99Ms;
  std::optional<double> latencyP95Ms;
  std::optional<double> gpuUtilizationPercent;
  std::optional<double> requestQueueDepth;

  bool operator==(const CurrentMetrics&) const = default;
};

// status.metrics[]: one metric the policy uses (enabled, with a target > 0),
// seed or custom, by name and in slot order (core::MetricSlot). Unlike
// currentMetrics, which keeps the seed's four fields, it carries the target and
// the ratio, so that `kubectl get -o yaml` says why a decision was made.
struct MetricStatus {
  std::string name;              // core::metricName(): "latencyP99", "kvCache"
  std::optional<double> value;   // what was read, in `unit`; empty (null) = no data
  double target = 0.0;           // per replica for AverageValue
  std::string targetType;        // "Value", "Utilization", "AverageValue"
  std::string unit;              // "ms", "percent", "requests"; "" (left out) for a query of the user's
  std::optional<double> ratio;   // value / target as the decision used it; empty (null) = absent

  bool operator==(const MetricStatus&) const = default;
};

// status.forecast.models[]: one of Predictive's models (core::HoltState) by
// its metric's name, kept so that a restart resumes it (status_seed.h). Level
// and trend are written whole, not to two decimals: they are state, and a
// trend of a few thousandths of a replica per second is a ramp.
struct ForecastModelStatus {
  std::string metric;             // core::metricName(): "latencyP99", "kvCache"
  double level = 0.0;             // demand, in replicas' worth
  double trendPerSecond = 0.0;    // replicas' worth per second
  std::string observedAt;         // RFC 3339: the observation last folded in
  std::int32_t observations = 0;  // 1: a level, no trend yet

  bool operator==(const ForecastModelStatus&) const = default;
};

// status.forecast: what Predictive saw (core::ForecastExplanation). Numbers
// have two decimals (horizonSeconds three: milliseconds); one JSON cannot
// hold is absent (null). A hold without metrics, or Predictive's error, made
// no forecast: then every field but the models is empty (written as null, so
// absent), not a 0 or false that reads as an answer.
struct ForecastStatus {
  std::string metric;                      // the metric whose forecast is highest
  std::optional<double> horizonSeconds;
  std::string horizonSource;               // "parameter", "measured", "default"
  std::optional<double> demandReplicas;    // that metric's demand now, replicas' worth
  std::optional<double> forecastReplicas;  // and a horizon ahead
  std::optional<double> trendPerMinute;
  std::optional<std::int32_t> reactiveReplicas;         // MaxRatio's answer
  std::optional<std::int32_t> forecastDesiredReplicas;  // the forecast's answer
  std::optional<bool> decided;                          // the forecast raised the answer above MaxRatio's
  // Every metric's model after the decision, at most core::kMaxMetricSlots; a
  // merge patch replaces the list whole.
  std::vector<ForecastModelStatus> models;

  bool operator==(const ForecastStatus&) const = default;
};

// status.panic: Burst's panic mode (core::PanicExplanation).
struct PanicStatus {
  bool panicking = false;
  std::optional<std::string> since;              // RFC 3339: this panic began; absent when not panicking
  std::optional<std::string> lastOverThreshold;  // RFC 3339: last over the threshold (extends the panic)
  std::optional<double> stableReplicas;          // mean demand over the stable window
  std::optional<double> panicReplicas;           // over the panic window
  std::optional<double> panicRatio;              // panicReplicas / the replicas serving
  std::optional<double> panicThreshold;
  bool saturated = false;             // a capped percentage at 100 %: over the threshold whatever the ratio
  std::int32_t maxPanicReplicas = 0;  // the most asked for during this panic

  bool operator==(const PanicStatus&) const = default;
};

// The fields of status this server writes. An empty optional is "leave what
// the server has": the patch is a JSON merge patch, so a field left out is
// kept (after a restart, an error must not wipe the replicas last written).
struct PolicyStatus {
  std::optional<std::int32_t> currentReplicas;
  std::optional<std::int32_t> desiredReplicas;
  std::optional<std::string> lastScaleTime;  // RFC 3339
  std::optional<CurrentMetrics> currentMetrics;
  // Every metric the policy uses, at most core::kMaxMetricSlots. Sent whole
  // when set (a merge patch replaces a list); empty = left as the server has it.
  std::optional<std::vector<MetricStatus>> metrics;
  std::optional<std::string> lastAlgorithm;    // "MaxRatio", as the seed's "Viewing Active Algorithms" shows
  std::optional<std::string> lastScaleReason;  // "within tolerance"
  // The ratio the decision turned on (core::Decision::ratio: the max, mean or
  // weighted ratio, or a plugin's decided_ratio), written with two decimals as
  // the metrics are. Unlike the fields above, empty is sent as null whenever
  // the status carries a decision (lastAlgorithm set): a decision naming no
  // ratio must not leave the previous decision's in place. A status without
  // a decision (an error before the first) leaves it out.
  std::optional<double> decidedRatio;
  // Like decidedRatio, each of these four is sent as null when the status
  // carries a decision without it, and deleted with clearDecision.
  std::optional<std::int32_t> readyReplicas;  // the target's status.readyReplicas, when known
  std::optional<double> startupSeconds;       // the measured start-up time (milliseconds), when measured
  std::optional<ForecastStatus> forecast;     // a decision of Predictive's
  std::optional<PanicStatus> panic;           // a decision of Burst's
  std::int64_t observedGeneration = 0;
  // Ready, AlgorithmValid, ScalingLimited, CanWakeFromZero, SpecValid (superseded_status.h), in that
  // order when present.
  std::vector<Condition> conditions;
  // The decision fields (currentReplicas, desiredReplicas, currentMetrics,
  // metrics, lastAlgorithm, lastScaleReason, decidedRatio, readyReplicas,
  // startupSeconds, forecast, panic) left empty are sent as null, which
  // deletes them: an invalid policy is not evaluated, and `kubectl get` must
  // not show a decision no longer made. lastScaleTime stays: when the target
  // was last scaled is still true. Not compared by compareStatus(): what it
  // deletes is compared as absent.
  bool clearDecision = false;
  // status.shard: the shard whose leader wrote it (serve --shard-name, or
  // its default), so that `kubectl get -o yaml` says who decided. Set on
  // every status the writer builds; a change is significant: a policy moved
  // to another shard is rewritten by it at once.
  std::optional<std::string> shard{};

  bool operator==(const PolicyStatus&) const = default;
};

// Why a write is due, comparing what was built with what was last written.
enum class StatusChange {
  kNone,         // equal but for timestamps: no write
  kMetricsOnly,  // only the values of currentMetrics, metrics or decidedRatio moved: written at a limited rate
  kSignificant,  // replicas, algorithm, reason, generation, a condition, which metrics or ratio are
                 // present, or the names, targets or units of metrics changed: written now
};

// Timestamps are the conditions' lastTransitionTime and lastScaleTime: neither
// alone is a reason to write (a lastScaleTime change comes with a change of
// desiredReplicas, which is). Metrics and decidedRatio are compared as written
// (two decimals), so that a status read back from the API equals the one
// built. A metric or decidedRatio appearing or going away is significant; its
// value moving is kMetricsOnly (the ratio moves every cycle the metrics do).
// status.metrics likewise: an entry appearing or going away, its name, target,
// targetType or unit changing, or its value or ratio turning null or back is
// significant; values and ratios moving are kMetricsOnly. What Predictive and
// Burst saw likewise (detail::compareExplanations): readyReplicas or
// startupSeconds changing, forecast or panic appearing or going away, the
// forecast's metric, horizon, horizon source or verdict (decided) or its
// models' metrics changing, and the panic turning on or off or its start,
// threshold or maxPanicReplicas changing are significant; the numbers that
// follow the load (demand, forecast, trend, the replicas each answer asked
// for, the models' level, trend and observations, the windows' means, the
// panic ratio, saturated, lastOverThreshold) moving are kMetricsOnly.
StatusChange compareStatus(const PolicyStatus& written, const PolicyStatus& built);

// The status an object holds on the API (its `.status` as JSON text), as far
// as this server writes it: for comparing with what would be written, and for
// keeping the conditions' lastTransitionTime across restarts and leaders.
// Comes from outside, so never throws: "" or "null" is an empty status; a
// field of the wrong type (or out of range) is read as absent, a condition
// that is not an object is skipped; nullopt when the text is not JSON or not
// an object.
std::optional<PolicyStatus> parseApiStatus(std::string_view statusJson);

// `next` with each condition's lastTransitionTime taken from the condition of
// the same type in `previous` when its status is the same (metav1.Condition:
// the time changes only when the status does).
std::vector<Condition> carryTransitions(std::vector<Condition> next, const std::vector<Condition>& previous);

// metav1.Condition.message is at most 32768 bytes (the CRD's schema says so too).
inline constexpr std::size_t kMaxConditionMessageBytes = 32768;
// Core/v1 Events: a long message is cut (kubectl shows a line; plugins' errors can be long).
inline constexpr std::size_t kMaxEventMessageBytes = 1024;

// At most maxBytes, ending in "..." when cut, never splitting a UTF-8 character.
std::string truncateUtf8(std::string text, std::size_t maxBytes);


// "algorithm \"Foo\" not found; available: AverageRatio, MaxRatio, WeightedRatio; using MaxRatio"
std::string unknownAlgorithmMessage(std::string_view requested, const std::vector<std::string>& available,
                                    std::string_view used);

// status.metrics after a decision: every slot of the policy (seed four, then
// spec.metrics.custom) whose metric is enabled with a target > 0 (core::
// metricTarget), in slot order, at most core::kMaxMetricSlots, with the
// decision's value and ratio for it (core::Decision::values, ::ratios). JSON
// has no NaN or infinity: a value or ratio that is not finite at two decimals
// is absent, and a metric whose target is not is left out.
std::vector<MetricStatus> metricStatuses(const core::MetricsSpec& metrics, const core::Decision& decision);

// status.forecast after a decision of Predictive's (core::Decision::forecast,
// ::forecastModels), metrics named as in status.metrics; nullopt without one.
// Without a forecast (a hold without metrics, or Predictive's error) only its
// models, as they stood (every other field empty, written as null). The
// models are forecastModelsWritten()'s.
std::optional<ForecastStatus> forecastStatus(const core::MetricsSpec& metrics, const core::Decision& decision);

// The decision's models status.forecast writes, in order: those of a slot the
// policy still has (another names nothing), with an observation and a finite
// level and trend (one JSON cannot hold would not read back), at most
// core::kMaxMetricSlots (the CRD's maxItems: one more and the API refuses
// the whole patch). evaluate prints these too.
std::vector<const core::HoltState*> forecastModelsWritten(const core::MetricsSpec& metrics,
                                                          const core::Decision& decision);

// status.panic after a decision of Burst's (core::Decision::panic); nullopt without one.
std::optional<PanicStatus> panicStatus(const core::Decision& decision);

// The status after a decision. `previous` holds the conditions last built
// for this policy: a condition whose status did not change keeps its
// lastTransitionTime. A minReplicas: 0 policy also gets CanWakeFromZero:
// False/OnlyPodScopedMetrics with core::scaleToZeroWakeWarning()'s text, or
// True/OutsideSignal. status.metrics is metricStatuses(); readyReplicas and
// startupSeconds are the decision's when known, forecast and panic
// forecastStatus() and panicStatus().
PolicyStatus statusFromDecision(const core::Policy& policy, const core::Decision& decision,
                                const core::Observation& observation, std::optional<core::TimePoint> lastScaleTime,
                                const std::vector<std::string>& availableAlgorithms,
                                const std::vector<Condition>& previous, core::TimePoint now);

// The status after an error that leaves no decision in force. errorType is
// the evaluation's ("stale", "target_not_found", "metrics", ...); nullopt
// when the error changes nothing in status: "metrics" (a failed read keeps
// the last decision in force until "stale") and "algorithm" (the decision,
// holding replicas, carries it). Fields other than Ready are those of
// `previous` (the status last built, if any).
std::optional<PolicyStatus> statusFromError(const std::optional<PolicyStatus>& previous, std::int64_t generation,
                                            std::string_view errorType, const std::string& message,
                                            core::TimePoint now);

// The reason of a refused policy's condition: CustomQueryDenied for one serve
// --custom-queries=deny refused (core::kCustomQueryDeniedPrefix), else InvalidPolicy.
[[nodiscard]] std::string_view invalidReason(std::string_view problem) noexcept;

// The status of a policy refused by validation: Ready=False/InvalidPolicy
// (or invalidReason's), and the decision fields deleted (clearDecision).
PolicyStatus statusFromInvalid(const std::optional<PolicyStatus>& previous, std::int64_t generation,
                               const std::string& message, core::TimePoint now);

// {"status": {...}}: the body of a merge patch on /status. Metrics not
// observed are sent as null, so that the patch removes a stale value (in
// status.metrics, a value or ratio that is absent is null); so are
// decidedRatio when a decision names none, and the decision fields of a
// status with clearDecision.
std::string statusMergePatch(const PolicyStatus& status);

// --- Events ---------------------------------------------------------------

enum class EventType { kNormal, kWarning };

struct PendingEvent {
  EventType type = EventType::kNormal;
  std::string reason;  // "UnknownAlgorithm", "PluginError", "DesiredReplicasChanged"
  std::string message;

  bool operator==(const PendingEvent&) const = default;
};

// What the last decisions of one policy were, for Events once per transition.
struct EventMemory {
  bool unknownAlgorithm = false;
  bool pluginError = false;
  std::optional<std::int32_t> desiredReplicas;
};

// The Events a decision calls for, given and updating `memory`: a Warning
// UnknownAlgorithm or PluginError on the way into that state (not every
// cycle in it), a Normal DesiredReplicasChanged when the published value
// moved ("desired replicas 3 -> 5: <reason>"; none for a policy's first
// decision, which changes nothing).
std::vector<PendingEvent> eventsForDecision(EventMemory& memory, const core::Decision& decision,
                                            const std::vector<std::string>& availableAlgorithms);

namespace detail {
// Metrics as compared and written: two decimals.
double roundedToCents(double value);
// compareStatus's rule for status.metrics alone (kNone when equal as written).
StatusChange compareMetricStatuses(const std::optional<std::vector<MetricStatus>>& written,
                                   const std::optional<std::vector<MetricStatus>>& built);
// Three decimals: startupSeconds and horizonSeconds, in milliseconds.
double roundedToMillis(double value);
// compareStatus's rule for readyReplicas, startupSeconds, forecast and panic
// (kNone when equal as written).
StatusChange compareExplanations(const PolicyStatus& written, const PolicyStatus& built);
}  // namespace detail

}  // namespace kubeai::kube
