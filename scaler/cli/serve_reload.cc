#include "cli/serve_reload.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <tuple>

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

// Splits a set into what is served and what is refused (serve's own
// checks). A policy object checked in the previous set is not checked again
// (the watcher hands again, shared, each policy an event did not change): an
// edit of one policy of 10,000 checks one, and hands the loop the same
// pointers (copied only when some are refused).
void applyPolicySet(const std::shared_ptr<const core::PolicyList>& policies,
                    std::vector<server::InvalidPolicy> invalid, server::EvaluationLoop& loop,
                    const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said,
                    bool denyCustomQueries) {
  if (prometheus == nullptr && !denyCustomQueries) {
    said.endRound();
    loop.setPolicies(policies, std::move(invalid));
    return;
  }
  std::vector<std::string> verdicts(policies->size());  // "" when accepted
  bool refused = false;
  std::size_t previous = 0;  // both lists are sorted by namespace/name
  for (std::size_t i = 0; i < policies->size(); ++i) {
    const core::SharedPolicy& policy = (*policies)[i];
    const auto keyOf = [](const core::Policy& p) { return std::tie(p.metadata.namespace_, p.metadata.name); };
    while (previous < said.checked.size() && said.checked[previous] != policy &&
           keyOf(*said.checked[previous]) < keyOf(*policy)) {
      ++previous;
    }
    if (previous < said.checked.size() && said.checked[previous] == policy) {
      verdicts[i] = said.verdicts[previous++];
    } else {
      const core::Status queries = serveCheck(*policy, prometheus, denyCustomQueries);
      verdicts[i] = queries.ok() ? std::string() : queries.error().message;
    }
    if (verdicts[i].empty()) {
      continue;
    }
    refused = true;
    if (said.fresh(policy->key() + ": " + verdicts[i])) {
      logEvent(LogLevel::kWarn, "policy problem", {{"policy", policy->key()}, {"error", verdicts[i]}});
    }
    invalid.push_back({policy->metadata.namespace_, policy->metadata.name, verdicts[i]});
  }
  said.endRound();
  said.checked = *policies;
  said.verdicts = verdicts;
  if (!refused) {
    loop.setPolicies(policies, std::move(invalid));
    return;
  }
  auto accepted = std::make_shared<core::PolicyList>();
  for (std::size_t i = 0; i < policies->size(); ++i) {
    if (verdicts[i].empty()) {
      accepted->push_back((*policies)[i]);
    }
  }
  loop.setPolicies(std::shared_ptr<const core::PolicyList>(std::move(accepted)), std::move(invalid));
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
  // Aliases into the directory's vector (no copy); the loop and the checks
  // above compare these by value where the pointers differ.
  auto shared = std::make_shared<core::PolicyList>();
  shared->reserve(set.policies->size());
  for (const core::Policy& policy : *set.policies) {
    shared->push_back(core::SharedPolicy(set.policies, &policy));
  }
  applyPolicySet(shared, std::move(invalid), loop, prometheus, said, denyCustomQueries);
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
