#pragma once

#include <string>
#include <vector>

#include "core/policy.h"

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

// Every semantic problem at once (not just the first), with the defaults of
// DESIGN §2 taken into account. Never throws.
ValidationReport validatePolicy(const Policy& policy);

// Kubernetes object-name rules (RFC 1123), shared with the parsers.
bool isDns1123Subdomain(const std::string& value);
bool isDns1123Label(const std::string& value);

// An API group/version as a targetRef's apiVersion: "v1" (the core group) or
// "<group>/<version>" with a lowercase DNS-like group and a version vN,
// vNalphaM or vNbetaM. The CRD's pattern for spec.targetRef.apiVersion is the
// same rule; nothing else may be pasted into a request path.
bool isApiGroupVersion(const std::string& value);

}  // namespace kubeai::core
