#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace externalscaler {
class ScaledObjectRef;
}  // namespace externalscaler

namespace kubeai::server {

// The policy a KEDA trigger points at (DESIGN §4): scalerMetadata keys
// `policyName` (default: the ScaledObject's name) and `policyNamespace`
// (default: its namespace, then "default").
struct PolicyRef {
  std::string ns;
  std::string name;

  // "kubeai-<name>": the metric GetMetricSpec announces and GetMetrics serves.
  [[nodiscard]] std::string metricName() const;
  // "ns/name", for messages.
  [[nodiscard]] std::string display() const { return ns + "/" + name; }
};

inline constexpr std::string_view kPolicyNameKey = "policyName";
inline constexpr std::string_view kPolicyNamespaceKey = "policyNamespace";
inline constexpr std::string_view kMetricNamePrefix = "kubeai-";

// The policy named by a ScaledObjectRef, or an error for INVALID_ARGUMENT that
// says what is missing or wrong, every problem at once. An empty
// `policyName`/`policyNamespace` counts as not set (KEDA passes the trigger's
// metadata through verbatim, and `policyName: ""` means "the default" to a
// reader). Echoed values are cut short and escaped (see quoteForMessage), so a
// 1 MiB value costs no more than a short one.
[[nodiscard]] core::Result<PolicyRef> policyRefFrom(const externalscaler::ScaledObjectRef& ref);

// The tenancy rule (docs/install.md, "Trust model"): a ScaledObject drives its
// workload by a policy of its own namespace only (an empty ScaledObject
// namespace is "default", as policyRefFrom reads it), since the policy decides
// the replicas of whatever the ScaledObject targets; `allowCrossNamespace`
// (serve --allow-cross-namespace-policies) lifts it. An Error for
// INVALID_ARGUMENT names both objects and the flag.
inline constexpr std::string_view kAllowCrossNamespaceFlag = "--allow-cross-namespace-policies";
[[nodiscard]] core::Status checkPolicyNamespace(const externalscaler::ScaledObjectRef& ref, const PolicyRef& policy,
                                                bool allowCrossNamespace);

// True when `requested` names the metric of `policyName`: "kubeai-<policyName>"
// compared case-insensitively (ASCII), optionally behind KEDA's trigger-index
// prefix "sN-" (s0-, s1-, s12-, ...), which KEDA normally strips itself.
[[nodiscard]] bool metricNameMatches(std::string_view requested, std::string_view policyName) noexcept;

// `value` made safe to put in a gRPC status message, which must be valid UTF-8
// and ends up in KEDA's logs: at most `maxBytes` of the input are looked at;
// invalid UTF-8 bytes and control characters become \xNN, a cut is marked with
// "…". Never longer than about 4 × maxBytes + 3.
[[nodiscard]] std::string escapeForMessage(std::string_view value, std::size_t maxBytes);

// escapeForMessage in double quotes, with backslash and quote escaped too,
// and the full length in bytes after a cut: "abc…" (1048576 bytes).
inline constexpr std::size_t kEchoedValueMaxBytes = 64;
[[nodiscard]] std::string quoteForMessage(std::string_view value, std::size_t maxBytes = kEchoedValueMaxBytes);

}  // namespace kubeai::server
