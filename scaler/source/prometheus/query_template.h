#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/policy.h"
#include "core/result.h"

namespace kubeai::source::prometheus {

// The default queries are scoped to the policy's target (the original
// scaler's were cluster-wide, so every policy scaled on the whole cluster's
// GPUs), and select its pods by the names Kubernetes gives them, so that a
// Deployment `llama` never averages in the pods of a Deployment `llama-70b`.
//
// Kubernetes' "safe" alphabet (k8s.io/apimachinery/pkg/util/rand: no vowels,
// no 0, 1 or 3). A Deployment's pod is named
// <replicaset>-<5 characters of it> (generateName, rand.String(5)), and its
// ReplicaSet <deployment>-<pod-template-hash>, the hash being
// rand.SafeEncodeString of a 32-bit FNV hash's decimal digits: 1 to 10
// characters of the alphabet (9 or 10 nearly always).
inline constexpr std::string_view kSafeAlphabet = "bcdfghjklmnpqrstvwxz2456789";
// The pods of a Deployment whose name has at most kMaxUncutDeploymentName
// characters, as a template: the contents of a regex matcher's string.
inline constexpr std::string_view kDeploymentPodsRegex =
    "${target}-[bcdfghjklmnpqrstvwxz2456789]{1,10}-[bcdfghjklmnpqrstvwxz2456789]{5}";
// A StatefulSet's pods are <statefulset>-<ordinal>.
inline constexpr std::string_view kStatefulSetPodsRegex = "${target}-[0-9]+";
// generateName keeps a name to 63 characters by cutting its prefix
// (<replicaset>-) to 58: past 46 characters a Deployment's pods may carry a
// cut hash or none at all, and targetPods() matches those names too.
inline constexpr std::size_t kMaxUncutDeploymentName = 46;
inline constexpr std::size_t kMaxGeneratedNamePrefix = 58;

// The metrics that have a default query.
enum class DefaultMetric { kGpuUtilization, kLatency, kRequestQueueDepth };

// The default template of `metric`, selecting the pods whose names match
// `podsRegex` (a regex as template text, e.g. kDeploymentPodsRegex). Latency
// queries return seconds (Prometheus' base unit); the source reports ms.
std::string defaultMetricQuery(DefaultMetric metric, std::string_view podsRegex);

// How the default queries select a target's pods: `regex` is template text in
// which ${target} stands for `name`, the target's name, or its first
// kMaxGeneratedNamePrefix characters when Kubernetes cuts it out of the pods'
// names (a Deployment named with 58 characters or more).
struct TargetPods {
  std::string regex;
  std::string name;
};
TargetPods targetPods(const core::TargetRef& target);

// The current replicas from kube-state-metrics. max(), because two
// kube-state-metrics replicas (its HA set-up) export the same series twice;
// an empty result stays empty (no data), never 0.
inline constexpr std::string_view kDefaultDeploymentReplicasQuery =
    R"(max(kube_deployment_spec_replicas{namespace="${namespace}",deployment="${target}"}))";
inline constexpr std::string_view kDefaultStatefulSetReplicasQuery =
    R"(max(kube_statefulset_replicas{namespace="${namespace}",statefulset="${target}"}))";

// The ready replicas (status.readyReplicas) from kube-state-metrics, matched
// as the replicas are; max() for the same reason. No series is "unknown",
// never 0: kube-state-metrics older than the series, or not scraped yet.
inline constexpr std::string_view kDefaultDeploymentReadyReplicasQuery =
    R"(max(kube_deployment_status_replicas_ready{namespace="${namespace}",deployment="${target}"}))";
inline constexpr std::string_view kDefaultStatefulSetReadyReplicasQuery =
    R"(max(kube_statefulset_status_replicas_ready{namespace="${namespace}",statefulset="${target}"}))";

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
  // the target): the replicas and ready replicas queries are then never sent,
  // and cannot fail a reading.
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
  // kube-state-metrics' ready replicas of the target's kind, whatever
  // --replicas-query says; nullopt when QueryOptions::queryReplicas is false.
  std::optional<std::string> readyReplicas;
  // spec.metrics.custom[i]'s query (its own or its engine preset's), when its target is > 0.
  std::array<std::optional<std::string>, core::kMaxCustomMetrics> custom{};
};

// The queries of a policy: its own prometheusQuery when set, else the
// default (spec.metrics.engine's where it has one, else the seed's); a custom
// metric's own query or its engine preset's.
// Errors name the field ("spec.metrics.latency.prometheusQuery: unknown
// placeholder ${foo} ..."), every bad field at once; the caller adds the policy.
core::Result<PolicyQueries> policyQueries(const core::Policy& policy, const QueryOptions& options);

// Checks a --replicas-query template at start-up, with stand-in values.
core::Status checkReplicasQuery(std::string_view tmpl);

}  // namespace kubeai::source::prometheus
