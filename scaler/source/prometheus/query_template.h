#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/policy.h"
#include "core/result.h"

namespace kubeai::source::prometheus {

// The default queries (issue 4, docs/metrics.md), scoped to the policy's
// target: the original scaler's were cluster-wide, so every policy scaled on
// the whole cluster's GPUs.
inline constexpr std::string_view kDefaultGpuUtilizationQuery =
    R"(avg(DCGM_FI_DEV_GPU_UTIL{namespace="${namespace}",pod=~"${target}-.*"}))";
// Seconds (Prometheus' base unit); the source reports milliseconds.
inline constexpr std::string_view kDefaultLatencyQuery =
    R"(histogram_quantile(${quantile}, sum by (le) (rate(inference_request_duration_seconds_bucket{namespace="${namespace}",pod=~"${target}-.*"}[2m]))))";
inline constexpr std::string_view kDefaultRequestQueueDepthQuery =
    R"(sum(inference_request_queue_depth{namespace="${namespace}",pod=~"${target}-.*"}))";
inline constexpr std::string_view kDefaultDeploymentReplicasQuery =
    R"(kube_deployment_spec_replicas{namespace="${namespace}",deployment="${target}"})";
inline constexpr std::string_view kDefaultStatefulSetReplicasQuery =
    R"(kube_statefulset_replicas{namespace="${namespace}",statefulset="${target}"})";

// What ${quantile} becomes in the latency query for each slot.
inline constexpr std::string_view kQuantileP99 = "0.99";
inline constexpr std::string_view kQuantileP95 = "0.95";

// The values a template's placeholders take. `quantile` is empty outside the
// latency query, where ${quantile} is then an unknown placeholder.
struct TemplateValues {
  std::string_view namespace_;
  std::string_view target;
  std::string_view policy;
  std::string_view quantile;
};

// Expands ${namespace}, ${target}, ${policy} and ${quantile} in a PromQL
// template.
//
// Names are user data, so they are substituted as string contents only:
// ${namespace}, ${target} and ${policy} must sit inside a quoted PromQL string
// ("...", '...' or `...`) and are escaped for it (backslash, quote, control
// characters); inside the string of a regex matcher (=~, !~) they are
// regex-escaped first, so "my.app" matches itself and not "myXapp". ${quantile}
// is a number we produce and may sit anywhere (histogram_quantile(${quantile},
// ...) or a summary's quantile="${quantile}"). A `#` comment is copied as is.
//
// Errors: an unknown placeholder, one left unterminated, a name outside a
// string, a string left open, a value a raw `...` string cannot hold.
core::Result<std::string> expandTemplate(std::string_view tmpl, const TemplateValues& values);

// `value` as the contents of a PromQL string delimited by `quote` (", ' or `):
// Go-style escapes for the double- and single-quoted forms; a raw string
// cannot escape, so a value holding a backtick is an error.
core::Result<std::string> escapePromqlString(std::string_view value, char quote);

// RE2 metacharacters backslash-escaped, so the value matches literally.
std::string escapeRegex(std::string_view value);

struct QueryOptions {
  // --replicas-query; empty = kDefaultDeploymentReplicasQuery, or
  // kDefaultStatefulSetReplicasQuery for a StatefulSet target.
  std::string replicasQuery;
  // False when another source gives the replicas (serve --kubernetes reads
  // /scale): the replicas query is then never sent, and cannot fail a reading.
  bool queryReplicas = true;
};

// The expanded queries one policy needs this cycle. A metric is queried only
// when it is enabled and has a target greater than 0, since only then can it
// change the decision; the others are std::nullopt and never sent.
struct PolicyQueries {
  std::optional<std::string> latencyP99;
  std::optional<std::string> latencyP95;
  std::optional<std::string> gpuUtilization;
  std::optional<std::string> requestQueueDepth;
  std::optional<std::string> replicas;  // nullopt when QueryOptions::queryReplicas is false
};

// The queries of a policy: its own prometheusQuery when set, else the default.
// Errors name the field ("spec.metrics.latency.prometheusQuery: unknown
// placeholder ${foo} ..."), every bad field at once; the caller adds the policy.
core::Result<PolicyQueries> policyQueries(const core::Policy& policy, const QueryOptions& options);

// Checks a --replicas-query template at start-up, with stand-in values.
core::Status checkReplicasQuery(std::string_view tmpl);

}  // namespace kubeai::source::prometheus
