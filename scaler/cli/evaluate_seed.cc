#include "cli/evaluate_seed.h"

#include <chrono>
#include <cstdio>

#include "kube/client/kube_time.h"
#include "kube/policy_status.h"
#include "kube/status_seed.h"

namespace kubeai::cli {
namespace {

// `at` as the latest time yet, from `field`.
void consider(EvaluateSeed& out, const std::optional<core::TimePoint>& at, std::string field) {
  if (at && (!out.latest || *at > *out.latest)) {
    out.latest = *at;
    out.latestField = std::move(field);
  }
}

std::string seconds(std::chrono::milliseconds duration) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.15g", static_cast<double>(duration.count()) / 1000.0);
  return buffer;
}

// What the seed holds, as the note lists it.
std::string describe(const core::PublishedSeed& seed, const core::MetricsSpec& metrics) {
  std::string text = "desiredReplicas ";
  text += std::to_string(seed.desiredReplicas);
  if (seed.lastScaleTime) {
    text += ", lastScaleTime ";
    text += kube::formatTime(*seed.lastScaleTime);
  }
  if (seed.measuredStartup) {
    text += ", startupSeconds ";
    text += seconds(*seed.measuredStartup);
  }
  if (!seed.forecastModels.empty()) {
    text += ", forecast models of";
    for (const core::HoltState& model : seed.forecastModels) {
      text += " ";
      text += core::metricName(metrics, model.slot);
    }
  }
  if (seed.panicSince) {
    text += ", panic since ";
    text += kube::formatTime(*seed.panicSince);
  }
  return text;
}

}  // namespace

EvaluateSeed seedFromPolicyStatus(const policy::PolicyDocument& document, const std::string& fileName,
                                  WithoutStatus withoutStatus) {
  EvaluateSeed out;
  if (!document.status) {
    return out;
  }
  const core::Policy& policy = document.policy;
  // serve's path: the status as the watch hands it, then serve's seed rule.
  const std::optional<kube::PolicyStatus> status = kube::parseApiStatus(*document.status);
  if (const std::optional<std::string> why = kube::whyNoSeed(status, policy.metadata.generation)) {
    out.message = "warning: ";
    out.message += fileName;
    out.message += ": ";
    out.message += *why;
    out.message += "; serve would not seed from it: starting from first sight";
    return out;
  }
  out.seed = kube::seedFromApiStatus(status, policy.metadata.generation, policy.spec.metrics);
  if (!out.seed) {
    return out;  // whyNoSeed said nothing: cannot happen, but no seed is first sight
  }
  const core::PublishedSeed& seed = *out.seed;
  consider(out, seed.lastScaleTime, "status.lastScaleTime");
  for (const core::HoltState& model : seed.forecastModels) {
    std::string field = "status.forecast.models[";
    field += core::metricName(policy.spec.metrics, model.slot);
    field += "].observedAt";
    consider(out, model.at, std::move(field));
  }
  consider(out, seed.panicSince, "status.panic.since");
  consider(out, seed.panicLastOverAt, "status.panic.lastOverThreshold");
  out.message = "note: seeded from the status in ";
  out.message += fileName;
  out.message += ", as serve after a restart (";
  if (out.latest) {
    out.message += "published as of ";
    out.message += kube::formatTime(*out.latest);
    out.message += ", ";
    out.message += out.latestField;
  } else {
    out.message += "no time in it";
  }
  out.message += "): ";
  out.message += describe(seed, policy.spec.metrics);
  // The likely mistake: a `kubectl get -o yaml` file edited to see what the
  // edit would do keeps the generation its status was written for.
  if (withoutStatus == WithoutStatus::kFirstSight) {
    out.message += "; after editing the spec, pass --ignore-status or bump metadata.generation, as the API does: "
                   "serve then starts from first sight";
  } else {
    out.message += "; after editing the spec, bump metadata.generation, as the API does: serve then starts from "
                   "first sight (--ignore-status: no history)";
  }
  return out;
}

}  // namespace kubeai::cli
