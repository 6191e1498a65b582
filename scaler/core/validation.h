#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/algorithm.h"
#include "core/policy.h"
#include "core/result.h"

namespace kubeai::core {

// One problem in a policy, with the path of the field it concerns, e.g.
// {"spec.maxReplicas", "must be >= minReplicas (2)"}.
struct FieldError {
  std::string field;
  std::string message;

  [[nodiscard]] std::string toString() const { return field.empty() ? message : field + ": " + message; }
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

struct ValidationReport {
  std::vector<FieldError> errors;    // the policy must not be evaluated
  std::vector<FieldError> warnings;  // accepted, but probably not what the author meant
};

// The bounds of spec.scaleUp / spec.scaleDown. The window and the period are
// the HPA's own (autoscaling validation: MaxStabilizationWindowSeconds,
// MaxPeriodSeconds); the HPA sets no number of rate policies, we do, so that
// one policy cannot make every decision walk thousands of them.
inline constexpr std::int32_t kMaxStabilizationWindowSeconds = 3600;
inline constexpr std::int32_t kMaxPeriodSeconds = 1800;
inline constexpr std::size_t kMaxScalingPolicies = 10;

// Every semantic problem at once (not just the first), with the defaults of
// DESIGN §2 taken into account, and the warning of scaleToZeroWakeWarning().
// Never throws.
ValidationReport validatePolicy(const Policy& policy);

// A minReplicas: 0 policy wakes only through its metrics (KEDA activates the
// workload when IsActive, desired > 0, says so). A metric read from the
// target's own pods — a default query, or a prometheusQuery for which
// selectsTargetPods() holds — has no series at 0 replicas: a policy whose
// every metric in use (enabled, with a target > 0) is such can never wake.
// The warning then names those fields; nullopt when minReplicas is not 0,
// when some metric is read from outside the pods, or when none is in use
// (an error of its own).
std::optional<FieldError> scaleToZeroWakeWarning(const Policy& policy);

// The algorithm's own verdict on the policy's spec.algorithm (ABI 1.1's
// validate_parameters), as validate, evaluate and serve ask for it before the
// policy's first use: an Error reads "spec.algorithm.parameters: refused by
// NAME: <the algorithm's message>".
Status checkAlgorithmParameters(const Policy& policy, const ScalingAlgorithm& algorithm);

// Whether a PromQL template selects the target's pods: a matcher `=` or `=~`
// on the label pod (or exported_pod, pod_name) whose string holds ${target}.
// Strings and # comments elsewhere are skipped; nothing else is parsed.
bool selectsTargetPods(std::string_view query);

// Kubernetes object-name rules (RFC 1123), shared with the parsers.
bool isDns1123Subdomain(const std::string& value);
bool isDns1123Label(const std::string& value);

// An API group/version as a targetRef's apiVersion: "v1" (the core group) or
// "<group>/<version>" with a lowercase DNS-like group and a version vN,
// vNalphaM or vNbetaM. The CRD's pattern for spec.targetRef.apiVersion is the
// same rule; nothing else may be pasted into a request path.
bool isApiGroupVersion(const std::string& value);

}  // namespace kubeai::core
