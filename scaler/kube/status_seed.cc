#include "kube/status_seed.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/metric_target.h"
#include "core/predictive_algorithm.h"
#include "kube/client/kube_time.h"

namespace kubeai::kube {
namespace {

// Longer than any start-up measured in practice (a week), and far inside what
// milliseconds in 64 bits hold: a larger number is not a measurement.
constexpr double kMaxStartupSeconds = 7.0 * 24 * 3600;

std::optional<std::chrono::milliseconds> startupOf(const std::optional<double>& seconds) {
  if (!seconds || !std::isfinite(*seconds) || *seconds < 0.0 || *seconds > kMaxStartupSeconds) {
    return std::nullopt;
  }
  return std::chrono::milliseconds(std::llround(*seconds * 1000.0));
}

// The policy's slot of that name (core::metricName), if it has one.
std::optional<core::MetricSlot> slotNamed(const core::MetricsSpec& metrics, std::string_view name) {
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<core::MetricSlot>(i);
    if (core::metricName(metrics, slot) == name) {
      return slot;
    }
  }
  return std::nullopt;
}

std::vector<core::HoltState> modelsOf(const ForecastStatus& forecast, const core::MetricsSpec& metrics) {
  std::vector<core::HoltState> models;
  for (const ForecastModelStatus& model : forecast.models) {
    const std::optional<core::MetricSlot> slot = slotNamed(metrics, model.metric);
    const std::optional<core::TimePoint> at = parseTime(model.observedAt);
    if (!slot || !at || model.observations < 1 || !std::isfinite(model.level) ||
        !std::isfinite(model.trendPerSecond)) {
      continue;
    }
    // One model per metric, as Predictive keeps them: the first one written.
    if (std::any_of(models.begin(), models.end(), [&](const core::HoltState& kept) { return kept.slot == *slot; })) {
      continue;
    }
    // The status is of this spec (its generation), so the model is of the
    // metric and target the spec has in that slot now: an edit after the
    // restart restarts or moves it as it would have before.
    const core::MetricTarget target = core::metricTarget(metrics, *slot);
    models.push_back(core::HoltState{.slot = *slot,
                                     .level = model.level,
                                     .trendPerSecond = model.trendPerSecond,
                                     .at = *at,
                                     .observations = model.observations,
                                     .target = target.target.value_or(0.0),
                                     .metric = core::metricIdentity(*slot, target.name, target.targetType)});
  }
  return models;
}

}  // namespace

std::optional<std::string> whyNoSeed(const std::optional<PolicyStatus>& status, std::int64_t generation) {
  if (!status) {
    return std::string("status: not an object");
  }
  if (status->observedGeneration < 1) {
    return std::string("status.observedGeneration: missing (no decision of this spec was published)");
  }
  if (status->observedGeneration != generation) {
    std::string why = "status.observedGeneration ";
    why += std::to_string(status->observedGeneration);
    why += " is not metadata.generation ";
    why += std::to_string(generation);
    why += ": it was written for another spec";
    return why;
  }
  if (!status->desiredReplicas || *status->desiredReplicas < 0) {
    return std::string("status.desiredReplicas: missing (no decision was published)");
  }
  return std::nullopt;
}

std::optional<core::PublishedSeed> seedFromApiStatus(const std::optional<PolicyStatus>& status,
                                                     std::int64_t generation, const core::MetricsSpec& metrics) {
  if (whyNoSeed(status, generation)) {
    return std::nullopt;
  }
  core::PublishedSeed seed;
  seed.desiredReplicas = *status->desiredReplicas;
  if (status->lastScaleTime) {
    seed.lastScaleTime = parseTime(*status->lastScaleTime);
  }
  seed.measuredStartup = startupOf(status->startupSeconds);
  if (status->forecast) {
    seed.forecastModels = modelsOf(*status->forecast, metrics);
  }
  if (status->panic && status->panic->panicking && status->panic->since && status->panic->lastOverThreshold) {
    const std::optional<core::TimePoint> since = parseTime(*status->panic->since);
    const std::optional<core::TimePoint> lastOver = parseTime(*status->panic->lastOverThreshold);
    if (since && lastOver) {
      seed.panicSince = since;
      seed.panicLastOverAt = lastOver;
      seed.maxPanicReplicas = std::max(status->panic->maxPanicReplicas, std::int32_t{0});
    }
  }
  return seed;
}

}  // namespace kubeai::kube
