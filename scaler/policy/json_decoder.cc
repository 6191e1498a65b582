#include "policy/json_decoder.h"

#include <cmath>
#include <limits>
#include <set>
#include <string_view>

namespace kubeai::policy::detail {

using nlohmann::json;

std::string typeName(const json& value) {
  if (value.is_number_float()) {
    return "number";
  }
  if (value.is_number()) {
    return "integer";
  }
  return value.type_name();
}

void Decoder::error(const std::string& path, std::string message) {
  document_.errors.push_back({path, std::move(message)});
}

void Decoder::warning(const std::string& path, std::string message) {
  document_.warnings.push_back({path, std::move(message)});
}

const json* Decoder::object(const json& parent, const char* key, const std::string& path) {
  const json* value = field(parent, key);
  if (value != nullptr && !value->is_object()) {
    error(path, "must be an object, got " + typeName(*value));
    return nullptr;
  }
  return value;
}

const json* Decoder::array(const json& parent, const char* key, const std::string& path) {
  const json* value = field(parent, key);
  if (value != nullptr && !value->is_array()) {
    error(path, "must be a list, got " + typeName(*value));
    return nullptr;
  }
  return value;
}

std::optional<std::string> Decoder::string(const json& parent, const char* key, const std::string& path) {
  const json* value = field(parent, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_string()) {
    error(path, "must be a string, got " + typeName(*value));
    return std::nullopt;
  }
  return value->get<std::string>();
}

std::optional<bool> Decoder::boolean(const json& parent, const char* key, const std::string& path) {
  const json* value = field(parent, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_boolean()) {
    error(path, "must be true or false, got " + typeName(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

std::optional<double> Decoder::number(const json& value, const std::string& path) {
  if (!value.is_number()) {
    error(path, "must be a number, got " + typeName(value));
    return std::nullopt;
  }
  return value.get<double>();
}

std::optional<double> Decoder::number(const json& parent, const char* key, const std::string& path) {
  const json* value = field(parent, key);
  return value == nullptr ? std::nullopt : number(*value, path);
}

std::optional<std::int32_t> Decoder::int32(const json& parent, const char* key, const std::string& path) {
  const json* value = field(parent, key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_number()) {
    error(path, "must be an integer, got " + typeName(*value));
    return std::nullopt;
  }
  const double number = value->get<double>();
  if (value->is_number_float() && (!std::isfinite(number) || std::trunc(number) != number)) {
    error(path, "must be an integer, got " + value->dump());
    return std::nullopt;
  }
  if (number < std::numeric_limits<std::int32_t>::min() || number > std::numeric_limits<std::int32_t>::max()) {
    error(path, "must fit in a 32-bit integer, got " + value->dump());
    return std::nullopt;
  }
  return static_cast<std::int32_t>(number);
}

std::optional<std::int64_t> Decoder::int64(const json& parent, const char* key) {
  const json* value = field(parent, key);
  if (value == nullptr || !value->is_number_integer()) {
    return std::nullopt;
  }
  return value->get<std::int64_t>();
}

void Decoder::unknownFields(const json& object, const std::string& path, std::initializer_list<const char*> known) {
  const std::set<std::string_view> names(known.begin(), known.end());
  for (const auto& [key, value] : object.items()) {
    if (names.count(key) == 0) {
      warning(path.empty() ? key : path + "." + key, "unknown field, ignored");
    }
  }
}

const json* Decoder::field(const json& parent, const char* key) {
  auto found = parent.find(key);
  if (found == parent.end() || found->is_null()) {
    return nullptr;
  }
  return &*found;
}

}  // namespace kubeai::policy::detail
