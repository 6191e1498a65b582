#include "cli/decision_output.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/builtin_algorithms.h"
#include "core/metric_target.h"
#include "kube/client/kube_time.h"
#include "kube/policy_status.h"

namespace kubeai::cli {
namespace {

std::string direction(const core::Decision& decision) {
  if (decision.desiredReplicas > decision.currentReplicas) {
    return "scale up";
  }
  if (decision.desiredReplicas < decision.currentReplicas) {
    return "scale down";
  }
  return "hold";
}

std::string formatSeconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%gs", seconds);
  return buffer;
}

nlohmann::json timeOrNull(const std::optional<core::TimePoint>& time) {
  return time ? nlohmann::json(kube::formatTime(*time)) : nlohmann::json(nullptr);
}

// Predictive without a forecast (a hold without metrics, or its error): only
// the models, as status.forecast writes them, and no field that would read as
// an answer.
nlohmann::json modelsOnlyJson(const core::Decision& decision, const core::MetricsSpec& metrics) {
  nlohmann::json models = nlohmann::json::array();
  for (const core::HoltState* model : kube::forecastModelsWritten(metrics, decision)) {
    models.push_back(nlohmann::json{{"metric", core::metricName(metrics, model->slot)},
                                    {"level", model->level},
                                    {"trendPerSecond", model->trendPerSecond},
                                    {"observedAt", kube::formatTime(model->at)},
                                    {"observations", model->observations}});
  }
  return nlohmann::json{{"models", std::move(models)}};
}

nlohmann::json forecastJson(const core::ForecastExplanation& forecast, const core::MetricsSpec& metrics) {
  return nlohmann::json{{"metric", core::metricName(metrics, forecast.slot)},
                        {"horizonSeconds", forecast.horizonSeconds},
                        {"horizonSource", core::horizonSourceName(forecast.horizonSource)},
                        {"demandReplicas", forecast.demandReplicas},
                        {"forecastReplicas", forecast.forecastReplicas},
                        {"trendPerMinute", forecast.trendPerMinute},
                        {"reactiveReplicas", forecast.reactiveReplicas},
                        {"forecastDesiredReplicas", forecast.forecastDesired},
                        {"decided", forecast.decided},
                        {"observations", forecast.observations}};
}

nlohmann::json panicJson(const core::PanicExplanation& panic) {
  return nlohmann::json{{"panicking", panic.panicking},
                        {"since", timeOrNull(panic.since)},
                        {"lastOverThreshold", timeOrNull(panic.lastOverAt)},
                        {"stableReplicas", panic.stableReplicas},
                        {"panicReplicas", panic.panicReplicas},
                        {"panicRatio", panic.panicRatio},
                        {"panicThreshold", panic.panicThreshold},
                        {"saturated", panic.saturated},
                        {"maxPanicReplicas", panic.maxPanicReplicas}};
}

// "forecast:" without a forecast: the models kept, each as status writes it.
// "(no metrics)" only when that is why: Predictive's error keeps them too.
void modelsOnlyText(std::ostream& out, const core::Decision& decision, const core::MetricsSpec& metrics) {
  out << "forecast:    none" << (decision.reason == core::kReasonNoMetrics ? " (no metrics)" : "") << "; models kept:";
  const char* separator = " ";
  for (const core::HoltState* model : kube::forecastModelsWritten(metrics, decision)) {
    out << separator << core::metricName(metrics, model->slot) << " level " << formatReplicas(model->level)
        << ", trend " << formatReplicas(model->trendPerSecond * 60.0) << "/min, " << model->observations
        << (model->observations == 1 ? " observation" : " observations");
    separator = "; ";
  }
  out << "\n";
}

// "forecast:" and "reactive:": what Predictive saw a horizon ahead, and which answer won.
void forecastText(std::ostream& out, const core::ForecastExplanation& forecast, const core::MetricsSpec& metrics,
                  std::int32_t recommendedReplicas) {
  out << "forecast:    " << core::metricName(metrics, forecast.slot) << " " << formatReplicas(forecast.demandReplicas)
      << " -> " << formatReplicas(forecast.forecastReplicas) << " replicas' worth in "
      << formatSeconds(forecast.horizonSeconds) << " (horizon: " << core::horizonSourceName(forecast.horizonSource)
      << "), trend " << formatReplicas(forecast.trendPerMinute) << "/min, " << forecast.observations
      << (forecast.observations == 1 ? " observation" : " observations") << "\n";
  out << "reactive:    " << forecast.reactiveReplicas << " (MaxRatio), forecast " << forecast.forecastDesired << ": "
      << core::forecastOutcome(forecast, recommendedReplicas) << "\n";
}

// "panic:" and "windows:": Burst's panic mode and the means it compared.
void panicText(std::ostream& out, const core::PanicExplanation& panic) {
  out << "panic:       " << (panic.panicking ? "on" : "off");
  if (panic.panicking && panic.since) {
    out << " since " << kube::formatTime(*panic.since);
  }
  out << " (ratio " << formatReplicas(panic.panicRatio) << (panic.panicRatio >= panic.panicThreshold ? " >= " : " < ")
      << "threshold " << formatReplicas(panic.panicThreshold);
  if (panic.saturated) {
    out << "; a percentage at 100 %: over it";  // the pods are full, whatever the ratio shows
  }
  out << ")";
  if (panic.panicking) {
    out << ", most asked for " << panic.maxPanicReplicas;
  }
  out << "\n";
  out << "windows:     stable " << formatReplicas(panic.stableReplicas) << ", panic "
      << formatReplicas(panic.panicReplicas) << " replicas' worth\n";
}

}  // namespace

