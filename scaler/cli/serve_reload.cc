#include "cli/serve_reload.h"

#include <cstddef>
#include <cstdint>
#include <memory>

#include "cli/logging.h"
#include "core/custom_queries.h"

namespace kubeai::cli {
namespace {

// What serve itself refuses of a valid policy: under --custom-queries=deny a
// query of its own; with Prometheus, a prometheusQuery that does not expand
// (an unknown placeholder), refused here, once, rather than failing every cycle.
core::Status serveCheck(const core::Policy& policy, const source::prometheus::PrometheusMetricSource* prometheus,
                        bool denyCustomQueries) {
  if (denyCustomQueries) {
    if (auto own = core::checkNoOwnQueries(policy); !own.ok()) {
      return own;
    }
  }
  return prometheus != nullptr ? prometheus->check(policy) : core::Status(core::Ok{});
}

// Splits the directory's set into what is served and what is refused (serveCheck).
void applyPolicySet(const std::shared_ptr<const std::vector<core::Policy>>& policies,
                    std::vector<server::InvalidPolicy> invalid, server::EvaluationLoop& loop,
                    const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said,
                    bool denyCustomQueries) {
  if (prometheus == nullptr && !denyCustomQueries) {
    said.endRound();
    loop.setPolicies(policies, std::move(invalid));
    return;
  }
  // The set is shared with its source; copy it only when one is refused.
  std::vector<core::Policy> accepted;
  bool refused = false;
  for (std::size_t i = 0; i < policies->size(); ++i) {
    const core::Policy& policy = (*policies)[i];
    const core::Status queries = serveCheck(policy, prometheus, denyCustomQueries);
    if (queries.ok()) {
      if (refused) {
        accepted.push_back(policy);
      }
      continue;
    }
    if (!refused) {
      refused = true;
      accepted.assign(policies->begin(), policies->begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (said.fresh(policy.key() + ": " + queries.error().message)) {
      logEvent(LogLevel::kWarn, "policy problem", {{"policy", policy.key()}, {"error", queries.error().message}});
    }
    invalid.push_back({policy.metadata.namespace_, policy.metadata.name, queries.error().message});
  }
  said.endRound();
  if (refused) {
    loop.setPolicies(std::move(accepted), std::move(invalid));
  } else {
    loop.setPolicies(policies, std::move(invalid));
  }
}

}  // namespace

void applyPolicies(const source::PolicySet& set, server::EvaluationLoop& loop,
                   const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said,
                   bool denyCustomQueries) {
  std::vector<server::InvalidPolicy> invalid;
  for (const auto& problem : set.problems) {
    if (said.fresh(problem.toString())) {
      logEvent(LogLevel::kWarn, "policy problem",
               {{"file", problem.file.string()}, {"policy", problem.policy}, {"error", problem.message}});
    }
    const std::size_t slash = problem.policy.find('/');
    if (slash != std::string::npos) {
      invalid.push_back({problem.policy.substr(0, slash), problem.policy.substr(slash + 1), problem.message});
    }
  }
  applyPolicySet(set.policies, std::move(invalid), loop, prometheus, said, denyCustomQueries);
}

// The same for the Kubernetes API's set: each refused policy said once.
void applyWatchedPolicies(kube::PolicySnapshot snapshot, server::EvaluationLoop& loop,
                          const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said,
                          bool denyCustomQueries) {
  for (const auto& refused : snapshot.invalid) {
    const std::string key = refused.ns + "/" + refused.name;
    if (said.fresh(key + ": " + refused.message)) {
      logEvent(LogLevel::kWarn, "policy problem", {{"policy", key}, {"error", refused.message}});
    }
  }
  applyPolicySet(snapshot.policies, std::move(snapshot.invalid), loop, prometheus, said, denyCustomQueries);
}

void reportPlugins(const std::vector<plugin::PluginLoadReport>& reports, telemetry::Telemetry& telemetry,
                   RepeatFilter& said) {
  std::size_t loaded = 0;
  std::size_t failed = 0;
  for (const auto& report : reports) {
    if (report.waiting) {
      // A file still being copied in: said once, not counted as a failure.
      if (said.fresh(report.file.string() + "\n" + report.error)) {
        logEvent(LogLevel::kInfo, "plugin waiting", {{"file", report.file.string()}, {"reason", report.error}});
      }
      continue;
    }
    if (report.ok()) {
      ++loaded;
      // The algorithm object is new for each version loaded, so a replaced
      // file is said again.
      const std::string name(report.algorithm->name());
      if (said.fresh(report.file.string() + "\n" + name + "\n" +
                     std::to_string(reinterpret_cast<std::uintptr_t>(report.algorithm.get())))) {
        logEvent(LogLevel::kInfo, "plugin loaded", {{"file", report.file.string()}, {"algorithm", name}});
      }
    } else {
      ++failed;
      if (said.fresh(report.file.string() + "\n" + report.error)) {
        logEvent(LogLevel::kError, "plugin failed", {{"file", report.file.string()}, {"error", report.error}});
      }
    }
  }
  said.endRound();
  telemetry.setPlugins(loaded, failed);
}

}  // namespace kubeai::cli
