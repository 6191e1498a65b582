#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.h"
#include "core/result.h"
#include "core/validation.h"
#include "policy/yaml_documents.h"

namespace kubeai::policy {

inline constexpr std::string_view kPolicyApiVersion = "kubeai.io/v1alpha1";
inline constexpr std::string_view kPolicyKind = "AIInferenceAutoscalerPolicy";
inline constexpr std::uintmax_t kMaxPolicyFileBytes = kMaxManifestFileBytes;

// One AIInferenceAutoscalerPolicy as read, with everything wrong with it.
struct PolicyDocument {
  std::size_t index = 0;   // position of its document in the file (0-based)
  core::Policy policy;     // as much as could be read; evaluate only when ok()
  std::vector<core::FieldError> errors;    // type errors and validation errors, each with its field path
  std::vector<core::FieldError> warnings;  // unknown fields and the like: accepted
  // metadata.labels: which shard owns the policy (validate --policy-selector).
  // Not in core::Policy: serve's shards are selected by the API server.
  std::map<std::string, std::string> labels{};
  // Labels that are not strings, by key ("" when metadata.labels is not a
  // map), with what is wrong: not in `labels`, and no error (the policy
  // loads); validate complains when its --policy-selector needs one.
  std::map<std::string, std::string> labelProblems{};
  // The object's `.status` as compact JSON when a file holds one (`kubectl
  // get -o yaml` writes it), whatever its type: evaluate seeds from it as
  // serve does after a restart (kube::parseApiStatus, seedFromApiStatus).
  // Set by parsePolicyYaml only: serve's watches keep their own copy.
  std::optional<std::string> status{};

  [[nodiscard]] bool ok() const noexcept { return errors.empty(); }
  // "namespace/name", or "document N" when the name could not be read.
  [[nodiscard]] std::string displayName() const;
};

// Everything in one file: policies in document order, other kinds skipped.
struct PolicyFile {
  std::vector<PolicyDocument> policies;
  std::vector<std::string> skipped;  // "document 2: kind ConfigMap (not a policy)"
  std::optional<core::Error> error;  // the file as a whole could not be read or parsed
};

// Decodes one policy object in the Kubernetes API's JSON form: defaults of
// DESIGN §2, then validatePolicy(). Never throws.
PolicyDocument parsePolicyJson(const nlohmann::json& object);

// JSON text (an API response body, a watch event's object).
PolicyDocument parsePolicyJsonText(std::string_view text);

// One or more YAML documents (JSON is YAML too). Documents of other kinds are
// skipped; `kind: List` and `AIInferenceAutoscalerPolicyList` are unpacked.
PolicyFile parsePolicyYaml(std::string_view text);

// Reads and parses a file; a missing, unreadable, non-regular or oversized
// (kMaxPolicyFileBytes) file sets PolicyFile::error.
PolicyFile loadPolicyFile(const std::filesystem::path& path);

}  // namespace kubeai::policy
