#include "policy/yaml_to_json.h"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>

namespace kubeai::policy {
namespace {

// Far beyond any policy, far below what could exhaust memory or the stack
// (an alias bomb expands exponentially when turned into a tree).
constexpr std::size_t kMaxNodes = 100'000;
constexpr int kMaxDepth = 64;

bool matches(const std::string& text, const std::regex& pattern) { return std::regex_match(text, pattern); }

nlohmann::json resolvePlainScalar(const std::string& text) {
  static const std::regex kNull("~|null|Null|NULL|");
  static const std::regex kTrue("true|True|TRUE");
  static const std::regex kFalse("false|False|FALSE");
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  static const std::regex kInf(R"([-+]?\.(inf|Inf|INF))");
  static const std::regex kNan(R"(\.(nan|NaN|NAN))");

  if (matches(text, kNull)) {
    return nullptr;
  }
  if (matches(text, kTrue)) {
    return true;
  }
  if (matches(text, kFalse)) {
    return false;
  }
  if (matches(text, kInt)) {
    errno = 0;
    char* end = nullptr;
    const long long value = std::strtoll(text.c_str(), &end, 10);
    if (errno == 0 && end != nullptr && *end == '\0') {
      return static_cast<std::int64_t>(value);
    }
    return std::strtod(text.c_str(), nullptr);  // out of int64 range: keep the magnitude
  }
  if (matches(text, kFloat)) {
    return std::strtod(text.c_str(), nullptr);
  }
  if (matches(text, kInf)) {
    return text.front() == '-' ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (matches(text, kNan)) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  return text;
}

class Converter {
 public:
  core::Result<nlohmann::json> convert(const YAML::Node& node, int depth) {
    if (++nodes_ > kMaxNodes) {
      return core::Error{"document too large (more than " + std::to_string(kMaxNodes) + " nodes after aliases)"};
    }
    if (depth > kMaxDepth) {
      return core::Error{"document nested deeper than " + std::to_string(kMaxDepth) + " levels"};
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return nlohmann::json(nullptr);
      case YAML::NodeType::Scalar:
        return scalar(node);
      case YAML::NodeType::Sequence: {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& item : node) {
          auto converted = convert(item, depth + 1);
          if (!converted.ok()) {
            return converted;
          }
          array.push_back(std::move(converted).value());
        }
        return array;
      }
      case YAML::NodeType::Map: {
        nlohmann::json object = nlohmann::json::object();
        for (const auto& entry : node) {
          if (!entry.first.IsScalar()) {
            return core::Error{"line " + std::to_string(entry.first.Mark().line + 1) + ": mapping keys must be scalars"};
          }
          auto converted = convert(entry.second, depth + 1);
          if (!converted.ok()) {
            return converted;
          }
          object[entry.first.Scalar()] = std::move(converted).value();
        }
        return object;
      }
    }
    return nlohmann::json(nullptr);
  }

 private:
  static nlohmann::json scalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    // "!" marks a quoted (non-plain) scalar: always a string.
    if (tag == "!" || tag == "tag:yaml.org,2002:str") {
      return node.Scalar();
    }
    return resolvePlainScalar(node.Scalar());
  }

  std::size_t nodes_ = 0;
};

}  // namespace

core::Result<nlohmann::json> yamlToJson(const YAML::Node& node) {
  Converter converter;
  return converter.convert(node, 0);
}

}  // namespace kubeai::policy