nlohmann::json decisionToJson(const core::Decision& decision, const core::MetricsSpec& metrics) {
  nlohmann::json ratios = nlohmann::json::object();
  nlohmann::json details = nlohmann::json::array();
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  const auto orNull = [](const std::optional<double>& value) {
    return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
  };
  for (std::size_t i = 0; i < slots; ++i) {
    const auto slot = static_cast<core::MetricSlot>(i);
    const core::MetricTarget target = core::metricTarget(metrics, slot);
    if (const auto& ratio = decision.ratios[i]) {
      ratios[std::string(target.name)] = *ratio;
    }
    if (!target.enabled || !(target.target && *target.target > 0.0)) {
      continue;
    }
    details.push_back(nlohmann::json{{"name", target.name},
                                     {"value", orNull(decision.values[i])},
                                     {"unit", target.unit},
                                     {"target", *target.target},
                                     {"targetType", target.targetType},
                                     {"ratio", orNull(decision.ratios[i])}});
  }
  const std::string_view limitedBy = core::limitedByName(decision.limitedBy);
  return nlohmann::json{
      {"desiredReplicas", decision.desiredReplicas},
      {"currentReplicas", decision.currentReplicas},
      {"recommendedReplicas", decision.recommendedReplicas},
      {"algorithm", decision.algorithm},
      {"requestedAlgorithm", decision.requestedAlgorithm},
      {"algorithmValid", decision.algorithmValid},
      {"reason", decision.reason},
      {"ratios", ratios},
      {"metrics", details},
      {"ratio", decision.ratio ? nlohmann::json(*decision.ratio) : nlohmann::json(nullptr)},
      {"limitedBy", limitedBy.empty() ? nlohmann::json(nullptr) : nlohmann::json(std::string(limitedBy))},
      {"algorithmError",
       decision.algorithmError.empty() ? nlohmann::json(nullptr) : nlohmann::json(decision.algorithmError)},
      {"readyReplicas", decision.readyReplicas ? nlohmann::json(*decision.readyReplicas) : nlohmann::json(nullptr)},
      {"servingReplicas", decision.servingReplicas},
      {"forecast", decision.forecast                 ? forecastJson(*decision.forecast, metrics)
                   : hasModelsOnly(decision, metrics) ? modelsOnlyJson(decision, metrics)
                                                      : nlohmann::json(nullptr)},
      {"panic", decision.panic ? panicJson(*decision.panic) : nlohmann::json(nullptr)},
  };
}

std::string decisionToText(const std::string& policyKey, const core::Decision& decision,
                           const core::MetricsSpec& metrics) {
  std::ostringstream out;
  out << "policy:      " << policyKey << "\n";
  out << "replicas:    " << decision.currentReplicas << " -> " << decision.desiredReplicas << " ("
      << direction(decision) << ")\n";
  // Said only when known, and serving only when it is not current: per-pod
  // ratios were counted on the ready replicas (spec.startupAware).
  if (decision.readyReplicas) {
    out << "ready:       " << *decision.readyReplicas << "\n";
  }
  if (decision.servingReplicas != decision.currentReplicas) {
    out << "serving:     " << decision.servingReplicas << " (per-pod ratios on the ready replicas)\n";
  }
  out << "algorithm:   " << decision.algorithm;
  if (!decision.algorithmValid) {
    out << " (requested \"" << decision.requestedAlgorithm << "\" is not registered; fell back to "
        << decision.algorithm << ")";
  }
  out << "\n";
  out << "reason:      " << decision.reason << "\n";
  out << "ratios:     ";
  bool any = false;
  const std::size_t slots = std::min(core::slotCount(metrics), core::kMaxMetricSlots);
  for (std::size_t i = 0; i < slots; ++i) {
    if (const auto& ratio = decision.ratios[i]) {
      out << " " << core::metricName(metrics, static_cast<core::MetricSlot>(i)) << "=" << formatRatio(*ratio);
      any = true;
    }
  }
  out << (any ? "\n" : " none\n");
  if (decision.ratio) {
    out << "ratio:       " << formatRatio(*decision.ratio) << "\n";
  }
  if (decision.forecast) {
    forecastText(out, *decision.forecast, metrics, decision.recommendedReplicas);
  } else if (hasModelsOnly(decision, metrics)) {
    modelsOnlyText(out, decision, metrics);
  }
  if (decision.panic) {
    panicText(out, *decision.panic);
  }
  if (decision.recommendedReplicas != decision.desiredReplicas) {
    out << "recommended: " << decision.recommendedReplicas << "\n";
  }
  const std::string_view limitedBy = core::limitedByName(decision.limitedBy);
  out << "limited by:  " << (limitedBy.empty() ? "nothing" : limitedBy) << "\n";
  return out.str();
}

bool hasModelsOnly(const core::Decision& decision, const core::MetricsSpec& metrics) {
  return !decision.forecast && !kube::forecastModelsWritten(metrics, decision).empty();
}

std::string formatRatio(double ratio) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.3f", ratio);
  return buffer;
}

std::string formatReplicas(double replicas) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", replicas);
  return buffer;
}

}  // namespace kubeai::cli
