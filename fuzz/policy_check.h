// What the two policy fuzzers check of every document they get back.
#pragma once

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "core/validation.h"
#include "fuzz_check.h"
#include "policy/policy_parser.h"

namespace kubeai::fuzz {

// A document that is ok() validates, and every error and warning names
// something; a refused document still gets a display name.
inline void checkPolicyDocument(const policy::PolicyDocument& document) {
  const std::string name = document.displayName();
  KUBEAI_FUZZ_CHECK(!name.empty(), "display name");
  for (const auto& problem : document.errors) {
    KUBEAI_FUZZ_CHECK(!problem.message.empty(), problem.field);
  }
  for (const auto& problem : document.warnings) {
    KUBEAI_FUZZ_CHECK(!problem.message.empty(), problem.field);
  }
  if (document.ok()) {
    const core::ValidationReport report = core::validatePolicy(document.policy);
    KUBEAI_FUZZ_CHECK(report.errors.empty(), name + ": " + report.errors.front().toString());
    KUBEAI_FUZZ_CHECK(!document.policy.metadata.name.empty(), name);
  }
}

// True when every number is finite: JSON has no NaN or infinity, so only
// such a document can be written as JSON and read back equal.
inline bool allFinite(const nlohmann::json& value) {
  if (value.is_number_float()) {
    return std::isfinite(value.get<double>());
  }
  if (value.is_structured()) {
    for (const auto& item : value) {
      if (!allFinite(item)) {
        return false;
      }
    }
  }
  return true;
}

// True when no key of `value`, written as JSON, is longer than YAML allows
// an implicit key (1024 characters, YAML 1.2 §7.4.2): JSON is YAML but for
// such keys, which yaml-cpp refuses ("end of map flow not found").
inline bool keysFitYaml(const nlohmann::json& value) {
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (nlohmann::json(key).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).size() > 1000 ||
          !keysFitYaml(item)) {
        return false;
      }
    }
  } else if (value.is_array()) {
    for (const auto& item : value) {
      if (!keysFitYaml(item)) {
        return false;
      }
    }
  }
  return true;
}

// The JSON text of `value`, or empty when a string in it is not UTF-8 (it
// would be written changed).
inline std::string strictDump(const nlohmann::json& value) {
  try {
    return value.dump();
  } catch (const nlohmann::json::type_error&) {
    return {};
  }
}

}  // namespace kubeai::fuzz
