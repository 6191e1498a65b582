#pragma once

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/policy.h"
#include "kube/policy_watcher.h"
#include "plugin/plugin_loader.h"
#include "server/evaluation_loop.h"
#include "source/policy_directory.h"
#include "source/prometheus/prometheus_metric_source.h"
#include "telemetry/telemetry.h"

namespace kubeai::cli {

// Says each reload's problems once: a reload that finds what the previous one
// found (the catch-up reload at start, an edit elsewhere in the directory)
// does not log it again.
class RepeatFilter {
 public:
  // True when `line` was not said by the previous round.
  bool fresh(const std::string& line) {
    current_.insert(line);
    return previous_.count(line) == 0;
  }
  void endRound() { previous_ = std::exchange(current_, {}); }

  // What serve's own checks said of each policy of the last set ("" when
  // accepted), aligned with `checked`: a policy object handed again is not
  // checked again (applyPolicies, applyWatchedPolicies).
  core::PolicyList checked;
  std::vector<std::string> verdicts;

 private:
  std::set<std::string> previous_;
  std::set<std::string> current_;
};

// Hands the policy directory's set to the loop: served, or refused with the
// reason (the file's problems; with Prometheus, a prometheusQuery that does
// not expand, refused here once rather than failing every cycle; under
// `denyCustomQueries` (--custom-queries=deny), any prometheusQuery, whatever
// the metric source, so that a policy means the same everywhere). Each new
// problem logged once. `prometheus` is null without --prometheus-url.
void applyPolicies(const source::PolicySet& set, server::EvaluationLoop& loop,
                   const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said,
                   bool denyCustomQueries);

// The same for the Kubernetes API's set.
void applyWatchedPolicies(kube::PolicySnapshot snapshot, server::EvaluationLoop& loop,
                          const source::prometheus::PrometheusMetricSource* prometheus, RepeatFilter& said,
                          bool denyCustomQueries);

// Logs each plugin loaded or failed once and counts them in telemetry.
void reportPlugins(const std::vector<plugin::PluginLoadReport>& reports, telemetry::Telemetry& telemetry,
                   RepeatFilter& said);

}  // namespace kubeai::cli
