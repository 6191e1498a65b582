#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "policy/policy_parser.h"

// Source-only: the typed reads policy_parser.cc makes of a manifest's JSON.
namespace kubeai::policy::detail {

// "number", "integer", or the JSON type's name, for messages.
std::string typeName(const nlohmann::json& value);

// Reads typed fields out of JSON objects, collecting every problem with its
// path instead of stopping at the first (KEDA's typed_config does the same).
// Absent and null fields are std::nullopt / nullptr, never an error.
class Decoder {
 public:
  explicit Decoder(PolicyDocument& document) : document_(document) {}

  void error(const std::string& path, std::string message);
  void warning(const std::string& path, std::string message);

  // The object at `key`, or null when absent or null; an error when not an object.
  const nlohmann::json* object(const nlohmann::json& parent, const char* key, const std::string& path);
  const nlohmann::json* array(const nlohmann::json& parent, const char* key, const std::string& path);
  std::optional<std::string> string(const nlohmann::json& parent, const char* key, const std::string& path);
  std::optional<bool> boolean(const nlohmann::json& parent, const char* key, const std::string& path);
  std::optional<double> number(const nlohmann::json& value, const std::string& path);
  std::optional<double> number(const nlohmann::json& parent, const char* key, const std::string& path);
  std::optional<std::int32_t> int32(const nlohmann::json& parent, const char* key, const std::string& path);
  std::optional<std::int64_t> int64(const nlohmann::json& parent, const char* key);

  // Warns about keys the schema does not know: Kubernetes would prune them
  // silently, which hides typos such as `minReplica`.
  void unknownFields(const nlohmann::json& object, const std::string& path, std::initializer_list<const char*> known);

 private:
  static const nlohmann::json* field(const nlohmann::json& parent, const char* key);

  PolicyDocument& document_;
};

}  // namespace kubeai::policy::detail
